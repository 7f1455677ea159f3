package failover

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/verify"
)

// reconciled is one more survivor's reconciliation at a failback.
type reconciled struct{ region, detail string }

// reconcileOthers reconciles, at the failback of forced failover f, every
// survivor but f.To that is not fenced itself (a region failed over since
// converges whole at its own failback) with f.To, from results (rpoNow).
func (o *Orchestrator) reconcileOthers(ctx context.Context, f controller.FailoverRecord, results map[string]rpo.Result) ([]reconciled, error) {
	src, err := o.cfg.RPOSource(f.From)
	if err != nil {
		return nil, err
	}
	st := o.node.State()
	var out []reconciled
	for _, r := range o.survivors(f.From, f.To)[1:] {
		if st.Regions[r].Fenced {
			continue
		}
		if _, ok := results[r]; !ok {
			return nil, RetryLaterError{fmt.Errorf("region %s's link from %s cannot be read, nothing changed: its rows must be reconciled with %s's before the failback", r, f.From, f.To)}
		}
		d, err := o.reconcile(ctx, src.Flavor, f.To, r, results)
		if err != nil {
			return nil, RetryLaterError{fmt.Errorf("region %s's rows apart from %s's could not be reconciled, nothing changed: %w", r, f.To, err)}
		}
		out = append(out, reconciled{r, d})
	}
	return out, nil
}

// reconcile makes region other's rows that the failed region's
// transactions left apart from region to's (applied in only one of the
// two before the stream was held) to's images. With three regions or
// more, a survivor other than the one that took the buckets (to) may have
// applied more or less of the failed region than to: the rows of a
// transaction only it applied hold the failed region's images, which to
// never had; the rows of one only to applied hold older ones, and that
// transaction is discarded at the release, so nothing would correct them.
//
// It first waits until other has applied to's writes up to now, so that
// a row to changed since compares as to holds it, then compares exactly
// those rows and repairs the ones that differ (written with the
// applier's marker: not published). A row other changed meanwhile is
// left alone and reported (verify.Repair re-reads it).
func (o *Orchestrator) reconcile(ctx context.Context, flavor, to, other string, results map[string]rpo.Result) (string, error) {
	apart, complete, err := rpo.Apart(flavor, results[to], results[other])
	if err != nil {
		return "", err
	}
	if len(apart) == 0 {
		if !complete {
			return "", fmt.Errorf("the lost transactions are more than the RPO lists: compare every row with regionctl verify --repair --from %s --regions %s,%s", to, to, other)
		}
		return fmt.Sprintf("region %s applied the same transactions as %s: nothing apart", other, to), nil
	}
	pos, err := o.repl.Position(ctx, to)
	if err == nil {
		err = o.caughtUp(ctx, to, other, pos)
	}
	if err != nil {
		return "", fmt.Errorf("region %s has not caught up with %s: %w", other, to, err)
	}
	rr, err := o.repairRows(ctx, to, other, apart)
	if err != nil {
		return "", err
	}
	detail := fmt.Sprintf("%d transactions of the failed region were applied in only one of %s and %s; %d of their rows in %s set to %s's", len(apart), to, other, len(rr.Changes), other, to)
	if n := len(rr.Skipped); n > 0 {
		detail += fmt.Sprintf("; %d rows changed meanwhile and were left to replication", n)
	}
	if !complete {
		detail += fmt.Sprintf("; more transactions were lost than the RPO lists: compare every row with regionctl verify --repair --from %s", to)
	}
	return detail, nil
}

// repairRows compares the rows the transactions txns wrote (every row
// when txns is nil) between region from and region to, and sets the ones
// to holds differently to from's images (verify.Repair: written with the
// applier's marker, a row changed since the comparison left alone and
// reported).
func (o *Orchestrator) repairRows(ctx context.Context, from, to string, txns []rpo.LostTxn) (*verify.RepairResult, error) {
	var regions []verify.Region
	for _, r := range []string{from, to} {
		db, err := o.repl.DB(r)
		if err != nil {
			return nil, err
		}
		regions = append(regions, verify.Region{Name: r, DB: db})
	}
	tables, err := verify.ReplicatedTables(ctx, regions, o.dep.Replication)
	if err != nil {
		return nil, err
	}
	cfg := verify.DefaultConfig()
	if txns != nil {
		scope := keyScope(txns)
		tables = slices.DeleteFunc(tables, func(t string) bool { _, ok := scope[t]; return !ok })
		if len(tables) == 0 {
			return &verify.RepairResult{}, nil
		}
		// The link has caught up with the survivor's position: what still
		// differs is the lost rows, or a write of the survivor still on
		// its way. One look again a moment later spares the latter a
		// needless repair (and the failback report a line); the repair is
		// safe either way (it skips a row that changed since it was read,
		// and the link applies newer writes over it). Each recheck round
		// holds the failback for its delay, per table.
		cfg.Rechecks, cfg.RecheckDelay = 1, 250*time.Millisecond
		cfg.Scope = func(table string, _ []string) string { return scope[table] }
	}
	res, err := verify.Compare(ctx, cfg, regions, tables)
	if err != nil {
		return nil, err
	}
	for _, t := range res.Tables {
		if t.Error != "" {
			return nil, fmt.Errorf("compare %s: %s", t.Table, t.Error)
		}
	}
	if res.Equal() {
		return &verify.RepairResult{}, nil
	}
	if res.DiffsTotal > len(res.Diffs) {
		return nil, fmt.Errorf("%d rows differ, more than one pass repairs (%d): run regionctl verify --repair --from %s, then fail back", res.DiffsTotal, len(res.Diffs), from)
	}
	rr, err := verify.Repair(ctx, regions, res, verify.FromRegion(from))
	if err != nil {
		return nil, err
	}
	for _, c := range rr.Changes {
		o.log.Warn("failback: row set to the survivor's", "region", c.Region, "table", c.Table, "key", c.Key, "action", c.Action)
	}
	return rr, nil
}

// keyScope is, per table ("db.table"), an SQL condition that matches
// exactly the rows the transactions wrote (for verify.Config.Scope).
func keyScope(txns []rpo.LostTxn) map[string]string {
	keys := map[string]map[string]map[string]bool{} // table -> column list -> value tuples
	for _, t := range txns {
		for _, k := range t.Keys {
			cols := make([]string, len(k.Cols))
			for i, c := range k.Cols {
				cols[i] = "`" + strings.ReplaceAll(c, "`", "``") + "`"
			}
			vals := make([]string, len(k.Vals))
			for i, v := range k.Vals {
				vals[i] = literal(v)
			}
			byCols := keys[k.Table]
			if byCols == nil {
				byCols = map[string]map[string]bool{}
				keys[k.Table] = byCols
			}
			c := "(" + strings.Join(cols, ",") + ")"
			if byCols[c] == nil {
				byCols[c] = map[string]bool{}
			}
			byCols[c]["("+strings.Join(vals, ",")+")"] = true
		}
	}
	out := map[string]string{}
	for table, byCols := range keys {
		var conds []string
		for cols, tuples := range byCols {
			conds = append(conds, cols+" IN ("+strings.Join(slices.Sorted(maps.Keys(tuples)), ",")+")")
		}
		sort.Strings(conds)
		out[table] = strings.Join(conds, " OR ")
	}
	return out
}

// literal is an SQL literal of value v as the binlog's text gives it:
// quoted as is when it holds only characters that need no escaping (every
// number, date and most keys), as a hex string otherwise.
func literal(v string) string {
	for _, r := range v {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(" -_.:+@/", r)) {
			return "X'" + hex.EncodeToString([]byte(v)) + "'"
		}
	}
	return "'" + v + "'"
}
