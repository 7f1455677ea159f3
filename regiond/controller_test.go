package regiond_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

// controllerStatus asks a region's regiond for the controller's status.
func controllerStatus(t *testing.T, st *lab.State, region, token string) (api.ControllerStatus, bool) {
	t.Helper()
	var cs api.ControllerStatus
	code, _ := call(t, st, region, token, "GET", "/v1/controller", nil, &cs)
	return cs, code == 200
}

// waitController polls region's view until ok holds.
func waitController(t *testing.T, st *lab.State, region, token string, d time.Duration, what string, ok func(api.ControllerStatus) bool) api.ControllerStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		cs, got := controllerStatus(t, st, region, token)
		if got && ok(cs) {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (region %s sees %+v)", what, d, region, cs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestControllerInTheLab: two regions and a witness form the controller
// over mutual TLS (a peer without the lab CA's certificate is refused);
// the leader's loss elects another within seconds; a regiond that is
// killed while its MySQL answers is not declared failed; a region whose
// regiond and MySQL are both gone is, by the others' majority.
func TestControllerInTheLab(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	tok, _ := lab.ReadToken(st.Dir)
	cs := waitController(t, st, "a", tok, 30*time.Second, "a controller leader", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID != "" && len(cs.Node.Voters) == 3 && len(cs.Members) == 3
	})
	leader := cs.Node.LeaderID
	t.Logf("leader %s, voters %v", leader, cs.Node.Voters)
	raftIsMutualTLS(t, st, cs.Node.Voters[0].Addr)

	// Kill the leader's process; a survivor reports a new leader.
	observer := "a"
	start := time.Now()
	component := "regiond"
	if leader == "witness" {
		component = "witness"
	}
	if err := lab.Kill(context.Background(), st.Dir, leader, component); err != nil {
		t.Fatal(err)
	}
	if leader == "a" {
		observer = "b"
	}
	cs = waitController(t, st, observer, tok, 10*time.Second, "a new leader", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID != "" && cs.Node.LeaderID != leader
	})
	t.Logf("leader %s killed; %s leads %s later (seen from %s)", leader, cs.Node.LeaderID, time.Since(start).Round(time.Millisecond), observer)
	if leader != "witness" {
		// The witness breaks ties but hands leadership to a regiond.
		cs = waitController(t, st, observer, tok, 10*time.Second, "a regiond leading", func(cs api.ControllerStatus) bool {
			return cs.Node.LeaderID == observer
		})
		t.Logf("%s leads %s after the loss", cs.Node.LeaderID, time.Since(start).Round(time.Millisecond))
	}
	if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, leader, component); err != nil {
		t.Fatal(err)
	}
	waitController(t, st, "a", tok, 30*time.Second, "all three voters back", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID != "" && len(cs.Members) == 3
	})

	// Region b's regiond dies but its MySQL answers: not a region failure.
	if err := lab.Kill(context.Background(), st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	waitController(t, st, "a", tok, 10*time.Second, "b gone from the gossip", func(cs api.ControllerStatus) bool {
		for _, m := range cs.Members {
			if m.Name == "b" {
				return false
			}
		}
		return true
	})
	// Every observer has lost b; hold on for longer than fail_after (1s in
	// the lab): b's MySQL still answers them, so b must not be declared failed.
	time.Sleep(3 * time.Second)
	if cs, _ := controllerStatus(t, st, "a", tok); failed(cs, "b") {
		t.Fatalf("b declared failed while its MySQL answers: %+v", cs.Regions)
	}
	// Now its MySQL goes too: the majority declares b failed.
	start = time.Now()
	if err := lab.Kill(context.Background(), st.Dir, "b", "mysql"); err != nil {
		t.Fatal(err)
	}
	waitController(t, st, "a", tok, 15*time.Second, "b declared failed", func(cs api.ControllerStatus) bool { return failed(cs, "b") })
	t.Logf("b's MySQL killed; b declared failed %s later", time.Since(start).Round(time.Millisecond))
}

func failed(cs api.ControllerStatus, region string) bool {
	for _, r := range cs.Regions {
		if r.Region == region {
			return r.Failed
		}
	}
	return false
}

// raftIsMutualTLS: the Raft address serves TLS with the lab's
// certificate, and refuses a client that presents none.
func raftIsMutualTLS(t *testing.T, st *lab.State, addr string) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(st.Dir, lab.TLSCAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(filepath.Join(st.Dir, lab.TLSCertFile), filepath.Join(st.Dir, lab.TLSKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	try := func(certs []tls.Certificate) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, Certificates: certs, ServerName: "127.0.0.1"})
		if err != nil {
			return err
		}
		defer c.Close()
		// TLS 1.3 reports a refused client certificate on the first read.
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil // accepted: Raft waits for the client to speak
		}
		return err
	}
	if err := try([]tls.Certificate{cert}); err != nil {
		t.Errorf("Raft at %s with the lab's certificate: %v", addr, err)
	}
	if err := try(nil); err == nil {
		t.Errorf("Raft at %s accepted a client without a certificate", addr)
	} else {
		t.Logf("Raft refuses a client without a certificate: %v", err)
	}
}
