package lab

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/guard"
)

// App is the lab's sample lending application: one per region, writing
// to that region's MariaDB only. The gateway sends every user's requests
// to the app of the region its cell lives in, so the lab shows routing,
// fences and switches end to end.
//
//	POST /users/{id}/loans       {"principal_cents": N}  open a loan (creates the user)
//	POST /users/{id}/repayments  {"amount_cents": N}     book a repayment
//	GET  /users/{id}                                     the user's balance and ledger
//	POST /users/{id}/ledger                              open the user's ledger accounts (LedgerSchema)
//	POST /users/{id}/moves       LedgerRequest           move money between the user's accounts, or pay another user (to_user)
//	GET  /users/{id}/requests                            the user's ledger history (read bounded: router.read_levels)
//	POST /products               ProductRequest          add a product to the catalogue, a global table (only in its home)
//	GET  /products/{code}                                read a product from the region's copy
//
// Every answer carries X-App-Region, the region that served it; a write's
// carries X-Region-GTID, its commit, from which the gateway makes the
// client's session token.
type App struct {
	db     *sql.DB
	guard  *guard.Guard
	region string
	mux    *http.ServeMux
}

// NewApp returns the app of region writing to db (the sample database)
// in transactions g admits (router/guard: the user's bucket must be
// owned by the region and not fenced when the transaction commits).
func NewApp(db *sql.DB, g *guard.Guard, region string) *App {
	a := &App{db: db, guard: g, region: region, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /users/{id}/loans", a.openLoan)
	a.mux.HandleFunc("POST /users/{id}/repayments", a.repay)
	a.mux.HandleFunc("GET /users/{id}", a.user)
	a.mux.HandleFunc("POST /users/{id}/ledger", a.openLedger)
	a.mux.HandleFunc("POST /users/{id}/moves", a.move)
	a.mux.HandleFunc("GET /users/{id}/requests", a.history)
	a.mux.HandleFunc("POST /products", a.addProduct)
	a.mux.HandleFunc("GET /products/{code}", a.product)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return a
}

// AppReply is the body of the app's answers.
type AppReply struct {
	User         int64  `json:"user"`
	Region       string `json:"region"`
	BalanceCents int64  `json:"balance_cents"`
	Entries      int    `json:"entries"`
	Error        string `json:"error,omitempty"`
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-App-Region", a.region)
	a.mux.ServeHTTP(w, r)
}

func (a *App) reply(w http.ResponseWriter, code int, v AppReply) {
	v.Region = a.region
	answer(w, code, "", v)
}

// request reads the user id and a one-field JSON body.
func (a *App) request(w http.ResponseWriter, r *http.Request, field string) (int64, int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.reply(w, http.StatusBadRequest, AppReply{Error: "user id must be a positive number"})
		return 0, 0, false
	}
	var body map[string]int64
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body[field] <= 0 {
		a.reply(w, http.StatusBadRequest, AppReply{User: id, Error: fmt.Sprintf(`send {"%s": N} with N > 0`, field)})
		return 0, 0, false
	}
	return id, body[field], true
}

func (a *App) openLoan(w http.ResponseWriter, r *http.Request) {
	id, principal, ok := a.request(w, r, "principal_cents")
	if !ok {
		return
	}
	if err := openLoan(r.Context(), a.guard, a.db, id, CellName(a.region), principal); err != nil {
		a.fail(w, id, err)
		return
	}
	a.summary(w, r, id, http.StatusCreated)
}

func (a *App) repay(w http.ResponseWriter, r *http.Request) {
	id, amount, ok := a.request(w, r, "amount_cents")
	if !ok {
		return
	}
	if err := repay(r.Context(), a.guard, a.db, id, amount); err != nil {
		a.fail(w, id, err)
		return
	}
	a.summary(w, r, id, http.StatusCreated)
}

func (a *App) user(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.reply(w, http.StatusBadRequest, AppReply{Error: "user id must be a number"})
		return
	}
	a.summary(w, r, id, http.StatusOK)
}

func (a *App) summary(w http.ResponseWriter, r *http.Request, id int64, code int) {
	rep := AppReply{User: id}
	err := a.db.QueryRowContext(r.Context(), `SELECT COALESCE(SUM(balance_cents), 0), (SELECT COUNT(*) FROM ledger_entries WHERE user_id = ?)
		FROM loan_accounts WHERE user_id = ?`, id, id).Scan(&rep.BalanceCents, &rep.Entries)
	if err != nil {
		a.fail(w, id, err)
		return
	}
	a.reply(w, code, rep)
}

func (a *App) fail(w http.ResponseWriter, id int64, err error) {
	code := errorCode(err)
	if errors.Is(err, sql.ErrNoRows) {
		code = http.StatusNotFound
		err = errors.New("the user has no loan: POST /users/{id}/loans first")
	}
	a.reply(w, code, AppReply{User: id, Error: err.Error()})
}

// errorCode is the answer to a failed write: 503 when the guard refused
// it (the user's bucket is fenced or owned elsewhere by now) or the
// region's MySQL is read-only (error 1290: the region is fenced or failed
// over, or its regiond has not confirmed it takes writes yet), which the
// client retries (the gateway sends it to the region that owns the user
// by then); 500 otherwise.
func errorCode(err error) int {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1290 || errors.Is(err, guard.ErrFenced) || errors.Is(err, guard.ErrNotOwner) || errors.Is(err, guard.ErrNoTable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// HeaderGTID is router/gateway.HeaderGTID (the gateway's tests build
// labs, so lab does not import it; TestReadLevelsOnLab uses both).
const HeaderGTID = "X-Region-GTID"

// answer writes v as JSON with code: a 503 says when to retry, and gtid
// (a write's commit, or "") goes to the gateway in HeaderGTID, from
// which it makes the client's session token.
func answer(w http.ResponseWriter, code int, gtid string, v any) {
	retryLater(w, code)
	if gtid != "" {
		w.Header().Set(HeaderGTID, gtid)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// retryLater tells a client answered 503 when to try again.
func retryLater(w http.ResponseWriter, code int) {
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
}

// ServeApp runs region's app on 127.0.0.1:port against the MariaDB on
// mysqlPort until ctx ends, with a guard following the routing table of
// the deployment configured in configPath.
func ServeApp(ctx context.Context, region string, port, mysqlPort int, configPath string) error {
	dep, err := config.Load(configPath)
	if err != nil {
		return err
	}
	etcd, err := dial.Etcd(ctx, dep)
	if err != nil {
		return err
	}
	defer etcd.Close()
	gc := guard.DefaultConfig()
	gc.Store, gc.ID, gc.Region = router.NewStore(etcd, dep.Etcd.Prefix), "app-"+region, region
	gc.Partitions = dep.Replication.Topic.Partitions
	if r, ok := dep.Region(region); ok {
		gc.Flavor = r.MySQL.Flavor
	}
	g, err := guard.New(gc)
	if err != nil {
		return err
	}
	db, err := OpenAppMySQL(mysqlPort, SampleDatabase)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(64)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("app %s: %w", region, err)
	}
	gctx, stopGuard := context.WithCancel(ctx)
	guarded := make(chan error, 1)
	go func() { guarded <- g.Run(gctx) }()
	srv := &http.Server{Handler: NewApp(db, g, region), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	stopGuard()
	if gerr := <-guarded; gerr != nil {
		return gerr
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
