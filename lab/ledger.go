package lab

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/router/guard"
)

// LedgerSchema adds the ledger workload's tables to the sample schema
// (run SampleSchema first). Every user has three accounts whose balances
// always sum to the user's total (ledger_totals.total_cents), which only
// a payment to or from another user changes, in the same transaction.
// Every request the app applies leaves a row keyed by the
// client's request id, so a request applied twice is detectable, and
// bumps the user's applied counter in the same transaction.
//
// The move transaction has shapes real applications have, so that
// replication is tested with them: a secondary UNIQUE key (the
// request's receipt) and a savepoint rolled back to (a promotion tried
// and undone: no promos row ever commits).
var LedgerSchema = []string{
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.accounts (
		id BIGINT NOT NULL PRIMARY KEY COMMENT 'user_id * 10 + kind number (LedgerAccount)',
		user_id BIGINT NOT NULL,
		kind VARCHAR(16) NOT NULL,
		balance_cents BIGINT NOT NULL,
		version BIGINT NOT NULL DEFAULT 1,
		KEY (user_id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.requests (
		request_id VARCHAR(64) NOT NULL PRIMARY KEY,
		user_id BIGINT NOT NULL,
		kind VARCHAR(16) NOT NULL,
		from_account BIGINT NOT NULL,
		to_account BIGINT NOT NULL,
		amount_cents BIGINT NOT NULL,
		region VARCHAR(32) NOT NULL COMMENT 'the region whose app applied it',
		receipt VARCHAR(80) NOT NULL COMMENT 'rcpt-<request_id>: a secondary unique key',
		created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		KEY (user_id),
		UNIQUE KEY uq_receipt (receipt)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.promos (
		request_id VARCHAR(64) NOT NULL PRIMARY KEY,
		user_id BIGINT NOT NULL
	) ENGINE=InnoDB COMMENT 'always empty: every move rolls its promo back to a savepoint'`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.rates (
		name VARCHAR(16) NOT NULL PRIMARY KEY,
		rate_bp BIGINT NOT NULL,
		version BIGINT NOT NULL DEFAULT 1 COMMENT 'raised by every update: last-writer-wins',
		region VARCHAR(32) NOT NULL COMMENT 'the region whose job wrote it last'
	) ENGINE=InnoDB COMMENT 'a global table: rows no user owns, written in every region'`,
	`INSERT IGNORE INTO ` + SampleDatabase + `.rates (name, rate_bp, region) VALUES ('prime', 500, ''), ('promo', 0, ''), ('penalty', 1500, ''), ('fx-eur', 10850, '')`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.user_notes (
		id VARCHAR(64) NOT NULL PRIMARY KEY,
		user_id BIGINT NOT NULL,
		region VARCHAR(32) NOT NULL COMMENT 'the region whose MySQL the job wrote',
		guarded TINYINT NOT NULL COMMENT '1: through the data-access guard',
		created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		KEY (user_id)
	) ENGINE=InnoDB COMMENT 'notes a back-office job writes on users straight into MySQL (chaos: the job)'`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.ledger_totals (
		user_id BIGINT NOT NULL PRIMARY KEY,
		total_cents BIGINT NOT NULL COMMENT 'sum of the user''s balances: changed only by payments between users',
		applied BIGINT NOT NULL DEFAULT 0 COMMENT 'requests applied: one per requests row'
	) ENGINE=InnoDB`,
}

// LedgerTables are the tables LedgerSchema creates.
var LedgerTables = []string{SampleDatabase + ".accounts", SampleDatabase + ".requests", SampleDatabase + ".ledger_totals",
	SampleDatabase + ".promos", SampleDatabase + ".rates", SampleDatabase + ".user_notes"}

// Rates are the rows of the global rates table (LedgerSchema): no user
// owns them, jobs in every region write them straight to MySQL
// (last-writer-wins on version in the lab's config).
var Rates = []string{"prime", "promo", "penalty", "fx-eur"}

// The accounts of a ledger user, by kind number, and what they open with.
const (
	Wallet  = 1 // cash: opens with WalletOpening
	Savings = 2 // opens empty
	Loan    = 3 // the debt, negative: opens with LoanOpening
)

// Opening balances of a ledger user's accounts.
const (
	WalletOpening int64 = 100_000
	LoanOpening   int64 = -50_000
)

// LedgerAccounts are the kind numbers and names of a user's accounts.
var LedgerAccounts = map[int]string{Wallet: "wallet", Savings: "savings", Loan: "loan"}

// LedgerAccount is the id of a user's account of kind k.
func LedgerAccount(user int64, k int) int64 { return user*10 + int64(k) }

// LedgerOpening is the opening balance of an account of kind k.
func LedgerOpening(k int) int64 {
	switch k {
	case Wallet:
		return WalletOpening
	case Loan:
		return LoanOpening
	}
	return 0
}

// LedgerRequest is the body of POST /users/{id}/moves: move AmountCents
// from the user's account of kind From to kind To of user ToUser (0: the
// same user). Kind is "transfer" (between wallet and savings), "repay"
// (wallet to loan) or "pay" (wallet to another user's wallet: several
// users in one transaction; the gateway routes by the paying user, so
// both must be in the same bucket, and ledger.Pairs picks such users).
type LedgerRequest struct {
	RequestID   string `json:"request_id"`
	Kind        string `json:"kind"`
	From        int    `json:"from"`
	To          int    `json:"to"`
	ToUser      int64  `json:"to_user,omitempty"`
	AmountCents int64  `json:"amount_cents"`
}

// LedgerReply is the app's answer to a ledger request.
type LedgerReply struct {
	User      int64  `json:"user"`
	Region    string `json:"region"`
	RequestID string `json:"request_id,omitempty"`
	// GTID is the transaction that applied the request in Region.
	GTID string `json:"gtid,omitempty"`
	// Duplicate: the request id was applied before; nothing changed.
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (a *App) ledgerReply(w http.ResponseWriter, code int, v LedgerReply) {
	v.Region = a.region
	answer(w, code, v.GTID, v)
}

// openLedger opens a user's three accounts (POST /users/{id}/ledger). A
// user who has them already gets 200.
func (a *App) openLedger(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.ledgerReply(w, http.StatusBadRequest, LedgerReply{Error: "user id must be a positive number"})
		return
	}
	gtid, err := a.inConn(r.Context(), userWrites(id), func(tx *sql.Tx) error {
		total := int64(0)
		for k, name := range LedgerAccounts {
			if _, err := tx.ExecContext(r.Context(), `INSERT INTO accounts (id, user_id, kind, balance_cents) VALUES (?, ?, ?, ?)`,
				LedgerAccount(id, k), id, name, LedgerOpening(k)); err != nil {
				return err
			}
			total += LedgerOpening(k)
		}
		_, err := tx.ExecContext(r.Context(), `INSERT INTO ledger_totals (user_id, total_cents) VALUES (?, ?)`, id, total)
		return err
	})
	if isDuplicate(err) {
		a.ledgerReply(w, http.StatusOK, LedgerReply{User: id, Duplicate: true})
		return
	}
	if err != nil {
		a.ledgerReply(w, errorCode(err), LedgerReply{User: id, Error: err.Error()})
		return
	}
	a.ledgerReply(w, http.StatusCreated, LedgerReply{User: id, GTID: gtid})
}

// move applies one ledger request (POST /users/{id}/moves) as one
// transaction (moveTxn). A request id applied before answers 200 with
// duplicate set.
func (a *App) move(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.ledgerReply(w, http.StatusBadRequest, LedgerReply{Error: "user id must be a positive number"})
		return
	}
	var req LedgerRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.RequestID == "" || req.AmountCents <= 0 ||
		LedgerAccounts[req.From] == "" || LedgerAccounts[req.To] == "" || req.ToUser < 0 || (req.From == req.To && req.ToUser == 0) {
		a.ledgerReply(w, http.StatusBadRequest, LedgerReply{User: id, Error: `send {"request_id": "unique", "kind": "transfer|repay|pay", "from": 1-3, "to": 1-3 (another, or any with to_user), "to_user": another user's id (optional), "amount_cents": N > 0}`})
		return
	}
	if req.ToUser == id {
		req.ToUser = 0
	}
	gtid, err := a.moveTxn(r.Context(), id, req)
	switch {
	case isDuplicate(err):
		a.ledgerReply(w, http.StatusOK, LedgerReply{User: id, RequestID: req.RequestID, Duplicate: true})
	case errors.Is(err, sql.ErrNoRows):
		msg := "the user has no ledger accounts: POST /users/{id}/ledger first"
		if req.ToUser != 0 {
			msg = fmt.Sprintf("the user or the payee (to_user %d) has no ledger accounts: POST /users/{id}/ledger for both first", req.ToUser)
		}
		a.ledgerReply(w, http.StatusNotFound, LedgerReply{User: id, Error: msg})
	case err != nil:
		a.ledgerReply(w, errorCode(err), LedgerReply{User: id, Error: err.Error()})
	default:
		a.ledgerReply(w, http.StatusCreated, LedgerReply{User: id, RequestID: req.RequestID, GTID: gtid})
	}
}

// moveTxn is the move's transaction: the request row (with its unique
// receipt), a promotion rolled back to a savepoint, both balances and
// the user's applied counter, and for a payment to another user both
// users' totals; it returns the commit's GTID.
func (a *App) moveTxn(ctx context.Context, id int64, req LedgerRequest) (string, error) {
	users := []int64{id}
	if req.ToUser != 0 {
		users = append(users, req.ToUser)
	}
	return a.inConn(ctx, userWrites(users...), func(tx *sql.Tx) error {
		payee := cmp.Or(req.ToUser, id)
		from, to := LedgerAccount(id, req.From), LedgerAccount(payee, req.To)
		if _, err := tx.ExecContext(ctx, `INSERT INTO requests (request_id, user_id, kind, from_account, to_account, amount_cents, region, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			req.RequestID, id, req.Kind, from, to, req.AmountCents, a.region, "rcpt-"+req.RequestID); err != nil {
			return err
		}
		// A promotion tried and undone, as an ORM's nested transaction
		// does it: nothing of it commits.
		if _, err := tx.ExecContext(ctx, "SAVEPOINT promo"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO promos (request_id, user_id) VALUES (?, ?)", req.RequestID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT promo"); err != nil {
			return err
		}
		moves := []struct {
			acct, delta int64
		}{{from, -req.AmountCents}, {to, req.AmountCents}}
		if to < from { // lock accounts in id order: concurrent moves never deadlock
			moves[0], moves[1] = moves[1], moves[0]
		}
		for _, m := range moves {
			res, err := tx.ExecContext(ctx, `UPDATE accounts SET balance_cents = balance_cents + ?, version = version + 1 WHERE id = ?`, m.delta, m.acct)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return sql.ErrNoRows
			}
		}
		if payee != id {
			// Both users' totals, in user order (no deadlock).
			totals := []struct{ user, delta int64 }{{id, -req.AmountCents}, {payee, req.AmountCents}}
			if payee < id {
				totals[0], totals[1] = totals[1], totals[0]
			}
			for _, t := range totals {
				res, err := tx.ExecContext(ctx, `UPDATE ledger_totals SET total_cents = total_cents + ? WHERE user_id = ?`, t.delta, t.user)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return sql.ErrNoRows
				}
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE ledger_totals SET applied = applied + 1 WHERE user_id = ?`, id)
		return err
	})
}

// inConn runs fn in a transaction the guard admits for users, on one
// connection, and returns the GTID the commit got (MariaDB's
// @@last_gtid), so that a client can match its acknowledged writes with
// a failover's reported losses.
func (a *App) inConn(ctx context.Context, w guard.Writes, fn func(*sql.Tx) error) (string, error) {
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := inTx(ctx, a.guard, conn, w, fn); err != nil {
		return "", err
	}
	var gtid string
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		return "", fmt.Errorf("committed, but reading its GTID failed: %w", err)
	}
	return gtid, nil
}

func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
