// Package regionctl is the operator CLI: it talks to every region's
// regiond API and to etcd, and runs the local lab.
package regionctl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
)

// globals are the flags every command shares.
type globals struct {
	config string
	dir    string
	json   bool
	token  string
	out    io.Writer
	errOut io.Writer
}

// New returns the regionctl command tree writing to stdout and stderr.
func New(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{out: stdout, errOut: stderr}
	root := &cobra.Command{
		Use:   "regionctl",
		Short: "Operate a multi-region active-active MySQL deployment",
		Long: `regionctl is the operator CLI of the region platform.

It finds the deployment from --config FILE (or $REGIONCTL_CONFIG), or, for a
local lab, from --dir DIR (the lab's generated config and operator token).
Add --json wherever you want machine-readable output.`,
		Example: `  # start a local two-region lab and look at it
  regionctl lab up --regions a,b --dir /tmp/lab
  regionctl status --dir /tmp/lab

  # check a production config before rolling it out
  regionctl config check deploy.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", os.Getenv(config.EnvConfig), "deployment config file (or $"+config.EnvConfig+")")
	pf.StringVar(&g.dir, "dir", "", "a local lab's folder (uses its config and operator token)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON")
	pf.StringVar(&g.token, "token-file", "", "file holding the API token (default: $REGIONCTL_TOKEN, or the lab's token with --dir)")
	root.AddCommand(newLabCmd(g), newConfigCmd(g), newStatusCmd(g), newRouteCmd(g), newSwitchCmd(g), newControllerCmd(g), newFailoverCmd(g), newFailbackCmd(g), newDrillCmd(g), newBenchCmd(g), newVerifyCmd(g), newChaosCmd(g))
	return root
}

// deployment loads the config named by --config or --dir.
func (g *globals) deployment() (*config.Config, error) {
	switch {
	case g.dir != "" && g.config != "" && os.Getenv(config.EnvConfig) != g.config:
		return nil, fmt.Errorf("--dir and --config both given: use one")
	case g.dir != "":
		return config.Load(filepath.Join(g.dir, lab.ConfigFile))
	case g.config != "":
		return config.Load(g.config)
	}
	return nil, fmt.Errorf("no deployment: pass --config FILE (or set $%s), or --dir DIR for a lab", config.EnvConfig)
}

// apiToken finds the operator's API token.
func (g *globals) apiToken() (string, error) {
	switch {
	case g.token != "":
		b, err := os.ReadFile(g.token)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return string(trimSpace(b)), nil
	case os.Getenv("REGIONCTL_TOKEN") != "":
		return os.Getenv("REGIONCTL_TOKEN"), nil
	case g.dir != "":
		return lab.ReadToken(g.dir)
	}
	return "", fmt.Errorf("no API token: set $REGIONCTL_TOKEN or pass --token-file FILE")
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// printJSON writes v as indented JSON.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress is where human progress lines go: stderr, so stdout stays clean for --json.
func (g *globals) progress() io.Writer { return g.errOut }
