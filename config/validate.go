package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Problem is one thing wrong with a config (or another file read with
// DecodeStrict): where, and what to do.
type Problem struct {
	// Path is the field, e.g. "regions[1].mysql.dsn", or FileProblem.
	Path string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// String renders "path: msg".
func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Problems is every problem found in a config; it is the error Load returns.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	if len(ps) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(ps), strings.Join(lines, "\n  "))
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	identRE   = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)
	patternRE = regexp.MustCompile(`^[A-Za-z0-9_$*]{1,64}\.[A-Za-z0-9_$*]{1,64}$`)
	tcpAddrRE = regexp.MustCompile(`@tcp\(([^)]*)\)`)
	versionRE = regexp.MustCompile(`^\d+\.\d+\.\d+(\.\d+)?$`)
)

// systemSchemas are never replicated.
var systemSchemas = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// Validate checks the whole config and returns Problems, or nil.
func (c *Config) Validate() error {
	v := &validator{}
	if !nameRE.MatchString(c.Name) {
		v.add("name", "%q is not a valid deployment name: use lower-case letters, digits and '-', starting with a letter", c.Name)
	}
	if c.Buckets < 1 || c.Buckets > 65536 {
		v.add("buckets", "%d is out of range: use 1 to 65536 (default 1024)", c.Buckets)
	}
	c.validateEtcd(v)
	c.validateAPI(v)
	c.validateRegions(v)
	c.validateCells(v)
	c.validateReplication(v)
	c.validateRouter(v)
	c.validateController(v)
	if len(v.ps) == 0 {
		return nil
	}
	return v.ps
}

type validator struct{ ps Problems }

func (v *validator) add(field, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validateEtcd(v *validator) {
	if len(c.Etcd.Endpoints) == 0 {
		v.add("etcd.endpoints", "missing: list at least one etcd client URL, e.g. http://127.0.0.1:2379")
	}
	for i, e := range c.Etcd.Endpoints {
		f := fmt.Sprintf("etcd.endpoints[%d]", i)
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(f, "%q is not an etcd client URL: write http://host:port or https://host:port", e)
			continue
		}
		if u.Port() == "" {
			v.add(f, "%q has no port: etcd clients usually use :2379", e)
		}
	}
	if !strings.HasPrefix(c.Etcd.Prefix, "/") || !strings.HasSuffix(c.Etcd.Prefix, "/") {
		v.add("etcd.prefix", "%q must start and end with '/', e.g. /region/", c.Etcd.Prefix)
	}
	if c.Etcd.DialTimeout < 0 {
		v.add("etcd.dial_timeout", "must be positive, e.g. 5s")
	}
	oneSecret(v, "etcd", c.Etcd.PasswordEnv, c.Etcd.PasswordFile, false)
	if c.Etcd.Username == "" && (c.Etcd.PasswordEnv != "" || c.Etcd.PasswordFile != "") {
		v.add("etcd.username", "missing: a password is configured, so name the etcd user too")
	}
	validateTLS(v, "etcd.tls", c.Etcd.TLS, false)
}

func (c *Config) validateAPI(v *validator) {
	if len(c.API.Tokens) == 0 {
		v.add("api.tokens", "missing: list at least one token (name, role, env or file); regiond refuses to serve without one")
	}
	names := map[string]int{}
	for i, t := range c.API.Tokens {
		f := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			v.add(f+".name", "missing: name the person or system holding the token; it is what the audit log records")
		} else if j, dup := names[t.Name]; dup {
			v.add(f+".name", "%q is also api.tokens[%d]: give every token its own name", t.Name, j)
		} else {
			names[t.Name] = i
		}
		if t.Role != "operator" && t.Role != "viewer" {
			v.add(f+".role", "%q is not a role: use operator (may change things) or viewer (read only)", t.Role)
		}
		oneSecret(v, f, t.Env, t.File, true)
	}
}

// oneSecret checks that at most one (exactly one when required) of env and
// file is set. Secrets are never written in the config itself.
func oneSecret(v *validator, field, env, file string, required bool) {
	switch {
	case env != "" && file != "":
		v.add(field, "both an environment variable and a file are set for the secret: keep one")
	case required && env == "" && file == "":
		v.add(field, "no secret: set env (an environment variable name) or file (a path to a 0600 file holding it)")
	}
}

func validateTLS(v *validator, field string, t TLS, server bool) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add(field, "cert_file and key_file go together: set both or neither")
	}
	if server && (t.CAFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		v.add(field, "only cert_file and key_file apply to a server")
	}
}

func (c *Config) validateRegions(v *validator) {
	if len(c.Regions) == 0 {
		v.add("regions", "missing: list every region (name, mysql, kafka, listen, data_dir)")
	}
	names := map[string]int{}
	urls := map[string]int{}
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions[%d]", i)
		if !nameRE.MatchString(r.Name) {
			v.add(f+".name", "%q is not a valid region name: use lower-case letters, digits and '-', starting with a letter (e.g. a, eu-west)", r.Name)
		} else if j, dup := names[r.Name]; dup {
			v.add(f+".name", "%q is also regions[%d]: region names must be unique", r.Name, j)
		} else {
			names[r.Name] = i
		}
		validateMySQL(v, f+".mysql", r.MySQL)
		validateKafka(v, f+".kafka", r.Kafka)
		if r.Listen == "" {
			v.add(f+".listen", "missing: the host:port regiond's API binds to, e.g. 0.0.0.0:7070")
		} else if _, port, err := net.SplitHostPort(r.Listen); err != nil || !validPort(port) {
			v.add(f+".listen", "%q is not host:port: write e.g. 0.0.0.0:7070", r.Listen)
		}
		if r.URL != "" {
			if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(f+".url", "%q is not an http(s) URL: write e.g. https://regiond.a.example:7070", r.URL)
			} else if j, dup := urls[r.URL]; dup {
				v.add(f+".url", "%q is also the API of regions[%d]: every regiond needs its own address (set url when listen is 0.0.0.0 on several hosts)", r.URL, j)
			} else {
				urls[r.URL] = i
			}
		}
		validateTLS(v, f+".api_tls", r.APITLS, true)
		if r.App != "" {
			if u, err := url.Parse(r.App); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(f+".app", "%q is not an http(s) URL: write the application's base URL in this region, e.g. http://10.0.0.9:8080", r.App)
			}
		}
		if r.GatewayListen != "" {
			if _, port, err := net.SplitHostPort(r.GatewayListen); err != nil || !validPort(port) {
				v.add(f+".gateway_listen", "%q is not host:port: write e.g. 0.0.0.0:8080", r.GatewayListen)
			} else if r.GatewayListen == r.Listen {
				v.add(f+".gateway_listen", "%q is also the API's listen address: give the gateway its own port", r.GatewayListen)
			}
		}
		if r.DataDir == "" {
			v.add(f+".data_dir", "missing: a local folder for regiond's state (Raft log, audit log), e.g. /var/lib/regiond")
		}
		validateDialVia(v, f+".dial_via", r.DialVia)
	}
}

// validateDialVia checks a dial_via map: host:port on both sides, and no
// relay that is itself relayed (one hop only).
func validateDialVia(v *validator, f string, via map[string]string) {
	hostPort := func(a string) bool {
		h, port, err := net.SplitHostPort(a)
		return err == nil && h != "" && port != "" && port != "0" && validPort(port)
	}
	for from, to := range via {
		switch {
		case !hostPort(from):
			v.add(fmt.Sprintf("%s[%q]", f, from), "the key must be the host:port regiond would dial, e.g. 10.0.1.5:3306")
		case !hostPort(to):
			v.add(fmt.Sprintf("%s[%q]", f, from), "%q is not host:port: write the relay's address, e.g. 10.0.0.2:13306", to)
		case to == from:
			v.add(fmt.Sprintf("%s[%q]", f, from), "relays to itself: remove the entry to dial directly")
		default:
			if _, chained := via[to]; chained {
				v.add(fmt.Sprintf("%s[%q]", f, from), "the relay %q is itself relayed: point the entry at the last relay", to)
			}
		}
	}
}

func (c *Config) validateRouter(v *validator) {
	rt := c.Router
	if rt.DefaultRegion != "" {
		if _, ok := c.Region(rt.DefaultRegion); !ok {
			v.add("router.default_region", "%q is not a region: use one of %v, or leave it empty to answer requests without a user key 400", rt.DefaultRegion, c.RegionNames())
		}
	}
	if rt.UserHeader != "" && strings.ContainsAny(rt.UserHeader, " :\t") {
		v.add("router.user_header", "%q is not an HTTP header name, e.g. X-User-Id", rt.UserHeader)
	}
	for _, d := range []struct {
		f string
		v int64
	}{{"router.retry_after", int64(rt.RetryAfter)}, {"router.ack_timeout", int64(rt.AckTimeout)}, {"router.max_lag", int64(rt.MaxLag)}, {"router.catch_up_timeout", int64(rt.CatchUpTimeout)}} {
		if d.v < 0 {
			v.add(d.f, "must be positive, e.g. 5s")
		}
	}
	for i, w := range rt.GlobalWrites {
		f := fmt.Sprintf("router.global_writes[%d]", i)
		if _, err := path.Match(w.Path, ""); err != nil || !strings.HasPrefix(w.Path, "/") {
			v.add(f+".path", "%q: write the route's path from its first '/', e.g. /products, /products/ for everything under it, or /products/*/price ('*': one segment)", w.Path)
		}
		for j, m := range w.Methods {
			switch m {
			case "POST", "PUT", "PATCH", "DELETE":
			default:
				v.add(fmt.Sprintf("%s.methods[%d]", f, j), "%q: use POST, PUT, PATCH or DELETE (upper case); reads are never refused", m)
			}
		}
		if t := c.Replication.Policy(w.Table); t.Class != ClassGlobal {
			var names []string
			for _, g := range c.Replication.Globals() {
				names = append(names, g.Name)
			}
			v.add(f+".table", "%q is not a global table of replication.tables: use one of %v", w.Table, names)
		}
	}
	for i, l := range rt.ReadLevels {
		f := fmt.Sprintf("router.read_levels[%d]", i)
		if _, err := path.Match(l.Path, ""); err != nil || !strings.HasPrefix(l.Path, "/") {
			v.add(f+".path", "%q: write a path from its first '/', '*' for one segment, e.g. /users/*/requests", l.Path)
		}
		if _, _, err := ParseReadLevel(l.Level); err != nil {
			v.add(f+".level", "%v", err)
		}
	}
	if rt.SessionWait < 0 || rt.SessionWait > 10*time.Second {
		v.add("router.session_wait", "%s: use 0 to 10s (default 200ms): how long a session read waits for the local region before it is forwarded", rt.SessionWait)
	}
	gw := -1
	for i, r := range c.Regions {
		if r.GatewayListen != "" {
			gw = i
			break
		}
	}
	for i, r := range c.Regions {
		if gw >= 0 && r.App == "" {
			v.add(fmt.Sprintf("regions[%d].app", i), "missing: regions[%d].gateway_listen runs a gateway, which sends this region's users to its application: set its base URL", gw)
		}
	}
}

func (c *Config) validateController(v *validator) {
	seen := map[string]string{}
	addr := func(field, a string) {
		if _, port, err := net.SplitHostPort(a); err != nil || !validPort(port) || port == "0" {
			v.add(field, "%q is not host:port: write e.g. 10.0.0.5:7300", a)
			return
		}
		if other, dup := seen[a]; dup {
			v.add(field, "%q is also %s: every controller address must be its own", a, other)
		}
		seen[a] = field
	}
	on := 0
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions[%d].controller", i)
		switch {
		case r.Controller.Raft == "" && r.Controller.Gossip == "":
			continue
		case r.Controller.Raft == "" || r.Controller.Gossip == "":
			v.add(f, "set both raft and gossip (host:port each), or neither")
			continue
		}
		on++
		addr(f+".raft", r.Controller.Raft)
		addr(f+".gossip", r.Controller.Gossip)
	}
	if on > 0 && on < len(c.Regions) {
		v.add("regions[].controller", "%d of %d regions have a controller: give every region one (raft and gossip), or none", on, len(c.Regions))
	}
	if t := c.Controller.TLS; t.On() && (t.CAFile == "" || t.CertFile == "" || t.KeyFile == "") {
		v.add("controller.tls", "Raft TLS is mutual: set ca_file, cert_file and key_file (each node's certificate names its raft host; ca_file signs every node's)")
	}
	if c.Controller.GossipKeyFile != "" && c.Controller.GossipKeyEnv != "" {
		v.add("controller.gossip_key_file", "set gossip_key_file or gossip_key_env, not both")
	}
	if w := c.Controller.Witness; w != nil {
		if on == 0 {
			v.add("controller.witness", "a witness without region controllers votes alone: set regions[].controller first")
		}
		addr("controller.witness.raft", w.Raft)
		addr("controller.witness.gossip", w.Gossip)
		if w.Metrics != "" {
			addr("controller.witness.metrics", w.Metrics)
		}
		if w.DataDir == "" {
			v.add("controller.witness.data_dir", "missing: a local folder for the witness's Raft log")
		}
		validateDialVia(v, "controller.witness.dial_via", w.DialVia)
	} else if on == 2 {
		v.add("controller.witness", "missing: with two regions, a controller needs a witness in a third place to keep a majority when a region is down")
	}
	for i, r := range c.Controller.AutoFailover {
		if _, ok := c.Region(r); !ok {
			v.add(fmt.Sprintf("controller.auto_failover[%d]", i), "%q is not a region: use one of %v", r, c.RegionNames())
		}
		if on == 0 {
			v.add(fmt.Sprintf("controller.auto_failover[%d]", i), "needs the controller: set regions[].controller")
		}
	}
	if c.Controller.FailAfter < 0 || c.Controller.Cooldown < 0 {
		v.add("controller", "fail_after and cooldown must be positive, e.g. 3s and 5m")
	}
	validateRaft(v, c.Controller.Raft)
	if c.Controller.RPOBudget < 0 {
		v.add("controller.rpo_budget", "%d is negative: the most transactions a forced failover may lose without an override, e.g. 100 (0: no budget)", c.Controller.RPOBudget)
	}
}

// validateRaft checks the controller's Raft timeouts as hashicorp/raft
// would refuse them at start, naming the field.
func validateRaft(v *validator, r RaftTimeouts) {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"heartbeat_timeout", r.HeartbeatTimeout}, {"election_timeout", r.ElectionTimeout}, {"leader_lease_timeout", r.LeaderLeaseTimeout}, {"commit_timeout", r.CommitTimeout}} {
		if d.d != 0 && d.d < 5*time.Millisecond {
			v.add("controller.raft."+d.name, "%s is below Raft's 5ms minimum (or negative): give e.g. 500ms, or leave it out for the default", d.d)
		}
	}
	h, e, l := r.HeartbeatTimeout, r.ElectionTimeout, r.LeaderLeaseTimeout
	if h == 0 {
		h = 150 * time.Millisecond
	}
	if e == 0 {
		e = 150 * time.Millisecond
	}
	if l == 0 {
		l = 100 * time.Millisecond
	}
	if e < h {
		v.add("controller.raft.election_timeout", "%s is below heartbeat_timeout %s: Raft needs the election timeout at least as long; raise them together", e, h)
	}
	if l > h {
		v.add("controller.raft.leader_lease_timeout", "%s is above heartbeat_timeout %s: Raft needs the lease at most as long (e.g. half of it)", l, h)
	}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func validateMySQL(v *validator, f string, m MySQL) {
	if m.DSN == "" {
		v.add(f+".dsn", "missing: write user@tcp(host:port)/, e.g. repl@tcp(10.0.0.5:3306)/")
	} else if d, err := mysql.ParseDSN(m.DSN); err != nil {
		v.add(f+".dsn", "%v: write user@tcp(host:port)/", err)
	} else {
		if d.Passwd != "" {
			v.add(f+".dsn", "contains a password: remove it and use password_env or password_file, so secrets stay out of the file")
		}
		switch d.Net {
		case "tcp":
			// ParseDSN fills in 3306; a deployment must say which port it means.
			if m := tcpAddrRE.FindStringSubmatch(m.DSN); m == nil {
				v.add(f+".dsn", "missing address: write tcp(host:port), e.g. tcp(10.0.0.5:3306)")
			} else if _, port, err := net.SplitHostPort(m[1]); err != nil || port == "" {
				v.add(f+".dsn", "missing port in %q: write tcp(host:port), e.g. tcp(10.0.0.5:3306)", m[1])
			}
		case "unix":
		default:
			v.add(f+".dsn", "network %q is not supported: use tcp(host:port) or unix(/path/to/socket)", d.Net)
		}
		if d.User == "" {
			v.add(f+".dsn", "missing user: write user@tcp(host:port)/ (the user needs REPLICATION SLAVE, REPLICATION CLIENT and write access to replicated schemas)")
		}
	}
	oneSecret(v, f, m.PasswordEnv, m.PasswordFile, false)
	if m.Flavor != "mariadb" && m.Flavor != "mysql" {
		v.add(f+".flavor", "%q is not a flavor: use mariadb or mysql", m.Flavor)
	}
	validateTLS(v, f+".tls", m.TLS, false)
}

func validateKafka(v *validator, f string, k Kafka) {
	if len(k.Brokers) == 0 {
		v.add(f+".brokers", "missing: list at least one broker host:port, e.g. 10.0.0.7:9092")
	}
	for i, b := range k.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || !validPort(port) || port == "" {
			v.add(fmt.Sprintf("%s.brokers[%d]", f, i), "%q is not host:port: write e.g. 10.0.0.7:9092", b)
		}
	}
	if !versionRE.MatchString(k.Version) {
		v.add(f+".version", "%q is not a Kafka version: write e.g. 3.6.0", k.Version)
	}
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" || k.SASL.PasswordEnv != "" {
			v.add(f+".sasl.mechanism", "missing: a SASL user is set, so set mechanism: PLAIN (with TLS)")
		}
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		v.add(f+".sasl.mechanism", "%s is not built yet: use PLAIN over TLS", k.SASL.Mechanism)
	case "PLAIN":
		if k.SASL.Username == "" || k.SASL.PasswordEnv == "" {
			v.add(f+".sasl", "mechanism %s needs username and password_env", k.SASL.Mechanism)
		}
	default:
		v.add(f+".sasl.mechanism", "%q is not supported: use PLAIN over TLS", k.SASL.Mechanism)
	}
	validateTLS(v, f+".tls", k.TLS, false)
}

func (c *Config) validateCells(v *validator) {
	if len(c.Cells) == 0 {
		v.add("cells", "missing: list at least one cell (name, region, standby); users are homed in cells")
	}
	if len(c.Cells) > c.Buckets && c.Buckets > 0 {
		v.add("cells", "%d cells but only %d buckets: every cell needs at least one bucket; raise buckets", len(c.Cells), c.Buckets)
	}
	names := map[string]int{}
	for i, cell := range c.Cells {
		f := fmt.Sprintf("cells[%d]", i)
		if !nameRE.MatchString(cell.Name) {
			v.add(f+".name", "%q is not a valid cell name: use lower-case letters, digits and '-', e.g. a1", cell.Name)
		} else if j, dup := names[cell.Name]; dup {
			v.add(f+".name", "%q is also cells[%d]: cell names must be unique", cell.Name, j)
		} else {
			names[cell.Name] = i
		}
		if _, ok := c.Region(cell.Region); !ok {
			v.add(f+".region", "%q is not a region of this deployment: use one of %s", cell.Region, strings.Join(c.RegionNames(), ", "))
		}
		switch {
		case cell.Standby == "" && len(c.Regions) > 1:
			v.add(f+".standby", "missing: name the region this cell fails over to (one of %s other than %s)", strings.Join(c.RegionNames(), ", "), cell.Region)
		case cell.Standby == "":
		case cell.Standby == cell.Region:
			v.add(f+".standby", "%q is the cell's own region: a standby must be another region", cell.Standby)
		default:
			if _, ok := c.Region(cell.Standby); !ok {
				v.add(f+".standby", "%q is not a region of this deployment: use one of %s", cell.Standby, strings.Join(c.RegionNames(), ", "))
			}
		}
	}
}

func (c *Config) validateReplication(v *validator) {
	rp := c.Replication
	dbs := map[string]bool{}
	for i, db := range rp.Databases {
		f := fmt.Sprintf("replication.databases[%d]", i)
		switch {
		case !identRE.MatchString(db):
			v.add(f, "%q is not a database name", db)
		case systemSchemas[strings.ToLower(db)]:
			v.add(f, "%q is a system schema and is never replicated: remove it", db)
		case dbs[db]:
			v.add(f, "%q is listed twice", db)
		}
		dbs[db] = true
	}
	for i, p := range rp.Exclude {
		if !patternRE.MatchString(p) {
			v.add(fmt.Sprintf("replication.exclude[%d]", i), "%q is not a db.table pattern: write e.g. app.tmp_* ('*' matches any run of characters)", p)
		} else if _, err := path.Match(p, ""); err != nil {
			v.add(fmt.Sprintf("replication.exclude[%d]", i), "%q: %v", p, err)
		}
	}
	if t := rp.Topic; t.Partitions < 1 || t.Partitions > 1024 {
		v.add("replication.topic.partitions", "%d: use 1 to 1024 (default 8: as many as appliers may use in parallel)", t.Partitions)
	}
	if t := rp.Topic; t.ReplicationFactor < 1 {
		v.add("replication.topic.replication_factor", "%d: use 1 or more (default 3)", t.ReplicationFactor)
	}
	if t := rp.Topic; t.MinInsyncReplicas < 1 || t.MinInsyncReplicas > t.ReplicationFactor {
		v.add("replication.topic.min_insync_replicas", "%d: use 1 to replication_factor (%d); with 3 replicas, 2 loses nothing when one broker fails", t.MinInsyncReplicas, t.ReplicationFactor)
	}
	if t := rp.Topic; t.Retention < time.Hour {
		v.add("replication.topic.retention", "%s is shorter than an hour: an applier down longer than the retention must be re-seeded; use the longest outage you promise to survive (default 168h)", t.Retention)
	}
	if rp.ApplyWait < time.Millisecond || rp.ApplyWait > 500*time.Millisecond {
		v.add("replication.apply_wait", "%s is out of range: use 1ms to 500ms (default 50ms); it adds up to that much lag under load, for fewer target commits", rp.ApplyWait)
	}
	if rp.PublishWait < time.Millisecond || rp.PublishWait > 500*time.Millisecond {
		v.add("replication.publish_wait", "%s is out of range: use 1ms to 500ms (default 20ms); it adds up to that much lag, for fewer produce requests", rp.PublishWait)
	}
	if rp.VerifyEvery < 10e9 {
		v.add("replication.verify_every", "%s is too often: continuous verification compares every replicated table each time; use 10s or more (default 2m)", rp.VerifyEvery)
	}
	switch rp.DefaultConflict {
	case ConflictOverwrite, ConflictReject:
	case ConflictLastWriterWins, ConflictHomeCellWins:
		v.add("replication.default_conflict", "%q needs per-table settings (version_column or shard_column): use overwrite or reject as the default and set it per table", rp.DefaultConflict)
	default:
		v.add("replication.default_conflict", "%q is not a policy: use overwrite or reject", rp.DefaultConflict)
	}
	seen := map[string]int{}
	for i, t := range rp.Tables {
		f := fmt.Sprintf("replication.tables[%d]", i)
		switch t.Class {
		case "":
		case ClassUnit:
			if t.ShardColumn == "" {
				v.add(f+".shard_column", "missing: a unit table is sharded by a user column; name it (e.g. user_id)")
			}
		case ClassLocal:
			if t.ShardColumn != "" || t.VersionColumn != "" {
				v.add(f+".class", "local tables are never replicated: remove shard_column and version_column")
			}
			if !patternRE.MatchString(t.Name) {
				v.add(f+".name", "%q is not a db.table name or pattern: write e.g. app.cache or app.tmp_*", t.Name)
			} else if _, err := path.Match(t.Name, ""); err != nil {
				v.add(f+".name", "%q: %v", t.Name, err)
			}
			continue
		case ClassGlobal:
			if t.ShardColumn != "" {
				v.add(f+".shard_column", "a global table is written in one region, not by user: remove shard_column, or make the table class unit")
			}
			if t.Home == "" {
				v.add(f+".home", "missing: name the region that writes this global table, one of %v", c.RegionNames())
			} else if _, ok := c.Region(t.Home); !ok {
				v.add(f+".home", "%q is not a region: use one of %v", t.Home, c.RegionNames())
			}
		default:
			v.add(f+".class", "%q is not a class: use unit, global, local, or leave it out", t.Class)
		}
		if t.Home != "" && t.Class != ClassGlobal {
			v.add(f+".home", "only a global table has a home: set class: global, or remove home")
		}
		db, table, ok := strings.Cut(t.Name, ".")
		if !ok || !identRE.MatchString(db) || !identRE.MatchString(table) {
			v.add(f+".name", "%q is not db.table: write e.g. lending.ledger_entries", t.Name)
		} else if !dbs[db] {
			v.add(f+".name", "database %q is not replicated: add it to replication.databases", db)
		}
		if j, dup := seen[t.Name]; dup {
			v.add(f+".name", "%q is also replication.tables[%d]: configure each table once", t.Name, j)
		}
		seen[t.Name] = i
		if t.ShardColumn != "" && !identRE.MatchString(t.ShardColumn) {
			v.add(f+".shard_column", "%q is not a column name", t.ShardColumn)
		}
		if t.VersionColumn != "" && !identRE.MatchString(t.VersionColumn) {
			v.add(f+".version_column", "%q is not a column name", t.VersionColumn)
		}
		switch t.Conflict {
		case ConflictOverwrite, ConflictReject:
		case ConflictLastWriterWins:
			if t.VersionColumn == "" {
				v.add(f+".version_column", "missing: last-writer-wins compares a version or timestamp column; name it (e.g. updated_at)")
			}
		case ConflictHomeCellWins:
			if t.ShardColumn == "" {
				v.add(f+".shard_column", "missing: home-cell-wins finds the row's owning cell from its shard column; name it (e.g. user_id)")
			}
			if t.VersionColumn == "" {
				v.add(f+".version_column", "missing: home-cell-wins orders changes by a version column every write raises (an ORM's optimistic-lock column, e.g. version = version + 1); the home cell wins between changes made on the same version")
			}
		default:
			v.add(f+".conflict", "%q is not a policy: use overwrite, last-writer-wins, home-cell-wins or reject", t.Conflict)
		}
	}
}
