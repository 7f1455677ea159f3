// Package regionctl is the operator CLI: it talks to every region's
// regiond API and to etcd, and runs the local lab.
package regionctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/client"
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
Add --json wherever you want machine-readable output.

Output: results go to stdout, progress to stderr. When a command does not
exit 0, its last line on stderr says why ("regionctl: ..."), with a
"hint:" line when there is a next step to suggest. With --json, stdout
holds exactly one JSON document: the command's result or report (a
failed switch, an unhealthy status, a drill report, ...), or, when the
command has none to give, an error object:
  {"error": "what went wrong", "hint": "what to do next", "exit_code": 1}
("hint" is left out when there is none).

Exit status, the same for every command:
  0  done, and every check the command ran passed
  1  failed: the command could not do its job (a server did not answer, a
     file is bad, the API refused), or what it ran or checked failed (a
     switch or failover that did not complete, an unhealthy status, a
     config with problems, a failed drill, a broken chaos invariant)
  2  usage: the command line is wrong (unknown command or flag, a bad
     value, a missing flag or argument); nothing was done
  3  findings: the command ran to the end and its report lists what a
     person must follow up (verify: rows still differ; drill run: passed
     with conditions)`,
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
	root.AddCommand(newLabCmd(g), newConfigCmd(g), newStatusCmd(g), newRouteCmd(g), newSwitchCmd(g), newGlobalCmd(g), newControllerCmd(g), newFailoverCmd(g), newFailbackCmd(g), newDrillCmd(g), newBenchCmd(g), newVerifyCmd(g), newChaosCmd(g), newLinkCmd(g), newRegionCmd(g), newSeedCmd(g), newPreflightCmd(g), newKafkaCmd(g))
	classifyUsage(root)
	return root
}

// deployment loads the config named by --config or --dir.
func (g *globals) deployment() (*config.Config, error) {
	switch {
	case g.dir != "" && g.config != "" && os.Getenv(config.EnvConfig) != g.config:
		return nil, usagef("--dir and --config both given: use one")
	case g.dir != "":
		cfg, err := config.Load(filepath.Join(g.dir, lab.ConfigFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, withHint(fmt.Errorf("--dir %s: no lab there: %w", g.dir, err),
				fmt.Sprintf("start one with 'regionctl lab up --dir %s', or name the folder of an existing lab", g.dir))
		}
		return cfg, err
	case g.config != "":
		return config.Load(g.config)
	}
	return nil, usagef("no deployment: pass --config FILE (or set $%s), or --dir DIR for a lab", config.EnvConfig)
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
	return "", usagef("no API token: set $REGIONCTL_TOKEN or pass --token-file FILE")
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
	enc.SetEscapeHTML(false) // 'a->b', not 'a-\u003eb'
	return enc.Encode(v)
}

// progress is where human progress lines go: stderr, so stdout stays clean for --json.
func (g *globals) progress() io.Writer { return g.errOut }

// Exit statuses, the same for every command (regionctl --help says what
// each means to an operator).
const (
	// ExitOK: done, and every check the command ran passed.
	ExitOK = 0
	// ExitFailed: the command could not do its job, or what it ran or
	// checked failed (an incomplete switch or failover, an unhealthy
	// status, a config with problems, a failed drill).
	ExitFailed = 1
	// ExitUsage: the command line is wrong; nothing was done.
	ExitUsage = 2
	// ExitFindings: the command ran to the end and its report lists what
	// a person must follow up.
	ExitFindings = 3

	// ExitDiffers is verify's status when tables still differ (or a
	// table could not be compared) at the end: findings.
	ExitDiffers = ExitFindings
	// ExitConditions is drill run's status for a drill that passed with
	// conditions (the report's reasons say which to follow up): findings.
	ExitConditions = ExitFindings
)

// cmdError is an error a command returns with what Main needs to show
// it: the exit status, a hint, and whether stdout already holds the
// command's report of it.
type cmdError struct {
	err  error
	code int
	// hint says what to do next ("" none).
	hint string
	// shown: the command printed its result, which says what failed
	// (with --json, its one JSON document): no error object follows it.
	shown bool
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// usagef is an error in the command line, found before anything was done.
func usagef(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// usageError marks err, a check of the command line that failed before
// anything was done, as a usage error.
func usageError(err error) error { return &cmdError{err: err, code: ExitUsage} }

// reported is a failure the command has printed its result for (a
// failed switch, an unhealthy status): exit status 1, no error object.
func reported(err error) error { return &cmdError{err: err, code: ExitFailed, shown: true} }

// outcome is a result the command has printed that asks for exit status
// code (drill run, verify).
func outcome(err error, code int) error { return &cmdError{err: err, code: code, shown: true} }

// withHint adds what to do next to err.
func withHint(err error, hint string) error {
	var ce *cmdError
	if errors.As(err, &ce) {
		c := *ce
		c.err, c.hint = err, hint
		return &c
	}
	return &cmdError{err: err, code: ExitFailed, hint: hint}
}

// ExitStatus is the process exit status for err returned by a command:
// ExitOK for nil, the status the command asked for, else ExitFailed.
func ExitStatus(err error) int {
	var ce *cmdError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		return ce.code
	}
	return ExitFailed
}

// ErrorJSON is what a failed command prints on stdout with --json when it
// has no result of its own to print.
type ErrorJSON struct {
	// Error says what went wrong: the line printed on stderr.
	Error string `json:"error"`
	// Hint says what to do next; omitted when there is nothing to add.
	Hint string `json:"hint,omitempty"`
	// ExitCode is the process's exit status.
	ExitCode int `json:"exit_code"`
}

// Main runs regionctl with args (without the program name) and returns
// the exit status. A failure ends with "regionctl: ERROR" (and a "hint:"
// line) on stderr and, with --json, an ErrorJSON on stdout unless the
// command printed its own result.
func Main(args []string, stdout, stderr io.Writer) int {
	root := New(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	code := ExitStatus(err)
	hint := ""
	var ce *cmdError
	var ae *client.Error // an API error carries the server's hint
	switch {
	case errors.As(err, &ce) && ce.hint != "":
		hint = ce.hint
	case errors.As(err, &ae):
		hint = ae.Hint
	case code == ExitUsage && cmd != nil:
		hint = fmt.Sprintf("see the flags and examples in '%s --help'", cmd.CommandPath())
	}
	msg := err.Error()
	fmt.Fprintln(stderr, "regionctl:", msg)
	if hint != "" && !strings.Contains(msg, hint) {
		fmt.Fprintln(stderr, "hint:", hint)
	}
	if jsonRequested(root, args) && (ce == nil || !ce.shown) {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(ErrorJSON{Error: msg, Hint: hint, ExitCode: code})
	}
	return code
}

// jsonRequested reports whether the command line asked for --json, also
// when it could not be parsed.
func jsonRequested(root *cobra.Command, args []string) bool {
	if v, err := root.PersistentFlags().GetBool("json"); err == nil && v {
		return true
	}
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--json":
			return true
		case strings.HasPrefix(a, "--json="):
			v, err := strconv.ParseBool(strings.TrimPrefix(a, "--json="))
			return err == nil && v
		}
	}
	return false
}

// classifyUsage makes every command-line error cobra finds an ExitUsage
// error: bad flags and values, wrong argument counts, missing required
// flags. A command that only groups others prints its help when called
// alone and refuses an unknown subcommand.
func classifyUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageError(err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageError(err)
		}
		return nil
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

// unknownSubcommand refuses any argument of a command that only groups
// others, suggesting the subcommand meant.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", strings.Join(s, " or "))
	}
	return errors.New(msg)
}
