package regionctl

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Work with deployment config files",
		Example: `  regionctl config check deploy.yaml`,
	}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a deployment config and print every problem, or ok",
		Long: `check reads FILE strictly (unknown fields are errors), applies defaults and
validates everything at once. Each problem names the field and the fix.
The exit status is 1 when there is a problem (regionctl --help: exit status).`,
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
				return reported(fmt.Errorf("%d problem(s) in %s", len(ps), args[0]))
			default:
				return err
			}
		},
	}
	cmd.AddCommand(check)
	return cmd
}
