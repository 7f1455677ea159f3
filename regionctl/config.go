package regionctl

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with deployment config files"}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a deployment config and print every problem, or ok",
		Long: `check reads FILE strictly (unknown fields are errors), applies defaults and
validates everything at once. Each problem names the field and the fix.
The exit status is 1 when there is a problem.`,
		Example: `  regionctl config check deploy.yaml
  regionctl config check deploy.yaml --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := config.Load(args[0])
			var ps config.Problems
			switch {
			case err == nil:
				if g.json {
					return g.printJSON(map[string]any{"file": args[0], "ok": true, "problems": []any{}})
				}
				fmt.Fprintln(g.out, "ok")
				return nil
			case errors.As(err, &ps):
				if g.json {
					type p struct {
						Field string `json:"field"`
						Msg   string `json:"message"`
					}
					out := make([]p, len(ps))
					for i, x := range ps {
						out[i] = p{x.Path, x.Msg}
					}
					_ = g.printJSON(map[string]any{"file": args[0], "ok": false, "problems": out})
				} else {
					for _, x := range ps {
						fmt.Fprintf(g.out, "%s: %s\n", args[0], x)
					}
				}
				return errSilent{fmt.Errorf("%d problem(s) in %s", len(ps), args[0])}
			default:
				return err
			}
		},
	}
	cmd.AddCommand(check)
	return cmd
}

// errSilent is an error already shown to the user; main only sets the exit status.
type errSilent struct{ error }

// Silent reports whether err was already printed.
func Silent(err error) bool { return errors.As(err, new(errSilent)) || errors.As(err, new(errExit)) }

// errExit is an outcome already shown to the user that asks main for a
// particular exit status (drill run: 2 for passed with conditions).
type errExit struct {
	error
	code int
}

// ExitStatus is the process exit status for err returned by a command:
// 0 for nil, the command's own status when it set one, else 1.
func ExitStatus(err error) int {
	var e errExit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.code
	}
	return 1
}
