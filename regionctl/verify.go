package regionctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

// VerifyReport is what regionctl verify --json prints.
type VerifyReport struct {
	// Compare is the first comparison.
	Compare *verify.Result `json:"compare"`
	// Repair and After are set with --repair: what was written, and the
	// comparison after it.
	Repair *verify.RepairResult `json:"repair,omitempty"`
	After  *verify.Result       `json:"after,omitempty"`
	// Equal: every table is identical in every region at the end.
	Equal bool `json:"equal"`
}

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		tables []string
		repair bool
		from   string
		show   int
		vc     = verify.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "verify [--tables db.t,...] [--repair [--from owner|REGION]]",
		Short: "Compare tables across regions chunk by chunk and repair rows that drifted",
		Long: `verify compares tables in every region in primary-key chunks: a checksum per
chunk in SQL on every region, then, for a chunk that differs, its rows, diffed
by primary key (missing, extra, different columns). It works while
replication runs: a differing chunk is checked again a few times
(--rechecks, --recheck-delay) so that replication lag drains before anything
is reported. Without --tables it compares every replicated table (the
config's replication.databases, less replication.exclude).

Without --repair nothing is written. With --repair, each differing row is
made identical everywhere: by default the row's owner wins (the region of
the cell its bucket maps to in the live routing table, from the table's
shard_column); --from REGION makes that region's copy win for every row.
Repairs are written directly in each diverged region, each with a record in
_region.verify_repairs in the same transaction, which capture never
publishes: no echo. Every change is printed, then the tables are compared
again.

Exit status: 0 identical, 3 differences remain (or a table could not be
compared), 1 verify could not run, 2 a wrong command line.`,
		Example: `  # compare every replicated table of a lab, then repair what differs
  regionctl verify --dir /tmp/lab
  regionctl verify --dir /tmp/lab --repair

  # two tables, region a's copy wins, machine-readable
  regionctl verify --config deploy.yaml --tables lending.users,lending.loan_accounts --repair --from a --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			if show < 0 {
				return usagef("--show %d: must be 0 or more", show)
			}
			if repair && from != "owner" {
				if _, ok := cfg.Region(from); !ok {
					return usagef("--from %s: not a region of the deployment: give owner or one of %s", from, strings.Join(cfg.RegionNames(), ", "))
				}
			}
			if !repair && cmd.Flags().Changed("from") {
				return usagef("--from without --repair: add --repair to write, or drop --from")
			}
			return g.verify(cmd.Context(), cfg, vc, tables, repair, from, show)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&tables, "tables", nil, "tables to compare, db.table (default: every replicated table)")
	f.BoolVar(&repair, "repair", false, "write the authoritative image of every differing row where it differs")
	f.StringVar(&from, "from", "owner", "whose copy wins with --repair: owner (the row's owning region) or a region name")
	f.IntVar(&vc.ChunkSize, "chunk-size", vc.ChunkSize, "rows per checksum chunk")
	f.IntVar(&vc.Rechecks, "rechecks", vc.Rechecks, "times a differing chunk is checked again before it is reported")
	f.DurationVar(&vc.RecheckDelay, "recheck-delay", vc.RecheckDelay, "wait between re-checks (lets replication lag drain)")
	f.IntVar(&vc.MaxDiffs, "max-diffs", vc.MaxDiffs, "row differences kept (and repaired) per run")
	f.IntVar(&show, "show", 50, "row differences printed (text output)")
	return cmd
}

func (g *globals) verify(ctx context.Context, cfg *config.Config, vc verify.Config, tables []string, repair bool, from string, show int) error {
	var regions []verify.Region
	for _, r := range cfg.Regions {
		db, err := dial.MySQL(cfg, r.Name)
		if err != nil {
			return err
		}
		defer db.Close()
		regions = append(regions, verify.Region{Name: r.Name, DB: db})
	}
	if len(tables) == 0 {
		var err error
		if tables, err = verify.ReplicatedTables(ctx, regions, cfg.Replication); err != nil {
			return err
		}
		if len(tables) == 0 {
			return fmt.Errorf("no region holds a replicated table: check replication.databases, or name tables with --tables")
		}
	}
	vc.Log = slog.New(slog.NewTextHandler(g.progress(), nil))
	// The authority is settled before anything is compared: a repair
	// that cannot find the owners should not start.
	var auth verify.Authority
	if repair {
		var err error
		if auth, err = g.authority(ctx, cfg, from); err != nil {
			return err
		}
	}
	rep := VerifyReport{}
	var err error
	if rep.Compare, err = verify.Compare(ctx, vc, regions, tables); err != nil {
		return err
	}
	final := rep.Compare
	if !g.json {
		printVerify(g.out, rep.Compare, show)
	}
	if repair && !rep.Compare.Equal() {
		if rep.Repair, err = verify.Repair(ctx, regions, rep.Compare, auth); err != nil {
			return err
		}
		if !g.json {
			printRepair(g.out, rep.Repair)
		}
		if rep.After, err = verify.Compare(ctx, vc, regions, tables); err != nil {
			return err
		}
		final = rep.After
		if !g.json {
			fmt.Fprintln(g.out, "\nafter repair:")
			printVerify(g.out, rep.After, show)
		}
	}
	rep.Equal = final.Equal()
	if g.json {
		if err := g.printJSON(rep); err != nil {
			return err
		}
	}
	if !rep.Equal {
		return outcome(fmt.Errorf("tables differ across regions"), ExitDiffers)
	}
	return nil
}

// authority is whose copy wins a repair: the owner in the live routing
// table (asked of any regiond), or a named region.
func (g *globals) authority(ctx context.Context, cfg *config.Config, from string) (verify.Authority, error) {
	if from != "owner" {
		return verify.FromRegion(from), nil
	}
	var a *api.RoutesAnswer
	err := g.call(ctx, func(c *client.Client) (err error) {
		a, err = c.Routes(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the routing table to find each row's owner: %w (or repair with --from REGION)", err)
	}
	if a.Table == nil {
		return nil, fmt.Errorf("the deployment has no routing table yet: repair with --from REGION")
	}
	t := a.Table
	return verify.FromOwner(cfg.Replication.Tables, t.Buckets, func(b topo.Bucket) string { return t.Owner(b).Region }), nil
}

func printVerify(w io.Writer, r *verify.Result, show int) {
	others := slices.Clone(r.Regions[1:])
	fmt.Fprintf(w, "compared %s (reference) with %s in %s\n", r.Reference, strings.Join(others, ", "), time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tCHUNKS\tROWS\tDIFFERING ROWS\tRE-CHECKED CHUNKS")
	var failed []string
	for _, t := range r.Tables {
		if t.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\n", t.Table)
			failed = append(failed, fmt.Sprintf("  %s not compared: %s", t.Table, t.Error))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", t.Table, t.Chunks, t.Rows, t.DifferingRows, t.RecheckedChunks)
	}
	tw.Flush()
	for _, f := range failed {
		fmt.Fprintln(w, f)
	}
	if r.DiffsTotal == 0 {
		if r.Equal() {
			fmt.Fprintln(w, "identical in every region")
		}
		return
	}
	fmt.Fprintf(w, "%d row difference(s):\n", r.DiffsTotal)
	for i, d := range r.Diffs {
		if i == show {
			break
		}
		fmt.Fprintf(w, "  %s\n", d.Describe(r.Reference))
	}
	if n := min(show, len(r.Diffs)); n < r.DiffsTotal {
		fmt.Fprintf(w, "  (%d of %d shown: --show, --max-diffs or --json for more)\n", n, r.DiffsTotal)
	}
}

func printRepair(w io.Writer, r *verify.RepairResult) {
	fmt.Fprintf(w, "\nrepair: %d row(s) written, %d left alone\n", len(r.Changes), len(r.Skipped))
	for _, c := range r.Changes {
		var what string
		switch c.Action {
		case verify.Insert:
			what = c.After.String()
		case verify.Delete:
			what = "was " + c.Before.String()
		default:
			var sets []string
			for _, col := range c.Columns {
				sets = append(sets, fmt.Sprintf("%s=%s (was %s)", col, verify.FormatValue(c.After[col]), verify.FormatValue(c.Before[col])))
			}
			what = "set " + strings.Join(sets, ", ")
		}
		fmt.Fprintf(w, "  %s: %s %s %s: %s [%s]\n", c.Region, c.Action, c.Table, c.Key, what, c.Reason)
	}
	for _, s := range r.Skipped {
		where := ""
		if s.Region != "" {
			where = " in " + s.Region
		}
		fmt.Fprintf(w, "  left alone %s %s%s: %s\n", s.Table, s.Key, where, s.Reason)
	}
}
