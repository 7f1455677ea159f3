package drill

import (
	"fmt"
	"html/template"
	"io"
)

// WriteHTML writes the report as one self-contained HTML page (inline
// CSS and SVG, no scripts, no external assets) that prints legibly on A4
// in black and white: statuses are words as well as colours.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := htmlTmpl.Execute(w, r); err != nil {
		return fmt.Errorf("drill report %s: write HTML: %w", r.DrillID, err)
	}
	return nil
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp": stamp, "clock": clock, "msDur": msDur, "word": statusWord, "label": stepLabel, "critical": critical,
	"rpo": rpoText, "checksums": checksumText, "dur": fmtDur, "title": Outcome.Title,
	"offset":   func(r *Report, e Event) string { return offset(r.StartedAt, e.At) },
	"chart":    func(r *Report) template.HTML { return template.HTML(timelineSVG(r)) }, // built with escaped text only
	"hasCells": hasCells, "hasChecks": hasChecks,
	"ptr": func(v int64) *int64 { return &v },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>DR drill report {{.DrillID}} - {{title .Outcome}}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; font-size: 13px; color: #111; margin: 24px; max-width: 1150px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 22px 0 6px; border-bottom: 1px solid #999; padding-bottom: 2px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
table.meta { width: auto; }
table.meta th { width: 140px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1b5e20; font-weight: bold; }
.fail { color: #b71c1c; font-weight: bold; }
.warn { color: #a45f00; font-weight: bold; }
.pending { color: #6a1b9a; font-weight: bold; }
.skipped { color: #555; font-style: italic; }
.outcome { display: inline-block; padding: 6px 12px; border: 2px solid #111; font-size: 18px; font-weight: bold; margin: 6px 0; }
.outcome.passed { background: #e8f5e9; }
.outcome.passed-with-conditions { background: #fff3e0; }
.outcome.failed { background: #ffebee; }
.chart { border: 1px solid #bbb; margin: 6px 0; }
footer { margin-top: 24px; color: #555; font-size: 11px; }
@media print {
  body { margin: 0; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  tr, .chart { break-inside: avoid; }
}
</style>
</head>
<body>
<h1>DR drill report {{.DrillID}}</h1>
<div class="outcome {{.Outcome}}">Outcome: {{title .Outcome}}</div>
<ul>{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>
<table class="meta">
<tr><th>Drill id</th><td>{{.DrillID}}</td></tr>
<tr><th>Plan</th><td>{{.Plan}}</td></tr>
{{if .Description}}<tr><th>Description</th><td>{{.Description}}</td></tr>{{end}}
<tr><th>Type</th><td>{{.Type}}</td></tr>
<tr><th>Scenario</th><td>{{.Scenario}}</td></tr>
<tr><th>Environment</th><td>{{.Environment}} (fault mode: {{.Mode}})</td></tr>
<tr><th>Operator</th><td>{{or .Operator "-"}}</td></tr>
<tr><th>Started</th><td>{{stamp .StartedAt}}</td></tr>
<tr><th>Ended</th><td>{{stamp .EndedAt}}</td></tr>
<tr><th>Duration</th><td>{{msDur (ptr .DurationMS)}}</td></tr>
</table>

<h2>Timeline chart</h2>
<div class="chart">{{chart .}}</div>

<h2>Steps</h2>
<table>
<tr><th>Step</th><th>Started</th><th>Ended</th><th>Duration</th><th>Detection</th><th>RTO</th><th>RPO (transactions)</th><th>Write-forbidden</th><th>Result</th></tr>
{{range .Steps}}{{if eq .Status "skipped"}}<tr><td>{{label .}}</td><td colspan="7">not run</td><td class="skipped">SKIPPED</td></tr>
{{else}}<tr><td>{{label .}}</td><td>{{stamp .StartedAt}}</td><td>{{stamp .EndedAt}}</td><td class="num">{{msDur (ptr .DurationMS)}}</td><td class="num">{{msDur .Measures.DetectionMS}}</td><td class="num">{{msDur .Measures.RTOMS}}</td><td class="num">{{rpo .Measures}}</td><td class="num">{{msDur .Measures.WriteForbiddenMS}}</td><td class="{{.Status}}">{{word .Status}}</td></tr>
{{if .Error}}<tr><td></td><td colspan="8" class="fail">Error: {{.Error}}</td></tr>
{{end}}{{end}}{{end}}</table>

<h2>Targets and actuals</h2>
<table>
<tr><th>Step</th><th>Criterion</th><th>Target</th><th>Actual</th><th>Weight</th><th>Result</th></tr>
{{range $s := .Steps}}{{range .Criteria}}<tr><td>{{label $s}}</td><td>{{.Name}}</td><td>{{.Target}}</td><td>{{.Actual}}</td><td>{{critical .}}</td><td class="{{.Status}}">{{word .Status}}</td></tr>
{{end}}{{end}}</table>
{{if hasCells .}}
<h2>Per cell</h2>
<table>
<tr><th>Step</th><th>Cell</th><th>From &rarr; to</th><th>RTO</th><th>Write-forbidden</th><th>RPO (transactions)</th><th>Result</th></tr>
{{range $s := .Steps}}{{range .Cells}}<tr><td>{{label $s}}</td><td>{{.Cell}}</td><td>{{.From}} &rarr; {{.To}}</td><td class="num">{{msDur .RTOMS}}</td><td class="num">{{msDur .WriteForbiddenMS}}</td><td class="num">{{.RPO}}</td><td class="{{.Status}}">{{word .Status}}</td></tr>
{{end}}{{end}}</table>
{{end}}{{if hasChecks .}}
<h2>Replication checks</h2>
<table>
<tr><th>Step</th><th>Link or table</th><th>Measured</th></tr>
{{range $s := .Steps}}{{range .Links}}<tr><td>{{label $s}}</td><td>lag {{.From}} &rarr; {{.To}}</td><td>{{dur .Lag}}</td></tr>
{{end}}{{range .Tables}}<tr><td>{{label $s}}</td><td>checksum {{.Table}}</td><td>{{if .Equal}}equal{{else}}<span class="fail">DIFFERENT</span>{{end}}: {{checksums .}}</td></tr>
{{end}}{{end}}</table>
{{end}}
<h2>Timeline</h2>
<table>
<tr><th>Time (UTC)</th><th>Since start</th><th>Action</th><th>Actor</th><th>Result</th></tr>
{{range .Timeline}}<tr><td>{{clock .At}}</td><td class="num">{{offset $ .}}</td><td>{{.Action}}</td><td>{{.Actor}}</td><td>{{.Result}}</td></tr>
{{end}}</table>

<h2>Observations</h2>
{{if .Observations}}<ul>{{range .Observations}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>None.</p>{{end}}

<h2>Ledger of acknowledged writes</h2>
{{with .Ledger}}<table>
<tr><th>Acknowledged</th><th>Missing</th><th>Explained by RPO</th><th>Unexplained</th><th>Duplicated</th><th>Result</th></tr>
<tr><td class="num">{{.Acknowledged}}</td><td class="num">{{.Missing}}</td><td class="num">{{.ExplainedByRPO}}</td><td class="num">{{.Unexplained}}</td><td class="num">{{.Duplicated}}</td><td class="{{.Status}}">{{word .Status}}</td></tr>
</table>
{{if .Error}}<p class="fail">Error: {{.Error}}</p>{{end}}{{if .Samples}}<ul>{{range .Samples}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{else}}<p>Not checked.</p>{{end}}
<footer>Drill {{.DrillID}}, plan {{.Plan}}: report generated by the region drill runner from measured data. Times are UTC. Format: docs/drills.md.</footer>
</body>
</html>
`))
