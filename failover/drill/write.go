package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files WriteAll writes.
const (
	FileJSON     = "report.json"
	FileMarkdown = "report.md"
	FileHTML     = "report.html"
)

// WriteJSON writes the report as indented JSON (durations in ms, times
// in RFC 3339 UTC): the machine-readable record.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("drill report %s: write JSON: %w", r.DrillID, err)
	}
	return nil
}

// WriteAll writes report.json, report.md and report.html into dir
// (created 0755 if missing; files 0644, each replaced atomically).
func (r *Report) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("drill report: create folder: %w: check the path and its permissions", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{FileJSON, r.WriteJSON}, {FileMarkdown, r.WriteMarkdown}, {FileHTML, r.WriteHTML}} {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, f.name), buf.Bytes()); err != nil {
			return fmt.Errorf("drill report: %w", err)
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Formatting shared by the Markdown and HTML writers.

const stampLayout = "2006-01-02 15:04:05.000 UTC"

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(stampLayout)
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// offset is t - start as "+mm:ss.mmm" (hours added when needed), exact
// to the millisecond for the timeline.
func offset(start, t time.Time) string {
	d := t.Sub(start).Round(time.Millisecond)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	sec, milli := int(d%time.Minute/time.Second), int(d%time.Second/time.Millisecond)
	if h > 0 {
		return fmt.Sprintf("%s%d:%02d:%02d.%03d", sign, h, m, sec, milli)
	}
	return fmt.Sprintf("%s%02d:%02d.%03d", sign, m, sec, milli)
}

func msDur(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmtDur(time.Duration(*p) * time.Millisecond)
}

func count(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// statusWord is how a status prints: words, not only colours, so a
// black-and-white print still reads.
func statusWord(s string) string {
	switch s {
	case StatusPass:
		return "PASS"
	case StatusFail:
		return "FAIL"
	case StatusWarn:
		return "WARN"
	case StatusPending:
		return "PENDING"
	case StatusSkipped:
		return "SKIPPED"
	}
	return strings.ToUpper(s)
}

func critical(c CriterionResult) string {
	if c.Critical {
		return "critical"
	}
	return "non-critical"
}

func stepLabel(s StepReport) string { return fmt.Sprintf("%d. %s", s.Index+1, stepName(s)) }

func rpoText(m Measures) string {
	switch {
	case m.RPOPending:
		return "pending"
	case m.RPO == nil:
		return "-"
	case m.LostGTIDs != "":
		return fmt.Sprintf("%d (%s)", *m.RPO, m.LostGTIDs)
	}
	return fmt.Sprint(*m.RPO)
}

func checksumText(t TableChecksum) string {
	var parts []string
	for _, reg := range sortedKeys(t.Checksums) {
		parts = append(parts, reg+"="+t.Checksums[reg])
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
