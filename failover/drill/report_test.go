package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenReport is a fixed drill: the monthly lab plan on the fixed clock,
// a forced failover that lost 3 transactions (explained by the ledger)
// and a postcheck lag warning, so every section has content.
func goldenReport(t *testing.T) *Report {
	t.Helper()
	f := newFake()
	f.rpo = 3
	f.ledger = LedgerResult{Acknowledged: 48213, Missing: 3, ExplainedByRPO: 3,
		Samples: []string{"loan_repayment 88412 (user 40211): lost with GTID 2-2002-88412, reported in the RPO"}}
	late := f.prechecks[0]
	late.Links = []LinkLag{{From: "a", To: "b", Lag: 340e6}, {From: "b", To: "a", Lag: 7200e6}}
	f.prechecks = append(f.prechecks, late)
	r := Runner{Actions: f, Clock: f.clock, Operator: "alice (on-call)"}
	rep, err := r.Run(context.Background(), monthlyPlan(t), "monthly-2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != PassedWithConditions {
		t.Fatalf("golden report outcome %s, want passed-with-conditions: %v", rep.Outcome, rep.Reasons)
	}
	return rep
}

// failedReport is a fixed failed drill: the failover's RTO missed, its
// RPO pending, the failback errored, the postcheck found a table differing.
func failedReport(t *testing.T) *Report {
	t.Helper()
	f := newFake()
	f.restore, f.pending = 44*time.Second, "region b's binlog unreachable"
	f.switchErr = nil
	plan := monthlyPlan(t)
	plan.Steps = append(plan.Steps[:6:6], Step{Kind: KindSwitchover, Region: "a", To: "b"}, plan.Steps[6])
	bad := f.prechecks[0]
	bad.Tables = []TableChecksum{bad.Tables[0], {Table: "lending.repayments", Checksums: map[string]string{"a": "4b77a0", "b": "51c9e3"}}}
	f.prechecks = append(f.prechecks, bad)
	rep, err := (&Runner{Actions: &failbackError{f}, Clock: f.clock, Operator: "bob"}).Run(context.Background(), plan, "monthly-2026-12")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// failbackError fails the second failback (region b's).
type failbackError struct{ *fakeActions }

func (f *failbackError) Failback(ctx context.Context, region string) (FailbackResult, error) {
	if region == "b" {
		f.calls = append(f.calls, "failback b")
		f.clock.tick(3 * time.Second)
		return FailbackResult{}, errors.New("region b's MySQL did not come back: restart it, then run regionctl failback b")
	}
	return f.fakeActions.Failback(ctx, region)
}

func TestReportGolden(t *testing.T) {
	rep, failed := goldenReport(t), failedReport(t)
	if failed.Outcome != Failed {
		t.Fatalf("failed report outcome %s", failed.Outcome)
	}
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{FileJSON, func(b *bytes.Buffer) error { return rep.WriteJSON(b) }},
		{FileMarkdown, func(b *bytes.Buffer) error { return rep.WriteMarkdown(b) }},
		{FileHTML, func(b *bytes.Buffer) error { return rep.WriteHTML(b) }},
		{"failed.md", func(b *bytes.Buffer) error { return failed.WriteMarkdown(b) }},
		{"failed.html", func(b *bytes.Buffer) error { return failed.WriteHTML(b) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var got bytes.Buffer
			if err := tc.write(&got); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v: run go test ./failover/drill -update to create it", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s (run with -update if the change is intended):\n%s", tc.file, golden, firstDiff(got.String(), string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return ""
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := goldenReport(t)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.DrillID != rep.DrillID || back.Outcome != rep.Outcome || len(back.Steps) != len(rep.Steps) ||
		*back.Steps[4].Measures.RTOMS != 18400 || *back.Steps[4].Measures.DetectionMS != 6200 || back.Ledger.Acknowledged != 48213 {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := goldenReport(t).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "src=", "<link", "@import", "url(", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the HTML report contains %q: it must be self-contained", bad)
		}
	}
	for _, want := range []string{"<svg", "fault b (step 5)", "detected b", "restored b", "Passed with conditions", "18.4s", "01:00.500"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	rep := goldenReport(t)
	rep.Observations = append(rep.Observations, `<img src=x onerror=alert(1)> & "quotes"`)
	rep.Timeline[0].Action = "<b>bold</b>"
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<img") || strings.Contains(b.String(), "<b>bold") {
		t.Error("text from actions reached the HTML unescaped")
	}
}

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drills", "monthly-2026-11")
	if err := goldenReport(t).WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("folder: %v, mode %v, want 0755", err, st.Mode().Perm())
	}
	for _, name := range []string{FileJSON, FileMarkdown, FileHTML} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 || st.Size() == 0 {
			t.Errorf("%s: mode %v size %d, want 0644 and content", name, st.Mode().Perm(), st.Size())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in %s, want 3 (no temporary file left)", len(entries), dir)
	}
	if err := goldenReport(t).WriteAll(filepath.Join(dir, FileJSON, "x")); err == nil {
		t.Error("WriteAll under a file succeeded")
	}
}
