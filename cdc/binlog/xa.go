package binlog

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/event"
)

// XA transactions (what a JTA coordinator runs) reach the binlog in two
// event groups: XA START, the rows, XA END and XA PREPARE in the first;
// XA COMMIT (or XA ROLLBACK) in a later one, with other transactions in
// between. The rows are the transaction's only once it commits, so the
// reader keeps a prepared transaction's rows until its XA COMMIT and
// publishes them then, with the commit's GTID; an XA ROLLBACK drops them.
// XA COMMIT ... ONE PHASE is one group, like any transaction.
//
// While a prepared transaction waits, every item is Hold: capture does
// not checkpoint past the prepare, so a restart reads the prepared rows
// again (and re-sends what came after, which the applier skips).

// prepared is an XA transaction between its prepare and its commit.
type prepared struct {
	txn  *event.Txn // nil: nothing of it is replicated
	echo bool
}

// xaStatement splits an XA statement into its verb (START, END, PREPARE,
// COMMIT, ROLLBACK) and its xid as the server writes it (X'..',X'..',1);
// onePhase for XA COMMIT ... ONE PHASE. verb is "" for anything else.
func xaStatement(q string) (verb, xid string, onePhase bool) {
	f := strings.Fields(q)
	if len(f) < 3 || !strings.EqualFold(f[0], "XA") {
		return "", "", false
	}
	verb = strings.ToUpper(f[1])
	rest := f[2:]
	if n := len(rest); n >= 2 && strings.EqualFold(rest[n-2], "ONE") && strings.EqualFold(rest[n-1], "PHASE") {
		onePhase, rest = true, rest[:n-2]
	}
	return verb, strings.Join(rest, " "), onePhase
}

// xa handles an XA statement of the current event group; done reports an
// item (the group ended).
func (a *assembler) xa(verb, xid string, onePhase bool, gset mysql.GTIDSet, when time.Time) (Item, bool, error) {
	switch verb {
	case "START", "END":
		a.xid = xid
		return Item{}, false, nil
	case "COMMIT":
		if onePhase {
			return a.end(gset, when), true, nil
		}
		p, ok := a.prepared[xid]
		if !ok {
			return Item{}, false, fmt.Errorf("binlog: XA COMMIT %s (gtid %s): its XA PREPARE was before the position capture started from, so its rows are not known; they are missing from the other regions: compare and repair (regionctl verify), then restart capture from a position before the prepare", xid, a.gtid)
		}
		delete(a.prepared, xid)
		if p.txn != nil {
			p.txn.GTID = a.gtid
		}
		a.txn, a.echo = p.txn, p.echo
		if a.txn == nil {
			a.txn = &event.Txn{GTID: a.gtid, Bucket: -1}
		}
		return a.end(gset, when), true, nil
	case "ROLLBACK":
		delete(a.prepared, xid)
		a.txn = &event.Txn{GTID: a.gtid, Bucket: -1}
		return a.end(gset, when), true, nil
	}
	return Item{}, false, nil
}

// prepare ends an XA transaction's first group (the XA_PREPARE event):
// its rows wait for the commit.
func (a *assembler) prepare(when time.Time) (Item, bool, error) {
	set, err := mysql.ParseGTIDSet(a.cfg.Flavor, a.lastPos)
	if err == nil {
		err = set.Update(a.gtid)
	}
	if err != nil {
		return Item{}, false, fmt.Errorf("binlog: position after XA PREPARE %s (gtid %s): %w", a.xid, a.gtid, err)
	}
	p := prepared{echo: a.echo}
	if a.in && len(a.txn.Rows) > 0 {
		p.txn = a.txn
	}
	if a.prepared == nil {
		a.prepared = map[string]prepared{}
	}
	a.prepared[a.xid] = p
	it := Item{Time: when, Pos: set.String()}
	a.lastPos = it.Pos
	a.in, a.began, a.txn, a.tables, a.xid = false, false, nil, nil, ""
	return it, true, nil
}
