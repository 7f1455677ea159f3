package regionctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/failover/drill/live"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/drilllab"
)

func newDrillCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Run a DR drill plan and keep its audit report",
		Long: `drill runs the monthly DR drill: a plan (YAML, see docs/drills.md) of
pre-checks, a planned switchover, a forced failover, failbacks and
post-checks, carried out through the failover controller, measured and
judged, with a report (JSON, Markdown, HTML) for the auditors.`,
		Example: `  regionctl drill run --plan deploy/drills/monthly.yaml --dir /tmp/lab
  regionctl drill history --dir /tmp/lab
  regionctl drill schedule --plan deploy/drills/monthly-production.yaml --cron "0 3 1 * *" --config deploy.yaml`,
	}
	cmd.AddCommand(newDrillRunCmd(g), newDrillHistoryCmd(g), newDrillScheduleCmd(g))
	return cmd
}

func newDrillRunCmd(g *globals) *cobra.Command {
	var planFile, reportDir, operator, id string
	cmd := &cobra.Command{
		Use:   "run --plan FILE [--report DIR] [--operator NAME] [--id ID]",
		Short: "Run a drill plan step by step and write its report",
		Long: `run loads the plan (every problem is printed with its fix), then runs its
steps in order through regiond's API:

  precheck, postcheck  lag of every replication link; with checksums: true,
                       every replicated table compared in every region as
                       regionctl verify does
                       (the drill's load paused and replication drained first)
  switchover           a planned failover (POST /v1/failovers, kind planned)
  failover             target.mode kill (lab only): the region's MySQL, broker,
                       app and regiond are killed, the controller's detection is
                       awaited (30s at most), then the failover is forced;
                       target.mode fence: the forced failover fences the region
  failback             a killed region is started again first; then
                       POST /v1/failbacks moves its cells home
  wait                 waits

In a lab (--dir) the drill writes ledger moves for users of its own, 50 a
second, through the gateway of a region the plan does not fail over, for
its whole length: that client-side ledger is checked at the end against
every region (missing, duplicated, explained by the reported RPO). Outside
a lab there is no ledger: the drill passes at best with conditions,
and the report says to check your application's ledger for its window.

The drill is recorded in the controller (regionctl drill history). The
report goes to --report DIR (default ./drills/ID): report.json,
report.md and report.html. Ctrl-C cancels: after a fault, failback and
post-check steps still run to restore service.

Exit status: 0 passed, 3 passed with conditions (the summary says which),
1 failed or the drill could not run, 2 a wrong command line.`,
		Example: `  regionctl drill run --plan deploy/drills/monthly.yaml --dir /tmp/lab
  regionctl drill run --plan deploy/drills/monthly-production.yaml --config deploy.yaml --operator alice --report /srv/drills/2026-11
  regionctl drill run --plan my-plan.yaml --dir /tmp/lab --json > report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if planFile == "" {
				return usagef("--plan: missing: name the drill plan, e.g. --plan deploy/drills/monthly.yaml")
			}
			plan, err := drill.LoadPlan(planFile)
			if err != nil {
				return fmt.Errorf("%s: %w", planFile, err)
			}
			if plan.Target.Mode == drill.ModeKill && g.dir == "" {
				return usagef("plan %s kills a region's processes (target.mode: kill), which only a lab allows: pass --dir LAB, or use target.mode: fence", plan.Name)
			}
			if operator == "" {
				operator = os.Getenv("USER")
			}
			if operator == "" {
				return usagef("--operator: missing and $USER is empty: say who runs the drill (it goes into the report)")
			}
			if id == "" {
				id = plan.Name + "-" + strings.ToLower(time.Now().UTC().Format("20060102T150405"))
			}
			if reportDir == "" {
				reportDir = filepath.Join("drills", id)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			rep, err := g.runDrill(ctx, plan, id, reportDir, operator)
			if err != nil {
				return err
			}
			if g.json {
				if err := rep.WriteJSON(g.out); err != nil {
					return err
				}
			} else {
				printDrill(g, rep, reportDir)
			}
			switch rep.Outcome {
			case drill.Passed:
				return nil
			case drill.PassedWithConditions:
				return outcome(fmt.Errorf("drill %s passed with conditions", id), ExitConditions)
			}
			return outcome(fmt.Errorf("drill %s failed", id), ExitFailed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&planFile, "plan", "", "the drill plan (YAML, docs/drills.md)")
	f.StringVar(&reportDir, "report", "", "folder for report.json, report.md and report.html (default ./drills/ID)")
	f.StringVar(&operator, "operator", "", "who runs the drill, for the report (default $USER)")
	f.StringVar(&id, "id", "", "the drill's id (default PLAN-YYYYMMDDTHHMMSS, UTC)")
	return cmd
}

// runDrill runs plan against the deployment (a lab with --dir), writes
// its report into reportDir and records it in the controller.
func (g *globals) runDrill(ctx context.Context, plan *drill.Plan, id, reportDir, operator string) (*drill.Report, error) {
	var st *lab.State
	var bin lab.Binaries
	var err error
	if g.dir != "" {
		if st, err = lab.LoadState(g.dir); err != nil {
			return nil, fmt.Errorf("--dir %s: %w", g.dir, err)
		}
		if plan.Target.Mode == drill.ModeKill {
			if bin, err = lab.FindBinaries(); err != nil {
				return nil, fmt.Errorf("a kill-mode drill starts the region again: %w", err)
			}
		}
	}
	cfg, err := g.deployment()
	if err != nil {
		return nil, err
	}
	c, err := g.client(cfg)
	if err != nil {
		return nil, err
	}
	var inLab live.Lab
	if st != nil {
		inLab = drilllab.New(st, bin)
	}
	rep, err := live.Run(ctx, live.Options{Config: cfg, Client: c, Lab: inLab, Progress: g.progress()},
		drill.Job{Plan: plan, ID: id, ReportDir: reportDir, Operator: operator})
	if err != nil {
		return nil, err
	}
	if err := live.Record(ctx, cfg, c, rep, reportDir); err != nil {
		fmt.Fprintf(g.progress(), "drill %s: WARNING: not recorded in the controller's drill history: %v\n", id, err)
	}
	return rep, nil
}

// printDrill prints the outcome, each step and where the report is.
func printDrill(g *globals, rep *drill.Report, dir string) {
	fmt.Fprintf(g.out, "drill %s (plan %s): %s in %s\n", rep.DrillID, rep.Plan, strings.ToUpper(rep.Outcome.Title()),
		(time.Duration(rep.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
	for _, s := range rep.Steps {
		line := fmt.Sprintf("  %d. %-10s %-7s", s.Index+1, s.Kind, strings.ToUpper(s.Status))
		var crit []string
		for _, c := range s.Criteria {
			crit = append(crit, fmt.Sprintf("%s %s (%s)", c.Name, c.Actual, c.Status))
		}
		if len(crit) > 0 {
			line += " " + strings.Join(crit, ", ")
		}
		if s.Error != "" {
			line += " error: " + s.Error
		}
		fmt.Fprintln(g.out, line)
	}
	if l := rep.Ledger; l != nil {
		if l.Error != "" {
			fmt.Fprintf(g.out, "  ledger     %-7s %s\n", strings.ToUpper(l.Status), l.Error)
		} else {
			fmt.Fprintf(g.out, "  ledger     %-7s %d acknowledged, %d missing (%d explained by RPO), %d duplicated\n",
				strings.ToUpper(l.Status), l.Acknowledged, l.Missing, l.ExplainedByRPO, l.Duplicated)
		}
	}
	for _, r := range rep.Reasons {
		fmt.Fprintf(g.out, "  - %s\n", r)
	}
	fmt.Fprintf(g.out, "report: %s (report.html, report.md, report.json)\n", dir)
}

func newDrillHistoryCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "history [--report DIR]",
		Short: "List the drills the controller recorded, and the drill schedules",
		Long: `history lists, newest first, every drill the failover controller recorded
(drill run records each one; the controller's leader runs scheduled ones):
id, plan, outcome, start, length, who ran it and where its report is; then
the schedules. A drill still running says so; one whose leader was lost
while it ran is recorded as failed (interrupted).

With --report DIR it reads DIR/*/report.json instead (every folder drill
run wrote), without asking the controller.`,
		Example: `  regionctl drill history --dir /tmp/lab
  regionctl drill history --config deploy.yaml --json
  regionctl drill history --report /srv/drills`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir != "" {
				return printReportFolders(g, dir)
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				v, err := c.Drills(cmd.Context())
				if err != nil {
					return fmt.Errorf("drill history: %w", err)
				}
				if g.json {
					return g.printJSON(v)
				}
				printDrillsView(g.out, *v)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&dir, "report", "", "read the reports under this folder (one folder per drill) instead of the controller")
	return cmd
}

// printDrillsView prints the controller's drills and schedules.
func printDrillsView(out io.Writer, v api.DrillsView) {
	if len(v.Drills) == 0 {
		fmt.Fprintln(out, "no drill recorded yet (regionctl drill run, or a schedule, records them)")
	} else {
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPLAN\tOUTCOME\tSTARTED\tDURATION\tBY\tREPORT")
		for _, r := range v.Drills {
			took := "-"
			if !r.EndedAt.IsZero() {
				took = r.EndedAt.Sub(r.StartedAt).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Plan, r.Outcome, r.StartedAt.Format("2006-01-02 15:04:05Z"), took, r.Actor, r.Report)
		}
		tw.Flush()
		for _, r := range v.Drills {
			if r.Outcome == controller.DrillFailed && r.Summary != "" {
				fmt.Fprintf(out, "  %s: %s\n", r.ID, r.Summary)
			}
		}
	}
	if len(v.Schedules) == 0 {
		fmt.Fprintln(out, "\nno drill schedule (regionctl drill schedule --plan FILE --cron EXPR)")
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tCRON (UTC)\tENABLED\tLAST RUN\tLAST DRILL\tBY")
	for _, sc := range v.Schedules {
		last := "never"
		if !sc.LastRun.IsZero() {
			last = sc.LastRun.Format("2006-01-02 15:04Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", sc.Plan, sc.Cron, sc.Enabled, last, sc.LastDrill, sc.By)
	}
	tw.Flush()
}

// printReportFolders lists the reports under dir.
func printReportFolders(g *globals, dir string) error {
	reps, err := readReports(dir)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(reps)
	}
	if len(reps) == 0 {
		fmt.Fprintf(g.out, "no drill reports under %s (drill run writes them to ./drills/ID by default)\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPLAN\tOUTCOME\tSTARTED\tDURATION\tOPERATOR\tREPORT")
	for _, r := range reps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Plan, r.Outcome, r.StartedAt.Format("2006-01-02 15:04:05Z"),
			(time.Duration(r.DurationMS) * time.Millisecond).Round(time.Second), r.Operator, r.Folder)
	}
	return tw.Flush()
}

func newDrillScheduleCmd(g *globals) *cobra.Command {
	var planFile, cron, remove string
	var disable bool
	cmd := &cobra.Command{
		Use:   "schedule --plan FILE --cron EXPR [--disable] | --remove PLAN",
		Short: "Have the controller's leader run a drill plan on a schedule",
		Long: `schedule stores a drill plan and its cron schedule in the failover
controller. The controller's leader runs the plan when a slot is due, once
per slot even when the leader changes (slots missed while no leader ran
collapse into one run), writes the report under its data_dir/drills/ID and
records the outcome (regionctl drill history).

--cron defaults to the plan's own schedule field. Cron has five fields in UTC: minute hour day-of-month month day-of-week,
each "*", N, N-M or a list, with an optional /STEP. "0 3 1 * *" is 03:00
on the first of every month.

Only plans with target.mode: fence can be scheduled: a kill-mode plan kills
processes and is run by hand in a lab. Scheduling the same plan name
again replaces its schedule and plan; --disable keeps it without running;
--remove PLAN deletes the schedule (its drills stay in the history).`,
		Example: `  regionctl drill schedule --plan deploy/drills/monthly-production.yaml --cron "0 3 1 * *" --config deploy.yaml
  regionctl drill schedule --remove monthly-production --config deploy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (planFile == "") == (remove == "") {
				return usagef("--plan FILE (with --cron) or --remove PLAN: name exactly one")
			}
			var req api.ScheduleRequest
			var name string
			if planFile != "" {
				b, err := os.ReadFile(planFile)
				if err != nil {
					return fmt.Errorf("--plan: %w", err)
				}
				plan, err := drill.ParsePlan(b)
				if err != nil {
					return fmt.Errorf("%s: %w", planFile, err)
				}
				if cron == "" {
					cron = plan.Schedule
				}
				if cron == "" {
					return usagef("--cron: missing and plan %s has no schedule: say when, e.g. --cron \"0 3 1 * *\" (03:00 UTC on the 1st of every month)", plan.Name)
				}
				req, name = api.ScheduleRequest{PlanYAML: string(b), Cron: cron, Disabled: disable}, plan.Name
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				var out map[string]string
				var err error
				if remove != "" {
					out, err = c.UnscheduleDrill(cmd.Context(), remove)
				} else {
					out, err = c.ScheduleDrill(cmd.Context(), req)
				}
				switch {
				case err != nil:
					return fmt.Errorf("drill schedule: %w", err)
				case g.json:
					return g.printJSON(out)
				case remove != "":
					fmt.Fprintf(g.out, "schedule of %s removed (its drills stay in drill history)\n", remove)
				default:
					fmt.Fprintf(g.out, "plan %s scheduled: %q (UTC), enabled %v; the controller's leader runs it when due\n", name, cron, !disable)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&planFile, "plan", "", "the drill plan (YAML, target.mode: fence)")
	f.StringVar(&cron, "cron", "", "when to run it: five cron fields in UTC, e.g. \"0 3 1 * *\" (default: the plan's schedule)")
	f.BoolVar(&disable, "disable", false, "keep the schedule but do not run it")
	f.StringVar(&remove, "remove", "", "delete the schedule of this plan name")
	return cmd
}

// DrillEntry is one drill in `drill history`.
type DrillEntry struct {
	ID         string    `json:"id"`
	Plan       string    `json:"plan"`
	Outcome    string    `json:"outcome"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Operator   string    `json:"operator"`
	Folder     string    `json:"folder"`
}

// readReports reads the report.json of every folder under dir.
func readReports(dir string) ([]DrillEntry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "report.json"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("--report %s: %w: name the folder drill run wrote into", dir, err)
	}
	out := []DrillEntry{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r drill.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s is not a drill report: %w", p, err)
		}
		out = append(out, DrillEntry{ID: r.DrillID, Plan: r.Plan, Outcome: string(r.Outcome), StartedAt: r.StartedAt,
			DurationMS: r.DurationMS, Operator: r.Operator, Folder: filepath.Dir(p)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out, nil
}
