// Package live carries out drill plans (package drill) against a running
// deployment: through the API of its regionds, and in a lab also by
// killing and starting processes and by running a client load whose
// history is the drill's ledger. `regionctl drill run` and regiond's
// scheduled drills both run drills through it.
package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/failover/drill"
)

// Options say where a drill runs.
type Options struct {
	Config *config.Config
	// Client calls the regiond APIs with the operator's token.
	Client *client.Client
	// Lab is the lab the deployment is (nil outside one).
	Lab Lab
	// Progress receives the drill's progress lines (nil: discarded).
	Progress io.Writer
}

// Run runs run.Plan and writes the report into run.ReportDir.
func Run(ctx context.Context, o Options, run drill.Job) (*drill.Report, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	acts, err := newActions(ctx, o.Config, o.Client, run.Plan, run.ID, o.Lab, progress)
	if err != nil {
		return nil, err
	}
	defer acts.close()
	fmt.Fprintf(progress, "drill %s: plan %s, %d steps, operator %s\n", run.ID, run.Plan.Name, len(run.Plan.Steps), run.Operator)
	ru := drill.Runner{Actions: acts, Operator: run.Operator,
		Logger: slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	rep, err := ru.Run(ctx, run.Plan, run.ID)
	if err != nil {
		return nil, err
	}
	if err := rep.WriteAll(run.ReportDir); err != nil {
		return nil, fmt.Errorf("write the report to %s: %w", run.ReportDir, err)
	}
	return rep, nil
}

// Record puts rep's outcome into the controller's drill history.
func Record(ctx context.Context, cfg *config.Config, c *client.Client, rep *drill.Report, reportDir string) error {
	c, err := client.Dial(ctx, cfg, c.Token, c.HTTP)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(reportDir); err == nil {
		reportDir = abs
	}
	return c.RecordDrill(ctx, api.DrillRecordRequest{ID: rep.DrillID, Plan: rep.Plan, Scenario: rep.Scenario,
		Outcome: string(rep.Outcome), StartedAt: rep.StartedAt, EndedAt: rep.EndedAt, Report: reportDir, Summary: strings.Join(rep.Reasons, "; ")})
}

// Runner is the drill runner regiond's controller leader uses for
// scheduled drills: the same runner as `regionctl drill run` outside a
// lab (fence mode, no client load of its own), calling the deployment's
// regionds with the run's token.
type Runner struct {
	Config *config.Config
	// Progress receives the runner's progress lines (default: discarded).
	Progress io.Writer
}

// RunDrill runs job as RunDrill of regiond's DrillRunner: cmd/regiond
// hands a Runner to the daemon.
func (r Runner) RunDrill(ctx context.Context, run drill.Job) (*drill.Report, error) {
	if run.Plan.Target.Mode == drill.ModeKill {
		return nil, fmt.Errorf("plan %s kills processes (target.mode: kill): only an operator in a lab runs it", run.Plan.Name)
	}
	hc, err := client.NewHTTP(r.Config, client.Timeout, nil)
	if err != nil {
		return nil, err
	}
	return Run(ctx, Options{Config: r.Config, Client: &client.Client{Token: run.Token, HTTP: hc}, Progress: r.Progress}, run)
}
