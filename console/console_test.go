package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// EnvScreenshots, when set, names a folder that also gets the test's
// screenshots of the console (docs/console.png is console-operator.png).
const EnvScreenshots = "REGION_CONSOLE_SCREENSHOTS"

// TestConsole drives the console of a real two-region lab in headless
// Chromium: an operator logs in, sees regions, lag and the bucket map,
// moves buckets 0-63 from a1 to b1 with a preview and a confirm, and
// watches the switch finish, then moves the home of global table
// lending.products to b; a viewer sees the same page with the switch
// controls disabled, and the API refuses the viewer's switch. A job's
// write of a user b owns, straight into a's MySQL, shows as an ownership
// violation on link a → b.
func TestConsole(t *testing.T) {
	chrome := chromium(t)
	st := labtest.UpWith(t, lab.Options{VerifyEvery: 10 * time.Second}, "a", "b")
	base := st.Regions[0].APIURL()
	op, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	viewer := readFile(t, filepath.Join(st.Dir, lab.ViewerTokenFile))

	t.Run("api", func(t *testing.T) { testAPI(t, base, op, viewer) })
	violate(t, st)

	ctx := browser(t, chrome)
	t.Run("operator", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(base+"/console"))
		logIn(t, ctx, op, "lab-operator (operator)")
		// Both regions healthy, with a link each way.
		wait(t, ctx, "both regions healthy and both links shown", `
			document.querySelectorAll('#regions .badge.ok').length >= 2 &&
			[...document.querySelectorAll('#regions tbody tr')].filter(r => r.textContent.includes('healthy') && !r.textContent.includes('unhealthy')).length === 2 &&
			document.querySelector('#links').textContent.includes('a → b') &&
			document.querySelector('#links').textContent.includes('b → a')`)
		wait(t, ctx, "link a → b shows the job's ownership violation", `
			[...document.querySelectorAll('#links tbody tr')].some(r => r.textContent.startsWith('a → b') &&
				r.querySelector('.badge.bad') !== null && r.querySelector('.badge.bad').textContent === '1')`)
		// Reads by level: an eventual read through a's gateway shows.
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/products/none", st.Regions[0].GatewayPort), nil)
		req.Header.Set("X-Consistency", "eventual")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.Header.Get("X-Region-Read") != "local" {
			t.Fatalf("an eventual read through a's gateway: %v %v", err, resp)
		}
		resp.Body.Close()
		wait(t, ctx, "the reads panel counts a's eventual read", `
			document.querySelector('#reads tr[data-region="a"] td[data-level="eventual"]') !== null &&
			!document.querySelector('#reads tr[data-region="a"] td[data-level="eventual"]').textContent.startsWith('0 /')`)
		// Continuous verification's last pass: the regions are identical.
		wait(t, ctx, "the verification panel shows an identical pass", `
			document.querySelector('#verification .badge.ok') !== null &&
			document.querySelector('#verification').textContent.includes('identical')`)
		// The bucket map: every bucket, coloured by its owner.
		wait(t, ctx, "the bucket map shows all 1024 buckets with their cell", `
			document.querySelectorAll('#map .bucket').length === 1024 &&
			document.querySelectorAll('#map .bucket[data-cell="a1"]').length === 512 &&
			document.querySelectorAll('#map .bucket[data-cell="b1"]').length === 512`)
		if !t.Run("switch", func(t *testing.T) { testSwitch(t, ctx) }) || !t.Run("global", func(t *testing.T) { testGlobalMove(t, ctx) }) {
			screenshot(t, ctx, "console-operator-failed.png")
			return
		}
		screenshot(t, ctx, "console-operator.png")
		do(t, ctx, chromedp.Click(chromedp.ID("logout")))
		wait(t, ctx, "the login form after logout", `!document.getElementById('login-panel').hidden`)
	})

	t.Run("viewer", func(t *testing.T) {
		// Start logged out whatever the operator's part left behind.
		do(t, ctx, chromedp.Navigate(base+"/console/"))
		eval[int](t, ctx, `fetch('/console/logout', {method: 'POST'}).then(r => r.status)`, chromedp.EvalAwaitPromise)
		do(t, ctx, chromedp.Reload())
		logIn(t, ctx, viewer, "lab-viewer (viewer)")
		wait(t, ctx, "the bucket map", `document.querySelectorAll('#map .bucket[data-cell]').length === 1024`)
		disabled := eval[bool](t, ctx, `['buckets', 'target', 'reason', 'stages', 'preview', 'confirm'].every(id => document.getElementById(id).disabled)
			&& !document.getElementById('readonly').hidden`)
		if !disabled {
			t.Error("a viewer's switch controls are not all disabled")
		}
		// A viewer clicking a bucket selects nothing.
		do(t, ctx, chromedp.Click(chromedp.CSS(`#map .bucket[data-b="5"]`)))
		if v := eval[string](t, ctx, `document.getElementById('buckets').value`); v != "" {
			t.Errorf("a viewer's click selected buckets %q", v)
		}
		// The page's cookie, used as the page would: the API refuses.
		code := eval[int](t, ctx, `fetch('/v1/switches', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({buckets: '0-1', to: 'a1', reason: 'viewer try', dry_run: true})}).then(r => r.status)`, chromedp.EvalAwaitPromise)
		if code != http.StatusForbidden {
			t.Errorf("a viewer's POST /v1/switches from the console: %d, want 403", code)
		}
		// A drill the controller recorded shows in the drills panel.
		rec := `{"id":"console-drill-1","plan":"monthly","outcome":"failed","started_at":"2026-11-25T03:00:00Z","ended_at":"2026-11-25T03:12:00Z","summary":"rto_max missed","report":"/srv/drills/console-drill-1"}`
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/drills", strings.NewReader(rec))
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("record a drill: %v %v", err, resp)
		}
		wait(t, ctx, "the recorded drill in the drills panel", `
			[...document.querySelectorAll('#drills tbody tr[data-id]')].some(r => r.textContent.includes('console-drill-1') &&
				r.textContent.includes('failed') && r.textContent.includes('rto_max missed') && r.textContent.includes('12.0 min'))`)
		screenshot(t, ctx, "console-viewer.png")
	})
}

// testSwitch moves buckets 0-63 to b1 through the page.
func testSwitch(t *testing.T, ctx context.Context) {
	// Click bucket 0, shift-click bucket 63: the field says 0-63.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#map .bucket[data-b="0"]`)))
	nodes := run(t, ctx, chromedp.Nodes(chromedp.CSS(`#map .bucket[data-b="63"]`)))
	do(t, ctx, chromedp.MouseClickNode(nodes[0], chromedp.ButtonModifiers(chromedp.ModifierShift)))
	if v := eval[string](t, ctx, `document.getElementById('buckets').value`); v != "0-63" {
		t.Fatalf("after click on 0 and shift-click on 63 the buckets field says %q, want 0-63", v)
	}
	do(t, ctx,
		chromedp.SetValue(chromedp.ID("target"), "b1"),
		chromedp.SendKeys(chromedp.ID("reason"), "console test: move 0-63 to b1"))
	if eval[bool](t, ctx, `!document.getElementById('confirm').disabled`) {
		t.Fatal("Confirm is enabled before a preview")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("preview")))
	wait(t, ctx, "the preview of 64 buckets from a1", `
		document.getElementById('switch-error').textContent === '' &&
		document.querySelector('#preview-out .summary') !== null &&
		document.querySelector('#preview-out .summary').textContent.includes('move 64 buckets') &&
		document.querySelector('#preview-moves tbody').textContent.includes('a1') &&
		document.querySelector('#preview-links tbody').textContent.includes('a → b') &&
		document.querySelector('#preview-links tbody').textContent.includes('running') &&
		!document.getElementById('confirm').disabled`)
	if err := eval[string](t, ctx, `document.getElementById('switch-error').textContent`); err != "" {
		t.Fatalf("preview: %s", err)
	}
	screenshot(t, ctx, "console-preview.png")
	// Nothing moved yet.
	if n := eval[int](t, ctx, `document.querySelectorAll('#map .bucket[data-cell="b1"]').length`); n != 512 {
		t.Fatalf("after the preview b1 owns %d buckets, want 512: a preview must change nothing", n)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("confirm")))
	wait(t, ctx, "the switch to finish and show in the history", `
		document.getElementById('switch-error').textContent !== '' ||
		[...document.querySelectorAll('#history tbody tr[data-id]')].some(r => r.textContent.includes('console test: move 0-63 to b1') && r.textContent.includes('done'))`)
	if err := eval[string](t, ctx, `document.getElementById('switch-error').textContent`); err != "" {
		t.Fatalf("confirm: %s", err)
	}
	wait(t, ctx, "the map to show 0-63 in b1 and no switch in progress", `
		[...Array(64).keys()].every(b => document.querySelector('#map .bucket[data-b="' + b + '"]').dataset.cell === 'b1') &&
		document.querySelectorAll('#map .bucket[data-cell="b1"]').length === 576 &&
		document.querySelectorAll('#map .bucket.fenced').length === 0 &&
		document.querySelector('#active').textContent.trim() === 'none'`)
	if same := eval[bool](t, ctx, `document.querySelector('#map .bucket[data-b="0"]').style.background ===
		document.querySelector('#map .bucket[data-b="1023"]').style.background`); !same {
		t.Error("bucket 0 is not coloured like b1's other buckets")
	}
	row := eval[string](t, ctx, `[...document.querySelectorAll('#history tbody tr[data-id]')].find(r => r.textContent.includes('console test')).innerText`)
	wf := eval[string](t, ctx, `[...document.querySelectorAll('#history tbody tr[data-id]')].find(r => r.textContent.includes('console test')).querySelector('.wf').textContent`)
	if !strings.HasSuffix(wf, " ms") && !strings.HasSuffix(wf, " s") {
		t.Errorf("history row has no write-forbidden window: %q (row %q)", wf, row)
	}
	for _, want := range []string{"lab-operator", "0-63", "a1", "b1", "fence", "flip"} {
		if !strings.Contains(row, want) {
			t.Errorf("history row %q lacks %q", row, want)
		}
	}
	t.Logf("history: %s", row)
}

// testGlobalMove moves the home of the lab's global table
// lending.products from a to b with the panel's button.
func testGlobalMove(t *testing.T, ctx context.Context) {
	wait(t, ctx, "the global tables panel with lending.products homed in a", `
		document.querySelector('#globals tbody tr[data-table="lending.products"]') !== null &&
		document.querySelector('#globals tbody tr[data-table="lending.products"] td:nth-child(2)').textContent === 'a' &&
		document.querySelector('#globals button.move-home[data-to="b"]') !== null`)
	// The button asks for a reason with window.prompt: answer it.
	eval[bool](t, ctx, `window.prompt = () => 'console test: move the catalogue'; true`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#globals button.move-home[data-to="b"]`)))
	wait(t, ctx, "lending.products homed in b and the move in the history", `
		document.getElementById('global-error').textContent !== '' ||
		(document.querySelector('#globals tbody tr[data-table="lending.products"] td:nth-child(2)').textContent === 'b' &&
		 document.querySelector('#globals tbody tr[data-table="lending.products"]').textContent.includes('serving') &&
		 [...document.querySelectorAll('#history tbody tr[data-id]')].some(r => r.textContent.includes('global lending.products') &&
			r.textContent.includes('console test: move the catalogue') && r.textContent.includes('done')))`)
	if err := eval[string](t, ctx, `document.getElementById('global-error').textContent`); err != "" {
		t.Fatalf("move the home: %s", err)
	}
}

// testAPI checks the console's own endpoints without a browser.
func testAPI(t *testing.T, base, op, viewer string) {
	code, body := get(t, base+"/v1/whoami", viewer)
	if code != 200 || !strings.Contains(body, `"name": "lab-viewer"`) || !strings.Contains(body, `"role": "viewer"`) {
		t.Errorf("whoami as viewer: %d %s", code, body)
	}
	if code, body := get(t, base+"/v1/whoami", ""); code != 401 {
		t.Errorf("whoami without a token: %d %s", code, body)
	}
	if code, body := get(t, base+"/console/", ""); code != 200 || !strings.Contains(body, `<script src="console.js"`) {
		t.Errorf("console page without a token: %d %s", code, body)
	}
	code, body = get(t, base+"/v1/overview", op)
	var o api.Overview
	if code != 200 || json.Unmarshal([]byte(body), &o) != nil {
		t.Fatalf("overview: %d %s", code, body)
	}
	if len(o.Regions) != 2 || o.Regions[0].Region != "a" || o.Regions[1].Region != "b" {
		t.Fatalf("overview regions: %+v", o.Regions)
	}
	for _, r := range o.Regions {
		if r.Error != "" || r.Status == nil || r.Status.Region != r.Region {
			t.Errorf("overview of region %s: error %q, status %+v", r.Region, r.Error, r.Status)
		}
	}
}

// chromium finds the browser; without it the test fails, it never skips.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found (chromium, chromium-browser or google-chrome on PATH): run `make deps` to install it")
	return ""
}

// browser starts a headless Chromium with a fresh profile for this test.
func browser(t *testing.T, path string) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1400),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	tctx, tcancel := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(tcancel)
	return tctx
}

func logIn(t *testing.T, ctx context.Context, token, who string) {
	t.Helper()
	wait(t, ctx, "the login form", `!document.getElementById('login-panel').hidden`)
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("login")))
	wait(t, ctx, "the console after login as "+who, fmt.Sprintf(`!document.getElementById('app').hidden &&
		document.getElementById('who').textContent === %q`, who))
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func eval[T any](t *testing.T, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[T](js, opts...))
}

// wait polls the page until cond (a JavaScript expression) holds, and
// fails with what the page shows if it does not within 30 seconds.
func wait(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		screenshot(t, ctx, "console-failed.png")
		t.Fatalf("waiting for %s: %v\npage shows:\n%s", what, err, shown)
	}
}

// screenshot saves the whole page to the test's temporary folder, and to
// the folder $REGION_CONSOLE_SCREENSHOTS when that is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot %s", p)
	if dir := os.Getenv(EnvScreenshots); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// violate writes, as a job writing region a's MySQL directly would, a
// loan of a user that b owns.
func violate(t *testing.T, st *lab.State) {
	t.Helper()
	db, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u := int64(1)
	for st.HomeRegion(u) != 1 {
		u++
	}
	for _, q := range append(lab.SampleSchema, fmt.Sprintf("INSERT INTO %s.loan_accounts (user_id, principal_cents, balance_cents, status) VALUES (%d, 100, 100, 'open')", lab.SampleDatabase, u)) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
