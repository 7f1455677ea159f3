package drill

// Job is one drill to run: a plan, the drill's id and where its
// report goes, for a runner that carries it out (package live).
type Job struct {
	Plan *Plan
	// ID is the drill's id; ReportDir where its report goes.
	ID, ReportDir string
	// Operator is who the report names (an operator, or "scheduler").
	Operator string
	// Token is the API token the runner calls regiond with.
	Token string
}
