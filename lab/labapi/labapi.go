// Package labapi reaches a lab's regionds through the API, for tests: a client
// with the lab's token, every region's status, and waiting until what was
// written has arrived everywhere. It is apart from labtest because it
// needs the API's types, which packages tested with labtest must not.
package labapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
)

// Client returns an API client for region's regiond in the lab, with the
// lab's token.
func Client(t testing.TB, st *lab.State, region string) *client.Client {
	t.Helper()
	r, ok := st.Region(region)
	if !ok {
		t.Fatalf("the lab has no region %q", region)
	}
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return &client.Client{BaseURL: r.APIURL(), Token: tok}
}

// Converged waits until every region's capture has published its binlog
// up to where its MySQL is, and every link has applied all of it: what
// was written before the call has arrived everywhere. It returns every
// region's status at that moment and fails the test after timeout,
// naming what is still behind.
func Converged(t testing.TB, st *lab.State, timeout time.Duration) map[string]*api.Status {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		all, why := convergedNow(ctx, t, st)
		if len(why) == 0 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("regions did not converge in %s: %s", timeout, strings.Join(why, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// convergedNow returns every region's status and what stands in the way
// of convergence now (nothing when converged).
func convergedNow(ctx context.Context, t testing.TB, st *lab.State) (map[string]*api.Status, []string) {
	all := map[string]*api.Status{}
	var why []string
	for _, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			t.Fatal(err)
		}
		var binlogPos string
		err = db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&binlogPos)
		db.Close()
		if err != nil {
			why = append(why, r.Name+": "+err.Error())
			continue
		}
		s, err := Client(t, st, r.Name).Status(ctx)
		if err != nil {
			why = append(why, r.Name+": "+err.Error())
			continue
		}
		all[r.Name] = s
		if ok, err := binlog.Covers("mariadb", s.Capture.Published.Pos, binlogPos); err != nil || !ok {
			why = append(why, fmt.Sprintf("capture %s at %q, binlog at %q", r.Name, s.Capture.Published.Pos, binlogPos))
		}
		if len(s.Links) != len(st.Regions)-1 {
			why = append(why, fmt.Sprintf("%s has %d links", r.Name, len(s.Links)))
		}
	}
	for _, s := range all {
		for _, l := range s.Links {
			src := all[l.From]
			if l.State != "running" || src == nil || l.AppliedSeq < src.Capture.Published.Seq {
				why = append(why, fmt.Sprintf("%s->%s %s applied %d, published %d %s", l.From, l.To, l.State, l.AppliedSeq, l.PublishedSeq, l.Error))
			}
		}
	}
	return all, why
}

// Statuses asks every region's regiond for its status, failing the test
// when one does not answer.
func Statuses(t testing.TB, st *lab.State) map[string]*api.Status {
	t.Helper()
	out := map[string]*api.Status{}
	for _, r := range st.Regions {
		s, err := Client(t, st, r.Name).Status(context.Background())
		if err != nil {
			t.Fatalf("region %s status: %v", r.Name, err)
		}
		out[r.Name] = s
	}
	return out
}
