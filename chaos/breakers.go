package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/regionplatform/region/lab"
)

// Breaker damages the data on purpose after a scenario's load, the way a
// bug would, for the checker's self-tests. It says what it did, and
// returns how to undo damage that would outlive the scenario (a region
// left different from the others fails every later scenario), or nil.
type Breaker func(ctx context.Context, e *Env, h []Write) (string, func(context.Context) error, error)

// pickAcked picks an acknowledged write by the seed: a payment between
// two users if there is one (the damage then spans both users' rows).
func pickAcked(e *Env, h []Write) (Write, error) {
	var acked, paid []Write
	for _, w := range h {
		if w.Outcome == Acked {
			acked = append(acked, w)
			if w.ToUser != 0 {
				paid = append(paid, w)
			}
		}
	}
	if len(paid) > 0 {
		acked = paid
	}
	if len(acked) == 0 {
		return Write{}, errors.New("no acknowledged write to break")
	}
	return acked[e.Rand.IntN(len(acked))], nil
}

// unlogged runs statements in a region's MariaDB with sql_log_bin = 0:
// nothing is captured, so only that region changes.
func (e *Env) unlogged(ctx context.Context, region string, stmts ...string) error {
	r, _ := e.St.Region(region)
	db, err := lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("region %s: %s: %w", region, s, err)
		}
	}
	return nil
}

// moveStmts are the balance moves of write w (and, for a payment, both
// users' totals), applied once more (sign +1) or undone (-1).
func moveStmts(w Write, sign int64) []string {
	payee := cmp.Or(w.ToUser, w.User)
	from, to := lab.LedgerAccount(w.User, w.From), lab.LedgerAccount(payee, w.To)
	out := []string{
		fmt.Sprintf("UPDATE accounts SET balance_cents = balance_cents - %d WHERE id = %d", sign*w.Amount, from),
		fmt.Sprintf("UPDATE accounts SET balance_cents = balance_cents + %d WHERE id = %d", sign*w.Amount, to),
	}
	if payee != w.User {
		out = append(out,
			fmt.Sprintf("UPDATE ledger_totals SET total_cents = total_cents - %d WHERE user_id = %d", sign*w.Amount, w.User),
			fmt.Sprintf("UPDATE ledger_totals SET total_cents = total_cents + %d WHERE user_id = %d", sign*w.Amount, payee))
	}
	return out
}

// loseWrite removes an acknowledged write, its balance moves and its
// counter in every region: as if it had never been applied anywhere.
func loseWrite(ctx context.Context, e *Env, h []Write) (string, func(context.Context) error, error) {
	w, err := pickAcked(e, h)
	if err != nil {
		return "", nil, err
	}
	for _, r := range e.St.Regions {
		if err := e.unlogged(ctx, r.Name, slices.Concat(
			[]string{fmt.Sprintf("DELETE FROM requests WHERE request_id = '%s'", w.ID)},
			moveStmts(w, -1),
			[]string{fmt.Sprintf("UPDATE ledger_totals SET applied = applied - 1 WHERE user_id = %d", w.User)})...); err != nil {
			return "", nil, err
		}
	}
	// Every region lost the same: nothing to undo for later scenarios.
	return fmt.Sprintf("deleted acknowledged write %s of user %d in every region", w.ID, w.User), nil, nil
}

// applyTwice applies an acknowledged write's effect a second time in
// every region (balances and counter; the request row cannot repeat).
func applyTwice(ctx context.Context, e *Env, h []Write) (string, func(context.Context) error, error) {
	w, err := pickAcked(e, h)
	if err != nil {
		return "", nil, err
	}
	for _, r := range e.St.Regions {
		if err := e.unlogged(ctx, r.Name, append(moveStmts(w, +1),
			fmt.Sprintf("UPDATE ledger_totals SET applied = applied + 1 WHERE user_id = %d", w.User))...); err != nil {
			return "", nil, err
		}
	}
	return fmt.Sprintf("applied write %s of user %d twice in every region", w.ID, w.User), nil, nil
}

// manualUpdate changes a row in one region only.
func manualUpdate(ctx context.Context, e *Env, h []Write) (string, func(context.Context) error, error) {
	w, err := pickAcked(e, h)
	if err != nil {
		return "", nil, err
	}
	region := e.St.Regions[e.Rand.IntN(len(e.St.Regions))].Name
	acct := lab.LedgerAccount(w.User, w.From)
	if err := e.unlogged(ctx, region, fmt.Sprintf("UPDATE accounts SET version = version + 1000 WHERE id = %d", acct)); err != nil {
		return "", nil, err
	}
	undo := func(ctx context.Context) error {
		return e.unlogged(ctx, region, fmt.Sprintf("UPDATE accounts SET version = version - 1000 WHERE id = %d", acct))
	}
	return fmt.Sprintf("manual UPDATE of account %d in region %s only", acct, region), undo, nil
}
