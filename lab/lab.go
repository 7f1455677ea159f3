package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/config"
)

// Options configures Up.
type Options struct {
	// Dir holds everything the lab writes: data, logs, config, state.
	Dir string
	// Regions are the region names, at least two (e.g. a, b, c).
	Regions []string
	// Buckets is the routing bucket count (default 1024).
	Buckets int
	// Bin says where the regiond and regionctl programs are.
	Bin Binaries
	// MariaDBDir is the folder holding mariadbd and mariadb-install-db
	// (default: PATH, then the sbin folders).
	MariaDBDir string
	// Progress, if set, receives a line per step for a person to read.
	Progress io.Writer
	// Timeout bounds the whole start (default 120s).
	Timeout time.Duration
	// AutoFailover makes the controller fail every region over by itself
	// once it is declared failed (a new lab only; kept in lab.json).
	AutoFailover bool
	// FailAfter is the lab's controller.fail_after (0: DefaultFailAfter; a new lab
	// only; kept in lab.json).
	FailAfter time.Duration
	// ApplyWait is the lab's replication.apply_wait (0: the default; a
	// new lab only; kept in lab.json).
	ApplyWait time.Duration
	// PublishWait is the lab's replication.publish_wait (0: the default;
	// a new lab only; kept in lab.json).
	PublishWait time.Duration
	// Partitions is the lab's replication.topic.partitions (a new lab
	// only; kept in lab.json). 0: one a core of this machine, from 2 to
	// 8 (DefaultPartitions): on one machine every region's MySQL shares
	// the cores, and a partition beyond them only adds commits.
	Partitions int
	// VerifyEvery is the lab's replication.verify_every (default 30s; a
	// new lab only; kept in lab.json).
	VerifyEvery time.Duration
	// Raft is the lab's controller.raft (zero: the defaults; a new lab
	// only).
	Raft config.RaftTimeouts
	// MaxLag is the lab's router.max_lag (default 5s; a new lab only;
	// kept in lab.json): a test whose WAN leaves a link seconds behind
	// raises it, as an operator of such a WAN would.
	MaxLag time.Duration
	// Tables are replication tables listed besides the sample's, with
	// their conflict policy (a new lab only; kept in lab.json): a test's
	// own table without a primary key needs conflict overwrite, since
	// unlisted tables get the reject default.
	Tables []config.Table
	// WAN runs the wan component: every cross-region connection goes
	// through a toxiproxy, so that OpenWAN can add latency, bandwidth
	// limits, resets and partitions, and gossip can be cut (a new lab
	// only; kept in lab.json). Off by default.
	WAN bool
	// Sample makes Up create the sample lending schema and the ledger
	// workload's tables (CreateSample) unless the lab has them, and wait until it is in every region, so
	// that the lab is ready for every command its docs show (a drill
	// opens its users' loans in it). regionctl lab up sets it; tests and
	// benchmarks start empty labs.
	Sample bool
}

// Binaries are the programs the lab runs besides MariaDB.
type Binaries struct {
	// Regiond is the regiond program.
	Regiond string
	// Regionctl is a regionctl program; the lab runs its hidden
	// `lab serve etcd|broker` commands as the etcd and broker processes.
	Regionctl string
}

// FindBinaries looks for regiond and regionctl next to the running
// program, then in PATH.
func FindBinaries() (Binaries, error) {
	var b Binaries
	self, err := os.Executable()
	if err == nil {
		dir := filepath.Dir(self)
		for _, p := range []struct {
			name string
			dst  *string
		}{{"regiond", &b.Regiond}, {"regionctl", &b.Regionctl}} {
			if st, err := os.Stat(filepath.Join(dir, p.name)); err == nil && !st.IsDir() {
				*p.dst = filepath.Join(dir, p.name)
			} else if lp, err := findProgram(p.name); err == nil {
				*p.dst = lp
			}
		}
	}
	if b.Regiond == "" || b.Regionctl == "" {
		return b, errors.New("regiond and regionctl programs not found next to this program or in PATH: build them with `make build` (they go to ./bin)")
	}
	return b, nil
}

// ErrRunning means the folder already has a running lab.
var ErrRunning = errors.New("a lab is already running here")

// MaxRegions is the most regions a new lab of fewer can grow to with
// AddRegion: its servers interleave auto-increment values by it.
const MaxRegions = 4

// DefaultPartitions is a new lab's partition count: one a core of this
// machine, from 2 (so that order across partitions is exercised) to 8.
func DefaultPartitions() int { return min(max(runtime.NumCPU(), 2), 8) }

var regionNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Up starts a lab in opts.Dir and returns when every server answers its
// health check. A folder whose lab was stopped is started again with the
// same ports and data. On failure, everything Up started is stopped again.
func Up(ctx context.Context, opts Options) (_ *State, err error) {
	if opts.Dir == "" {
		return nil, errors.New("lab folder missing: pass --dir DIR")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 120 * time.Second
	}
	if opts.Buckets == 0 {
		opts.Buckets = 1024
	}
	if opts.Partitions < 0 || opts.Partitions > 64 {
		return nil, fmt.Errorf("partitions %d: give 1 to 64, or 0 for one a core (%d here)", opts.Partitions, DefaultPartitions())
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab folder: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	st, err := loadOrPlan(dir, opts)
	if err != nil {
		return nil, err
	}
	maria, err := findMariaDB(opts.MariaDBDir)
	if err != nil {
		return nil, err
	}
	if opts.Bin.Regiond == "" || opts.Bin.Regionctl == "" {
		return nil, errors.New("lab: Options.Bin must name the regiond and regionctl programs (see FindBinaries)")
	}
	if _, err := writeConfig(st); err != nil {
		return nil, err
	}
	if err := st.save(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(opts.Progress, "start failed; stopping what was started\n")
			_ = stopAll(context.Background(), st, io.Discard)
		}
	}()

	start := time.Now()
	r := &starter{st: st, out: opts.Progress, bin: opts.Bin, maria: maria}
	// etcd, brokers and MariaDB servers are independent: start them together.
	var jobs []func(context.Context) error
	jobs = append(jobs, r.startEtcd)
	if st.WAN != nil {
		jobs = append(jobs, r.startWAN)
	}
	for i := range st.Regions {
		i := i
		jobs = append(jobs, func(ctx context.Context) error { return r.startBroker(ctx, i) })
		jobs = append(jobs, func(ctx context.Context) error { return r.startMySQL(ctx, i) })
	}
	if err := parallel(ctx, jobs); err != nil {
		return nil, err
	}
	jobs = jobs[:0]
	for i := range st.Regions {
		i := i
		jobs = append(jobs, func(ctx context.Context) error { return r.startApp(ctx, i) })
		jobs = append(jobs, func(ctx context.Context) error { return r.startRegiond(ctx, i) })
	}
	jobs = append(jobs, r.startWitness)
	if err := parallel(ctx, jobs); err != nil {
		return nil, err
	}
	if err := r.waitRouting(ctx, routingTimeout); err != nil {
		return nil, err
	}
	if err := r.waitReadOnlyDecided(ctx, routingTimeout); err != nil {
		return nil, err
	}
	if opts.Sample {
		if err := CreateSample(ctx, st, sampleTimeout, opts.Progress); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(opts.Progress, "lab up in %s (%s)\n", time.Since(start).Round(10*time.Millisecond), dir)
	return st, nil
}

// loadOrPlan returns the folder's stopped lab, or plans a new one with
// free ports. A folder with a running lab is an error.
func loadOrPlan(dir string, opts Options) (*State, error) {
	old, err := LoadState(dir)
	switch {
	case err == nil:
		for _, n := range old.procs() {
			if n.p.Alive() {
				return nil, fmt.Errorf("%w in %s (%s is pid %d): use it, or stop it with `regionctl lab down --dir %s`", ErrRunning, dir, n, n.p.Pid, dir)
			}
		}
		if len(opts.Regions) > 0 && strings.Join(opts.Regions, ",") != strings.Join(regionNames(old), ",") {
			return nil, fmt.Errorf("%s holds a stopped lab of regions %s, not %s: start it with those regions, or use another --dir", dir, strings.Join(regionNames(old), ","), strings.Join(opts.Regions, ","))
		}
		// A lab made before the app, gateway or controller existed gets
		// their ports now.
		var missing []*int
		for i := range old.Regions {
			r := &old.Regions[i]
			missing = append(missing, &r.AppPort, &r.GatewayPort, &r.RaftPort, &r.GossipPort)
		}
		missing = append(missing, &old.Witness.RaftPort, &old.Witness.GossipPort, &old.Witness.MetricsPort)
		for _, p := range missing {
			if *p == 0 {
				if *p, err = FreePort(); err != nil {
					return nil, err
				}
			}
		}
		return old, nil
	case !errors.Is(err, ErrNoLab):
		return nil, err
	}
	if len(opts.Regions) < 2 {
		return nil, errors.New("a lab needs at least two regions: pass --regions a,b (or a,b,c)")
	}
	seen := map[string]bool{}
	for _, name := range opts.Regions {
		if !regionNameRE.MatchString(name) {
			return nil, fmt.Errorf("region name %q: use lower-case letters, digits and '-', starting with a letter", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("region %q is named twice in --regions", name)
		}
		seen[name] = true
	}
	st := &State{Dir: dir, Created: time.Now().UTC(), Buckets: opts.Buckets, AutoIncrement: max(len(opts.Regions), MaxRegions), AutoFailover: opts.AutoFailover, VerifyEvery: opts.VerifyEvery, ApplyWait: opts.ApplyWait, PublishWait: opts.PublishWait, Partitions: cmp.Or(opts.Partitions, DefaultPartitions()), FailAfter: opts.FailAfter, MaxLag: opts.MaxLag, Raft: opts.Raft, Tables: opts.Tables}
	const perRegion = 7
	ports := make([]int, 5+perRegion*len(opts.Regions))
	picker := portPicker{}
	for i := range ports {
		if ports[i], err = picker.pick(); err != nil {
			return nil, err
		}
	}
	st.Etcd = EtcdState{ClientPort: ports[0], PeerPort: ports[1]}
	for i, name := range opts.Regions {
		p := ports[5+perRegion*i:]
		st.Regions = append(st.Regions, RegionState{Name: name,
			MySQLPort: p[0], KafkaPort: p[1], APIPort: p[2], AppPort: p[3], GatewayPort: p[4], RaftPort: p[5], GossipPort: p[6]})
	}
	st.Witness = WitnessState{RaftPort: ports[2], GossipPort: ports[3], MetricsPort: ports[4]}
	if opts.WAN {
		if st.WAN, err = planWAN(st, picker); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func regionNames(s *State) []string {
	out := make([]string, len(s.Regions))
	for i, r := range s.Regions {
		out[i] = r.Name
	}
	return out
}

// starter starts the lab's processes and records them in the state.
type starter struct {
	mu    sync.Mutex // guards st and its file
	st    *State
	out   io.Writer
	bin   Binaries
	maria mariaDB
}

// record stores a started process in the state file at once, so that an
// interrupted start can still be stopped by `lab down`.
func (r *starter) record(dst *Proc, p Proc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*dst = p
	return r.st.save()
}

func (r *starter) logPath(name string) string { return filepath.Join(r.st.Dir, "logs", name+".log") }

func (r *starter) startEtcd(ctx context.Context) error {
	e := &r.st.Etcd
	if err := checkPortFree(e.ClientPort, "etcd"); err != nil {
		return err
	}
	t := time.Now()
	p, err := startProc([]string{r.bin.Regionctl, "lab", "serve", "etcd",
		"--data", filepath.Join(r.st.Dir, "etcd"),
		"--client-port", strconv.Itoa(e.ClientPort), "--peer-port", strconv.Itoa(e.PeerPort)},
		nil, r.logPath("etcd"))
	if err != nil {
		return err
	}
	if err := r.record(&e.Proc, p); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/health", e.ClientPort)
	if err := waitReady(ctx, "etcd", p, func(ctx context.Context) error { return httpOK(ctx, url, "") }); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "etcd        up on 127.0.0.1:%d (%s)\n", e.ClientPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

func (r *starter) startBroker(ctx context.Context, i int) error {
	reg := &r.st.Regions[i]
	if err := checkPortFree(reg.KafkaPort, "broker "+reg.Name); err != nil {
		return err
	}
	t := time.Now()
	p, err := startProc([]string{r.bin.Regionctl, "lab", "serve", "broker",
		"--data", filepath.Join(r.st.Dir, reg.Name, "kafka"), "--port", strconv.Itoa(reg.KafkaPort), "--topic", capture.Topic(reg.Name),
		"--partitions", strconv.Itoa(int(r.st.PartitionCount()))},
		nil, r.logPath("broker-"+reg.Name))
	if err != nil {
		return err
	}
	if err := r.record(&reg.Broker, p); err != nil {
		return err
	}
	if err := waitReady(ctx, "broker "+reg.Name, p, func(context.Context) error {
		if !portOpen(reg.KafkaPort) || !listening(p.Pid, reg.KafkaPort) {
			return errors.New("not listening yet")
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "broker %-4s up on 127.0.0.1:%d (%s)\n", reg.Name, reg.KafkaPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

func (r *starter) startMySQL(ctx context.Context, i int) error {
	reg := &r.st.Regions[i]
	if err := checkPortFree(reg.MySQLPort, "mysql "+reg.Name); err != nil {
		return err
	}
	t := time.Now()
	m := mysqlServer{dir: filepath.Join(r.st.Dir, reg.Name, "mysql"), port: reg.MySQLPort, id: i + 1, regions: r.st.autoIncrement(), region: true}
	p, err := m.launch(ctx, r.maria, r.logPath("mysql-"+reg.Name))
	if err != nil {
		return err
	}
	if err := r.record(&reg.MySQL, p); err != nil {
		return err
	}
	if err := m.ready(ctx, "mysql "+reg.Name, p); err != nil {
		return err
	}
	if err := m.appAccount(ctx, "mysql "+reg.Name); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "mysql  %-4s up on 127.0.0.1:%d (%s)\n", reg.Name, reg.MySQLPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

func (r *starter) startApp(ctx context.Context, i int) error {
	reg := &r.st.Regions[i]
	if err := checkPortFree(reg.AppPort, "app "+reg.Name); err != nil {
		return err
	}
	t := time.Now()
	p, err := startProc([]string{r.bin.Regionctl, "lab", "serve", "app", "--region", reg.Name,
		"--port", strconv.Itoa(reg.AppPort), "--mysql-port", strconv.Itoa(reg.MySQLPort), "--config", r.st.ConfigPath()}, nil, r.logPath("app-"+reg.Name))
	if err != nil {
		return err
	}
	if err := r.record(&reg.App, p); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", reg.AppPort)
	if err := waitReady(ctx, "app "+reg.Name, p, func(ctx context.Context) error { return httpOK(ctx, url, "") }); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "app    %-4s up on http://127.0.0.1:%d (%s)\n", reg.Name, reg.AppPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

// startWitness starts the controller's witness (regiond --witness).
func (r *starter) startWitness(ctx context.Context) error {
	w := &r.st.Witness
	if err := checkPortFree(w.RaftPort, "witness"); err != nil {
		return err
	}
	t := time.Now()
	p, err := startProc([]string{r.bin.Regiond, "--config", filepath.Join(r.st.Dir, ConfigFile), "--witness"}, nil, r.logPath("witness"))
	if err != nil {
		return err
	}
	if err := r.record(&w.Proc, p); err != nil {
		return err
	}
	if err := waitReady(ctx, "witness", p, func(context.Context) error {
		if !portOpen(w.RaftPort) || !listening(p.Pid, w.RaftPort) {
			return errors.New("raft port not listening yet")
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "witness     up on 127.0.0.1:%d (%s)\n", w.RaftPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

func (r *starter) startRegiond(ctx context.Context, i int) error {
	reg := &r.st.Regions[i]
	if err := checkPortFree(reg.APIPort, "regiond "+reg.Name); err != nil {
		return err
	}
	t := time.Now()
	args := []string{r.bin.Regiond, "--config", filepath.Join(r.st.Dir, ConfigFile), "--region", reg.Name}
	if reg.Joined {
		args = append(args, "--join")
	}
	p, err := startProc(args, nil, r.logPath("regiond-"+reg.Name))
	if err != nil {
		return err
	}
	if err := r.record(&reg.Regiond, p); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", reg.APIPort)
	if err := waitReady(ctx, "regiond "+reg.Name, p, func(ctx context.Context) error { return httpOK(ctx, url, "") }); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "regiond %-3s up on http://127.0.0.1:%d (%s)\n", reg.Name, reg.APIPort, time.Since(t).Round(10*time.Millisecond))
	return nil
}

// routingTimeout bounds how long Up waits for every regiond to load the
// routing table once it answers /healthz.
const routingTimeout = 30 * time.Second

// waitRouting waits until every regiond is ready (GET /readyz): it has
// read the routing table from etcd (the first to start writes it), so
// that routes, switches and the gateway answer instead of 503.
func (r *starter) waitRouting(ctx context.Context, timeout time.Duration) error {
	t := time.Now()
	err := r.eachRegiond(ctx, timeout, func(ctx context.Context, reg *RegionState) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", reg.APIPort), "")
	}, fmt.Sprintf("has not loaded the routing table within %s (etcd on 127.0.0.1:%d holds it)", timeout, r.st.Etcd.ClientPort))
	if err == nil {
		fmt.Fprintf(r.out, "routing     table loaded by every regiond (%s)\n", time.Since(t).Round(10*time.Millisecond))
	}
	return err
}

// waitReadOnlyDecided waits until every regiond has set its MySQL's
// read_only as the controller says (the servers start read-only): its
// status names the setting (api.Status.MySQLReadOnly).
func (r *starter) waitReadOnlyDecided(ctx context.Context, timeout time.Duration) error {
	tok, err := ReadToken(r.st.Dir)
	if err != nil {
		return err
	}
	t := time.Now()
	err = r.eachRegiond(ctx, timeout, func(ctx context.Context, reg *RegionState) error {
		var st struct {
			MySQLReadOnly string `json:"mysql_read_only"` // api.Status's (lab does not import api: its tests would cycle)
		}
		err := httpJSON(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1/status", reg.APIPort), tok, &st)
		if err == nil && st.MySQLReadOnly == "" {
			err = errors.New("not decided yet")
		}
		return err
	}, fmt.Sprintf("has not set its MySQL's read_only within %s (it waits for the controller to confirm the region takes writes; see its log)", timeout))
	if err == nil {
		fmt.Fprintf(r.out, "mysql       read_only set by every regiond as the controller says (%s)\n", time.Since(t).Round(10*time.Millisecond))
	}
	return err
}

// eachRegiond waits, for every region at once, until check passes for
// its regiond, failing with "regiond NAME " + late after timeout.
func (r *starter) eachRegiond(ctx context.Context, timeout time.Duration, check func(context.Context, *RegionState) error, late string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var jobs []func(context.Context) error
	for i := range r.st.Regions {
		reg := &r.st.Regions[i]
		jobs = append(jobs, func(ctx context.Context) error {
			err := waitReady(ctx, "regiond "+reg.Name, reg.Regiond, func(ctx context.Context) error { return check(ctx, reg) })
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("regiond %s %s: %w", reg.Name, late, err)
			}
			return err
		})
	}
	return parallel(ctx, jobs)
}

// checkPortFree fails when port is taken: a lab server restarts on its
// own port (Proc.Kill returns only once every thread of the killed
// process is gone, with its sockets).
func checkPortFree(port int, what string) error {
	if !portFree(port) {
		return fmt.Errorf("%s: port %d is taken by another program: stop it, or use a new --dir (a new lab picks free ports)", what, port)
	}
	return nil
}

// waitReady polls ready until it succeeds, the process dies (the error
// then shows the end of its log), or ctx ends.
func waitReady(ctx context.Context, what string, p Proc, ready func(context.Context) error) error {
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		if !p.Alive() {
			return fmt.Errorf("%s exited while starting; end of %s:\n%s", what, p.Log, p.LogTail(15))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready in time (last check: %v); see %s", what, last, p.Log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func httpOK(ctx context.Context, url, token string) error { return httpJSON(ctx, url, token, nil) }

// httpJSON is httpOK that decodes the answer's JSON body into v (nil:
// none).
func httpJSON(ctx context.Context, url, token string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if b := strings.TrimSpace(string(body)); b != "" {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
		}
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}

// parallel runs jobs at once; the first error cancels the others and is
// the one returned (the others are usually just the cancellation), and
// every job has returned when it returns.
func parallel(ctx context.Context, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// Down stops every process of the lab in DIR, newest first, and waits
// until each is gone. Data stays; `lab up --dir DIR` starts it again.
func Down(ctx context.Context, dir string, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := LoadState(dir)
	if err != nil {
		return err
	}
	return stopAll(ctx, st, progress)
}

// stopAll stops regiond and the app, then MariaDB, brokers and etcd: the reverse of
// start. Each group stops in parallel.
func stopAll(ctx context.Context, st *State, out io.Writer) error {
	groups := [][]namedProc{nil, nil, nil, nil}
	for _, n := range st.procs() {
		g := map[string]int{"regiond": 0, "app": 0, "witness": 0, "mysql": 1, "wan": 1, "broker": 2, "etcd": 3}[n.component]
		groups[g] = append(groups[g], n)
	}
	var errs []error
	for _, g := range groups {
		var jobs []func(context.Context) error
		for _, n := range g {
			jobs = append(jobs, func(ctx context.Context) error {
				if !n.p.Alive() {
					return nil
				}
				t := time.Now()
				if err := n.p.Stop(ctx, 20*time.Second); err != nil {
					return fmt.Errorf("stop %s: %w", n, err)
				}
				fmt.Fprintf(out, "%-11s stopped (pid %d, %s)\n", n, n.p.Pid, time.Since(t).Round(10*time.Millisecond))
				return nil
			})
		}
		errs = append(errs, each(ctx, jobs))
	}
	return errors.Join(errs...)
}

// each runs jobs at once and waits for all; unlike parallel, one failure
// does not cancel the rest (a failed stop must not leave others running).
func each(ctx context.Context, jobs []func(context.Context) error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = j(ctx) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
