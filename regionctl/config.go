package regionctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Work with deployment config files",
		Example: `  regionctl config check deploy.yaml`,
	}
	var schema bool
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a deployment config and print every problem, or ok",
		Long: `check reads FILE strictly (unknown fields are errors), applies defaults and
validates everything at once. Each problem names the field and the fix.
The exit status is 1 when there is a problem (regionctl --help: exit status).

With --schema it also connects to every region's MySQL and checks the
replicated tables themselves: a table without a primary key replicates
(its rows are matched by every column) only under conflict: overwrite,
and regiond refuses to start on one that has another policy.`,
		Example: `  regionctl config check deploy.yaml
  regionctl config check deploy.yaml --json
  regionctl config check deploy.yaml --schema`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			var ps config.Problems
			if err == nil && schema {
				for _, r := range cfg.Regions {
					problems, err := tableProblems(cmd.Context(), cfg, r.Name)
					if err != nil {
						return fmt.Errorf("region %s: %w", r.Name, err)
					}
					for _, p := range problems {
						ps = append(ps, config.Problem{Path: "region " + r.Name, Msg: p})
					}
				}
				if len(ps) > 0 {
					err = ps
				}
			}
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
	check.Flags().BoolVar(&schema, "schema", false, "also check the replicated tables in every region's MySQL")
	cmd.AddCommand(check)
	return cmd
}

// tableProblems checks region's replicated tables (apply.CheckTables).
func tableProblems(ctx context.Context, cfg *config.Config, region string) ([]string, error) {
	db, err := dial.MySQL(cfg, region)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return apply.CheckTables(ctx, db, cfg.Replication)
}
