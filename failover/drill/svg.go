package drill

import (
	"fmt"
	"html"
	"sort"
	"strings"
	"time"
)

// svg.go draws the report's timeline chart: one lane per step, a bar
// from its start to its end coloured (and labelled) by its result, the
// fault, detection and restore instants of every failover as vertical
// markers, and a time axis in UTC with offsets from the start.

const (
	svgWidth  = 1100
	svgLabelW = 190 // lane labels on the left
	svgRightW = 30
	svgAxisH  = 44 // tick labels above the lanes
	svgLaneH  = 30
	svgMarkH  = 18 // one row of marker labels below the lanes
)

var statusFill = map[string]string{
	StatusPass: "#2e7d32", StatusFail: "#c62828", StatusWarn: "#e08600", StatusPending: "#6a1b9a", StatusSkipped: "#ffffff",
}

type marker struct {
	at     time.Time
	label  string
	colour string
}

func timelineSVG(r *Report) string {
	start, end := r.StartedAt, r.EndedAt
	total := end.Sub(start)
	if total <= 0 {
		total = time.Second
	}
	plotW := float64(svgWidth - svgLabelW - svgRightW)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(start)) / float64(total)
		return float64(svgLabelW) + min(max(f, 0), 1)*plotW
	}
	var markers []marker
	for _, s := range r.Steps {
		m := s.Measures
		if s.Kind != KindFailover {
			continue
		}
		if !m.FaultAt.IsZero() {
			markers = append(markers, marker{m.FaultAt, fmt.Sprintf("fault %s (step %d)", s.Region, s.Index+1), "#c62828"})
		}
		if !m.DetectedAt.IsZero() {
			markers = append(markers, marker{m.DetectedAt, fmt.Sprintf("detected %s", s.Region), "#e08600"})
		}
		if !m.RestoredAt.IsZero() {
			markers = append(markers, marker{m.RestoredAt, fmt.Sprintf("restored %s", s.Region), "#1565c0"})
		}
	}
	lanesH := len(r.Steps) * svgLaneH
	height := svgAxisH + lanesH + 12 + len(markers)*svgMarkH + 34
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="Timeline of drill %s" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		svgWidth, height, html.EscapeString(r.DrillID))
	p(`<title>Timeline of drill %s: one lane per step, bars from start to end</title>`+"\n", html.EscapeString(r.DrillID))
	p(`<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)

	// Time axis: ticks with clock time and offset.
	tick := niceTick(total)
	for t := time.Duration(0); t <= total; t += tick {
		tx := x(start.Add(t))
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d0d0d0" stroke-width="1"/>`+"\n", tx, svgAxisH-6, tx, svgAxisH+lanesH)
		p(`<text x="%.1f" y="14" text-anchor="middle" fill="#333">%s</text>`+"\n", tx, start.Add(t).UTC().Format("15:04:05"))
		p(`<text x="%.1f" y="30" text-anchor="middle" fill="#666">+%s</text>`+"\n", tx, fmtDur(t))
	}
	p(`<text x="8" y="14" fill="#333" font-weight="bold">UTC</text>` + "\n")
	p(`<text x="8" y="30" fill="#666">since start</text>` + "\n")

	// Lanes.
	for i, s := range r.Steps {
		y := svgAxisH + i*svgLaneH
		if i%2 == 1 {
			p(`<rect x="0" y="%d" width="%d" height="%d" fill="#f5f5f5"/>`+"\n", y, svgWidth, svgLaneH)
		}
		p(`<text x="8" y="%d" fill="#111">%s</text>`+"\n", y+19, html.EscapeString(stepLabel(s)))
		word := statusWord(s.Status)
		if s.Status == StatusSkipped {
			p(`<text x="%d" y="%d" fill="#555" font-style="italic">skipped</text>`+"\n", svgLabelW+4, y+19)
			continue
		}
		x0, x1 := x(s.StartedAt), x(s.EndedAt)
		w := max(x1-x0, 3)
		p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s" stroke="#111" stroke-width="0.6"><title>%s: %s, %s</title></rect>`+"\n",
			x0, y+6, w, svgLaneH-12, statusFill[s.Status], html.EscapeString(stepLabel(s)), word, fmtDur(s.EndedAt.Sub(s.StartedAt)))
		label := fmt.Sprintf("%s %s", word, fmtDur(s.EndedAt.Sub(s.StartedAt)))
		if lx := x1 + 6; lx+90 < svgWidth {
			p(`<text x="%.1f" y="%d" fill="#111" font-weight="bold">%s</text>`+"\n", lx, y+19, label)
		} else {
			p(`<text x="%.1f" y="%d" fill="#111" font-weight="bold" text-anchor="end">%s</text>`+"\n", x0-6, y+19, label)
		}
	}
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#111"/>`+"\n", svgLabelW, svgAxisH+lanesH, svgWidth-svgRightW, svgAxisH+lanesH)

	// Markers: a dashed line through the lanes down to its label, on its
	// own row; the latest on the first row, so that no line crosses a
	// label (labels run rightwards from their line).
	sort.SliceStable(markers, func(i, j int) bool { return markers[i].at.After(markers[j].at) })
	for i, m := range markers {
		mx := x(m.at)
		ly := svgAxisH + lanesH + 12 + (i+1)*svgMarkH - 4
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.6" stroke-dasharray="5,3"/>`+"\n", mx, svgAxisH-4, mx, ly-10, m.colour)
		anchor, lx := "start", mx+4
		if mx > svgWidth-260 {
			anchor, lx = "end", mx-4
		}
		p(`<text x="%.1f" y="%d" fill="%s" text-anchor="%s" font-weight="bold">▲ %s %s</text>`+"\n", lx, ly, m.colour, anchor, html.EscapeString(m.label), m.at.UTC().Format("15:04:05.000"))
	}

	// Legend.
	ly := height - 12
	lx := 8
	for _, st := range []string{StatusPass, StatusWarn, StatusPending, StatusFail, StatusSkipped} {
		p(`<rect x="%d" y="%d" width="14" height="10" fill="%s" stroke="#111" stroke-width="0.6"/>`, lx, ly-9, statusFill[st])
		p(`<text x="%d" y="%d" fill="#333">%s</text>`+"\n", lx+18, ly, statusWord(st))
		lx += 100
	}
	p(`<text x="%d" y="%d" fill="#333">dashed lines: fault (red), detection (orange), service restored (blue)</text>`+"\n", lx+10, ly)
	p("</svg>")
	return b.String()
}

// niceTick picks an axis step giving at most ~10 ticks.
func niceTick(total time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute} {
		if total/s <= 10 {
			return s
		}
	}
	return time.Hour
}
