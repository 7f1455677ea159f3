package apply

import (
	"container/list"
	"context"
	"database/sql"
	"sync"
)

// Prepared statements: the applier's short statements (a probe of a few
// keys, an upsert or delete of a few rows: maxPreparedRows; the
// checkpoint) repeat the same few texts with new values while a link
// keeps up, so each text is prepared once and then executed with its
// values in MySQL's binary protocol: the server parses it once, and the
// applier sends values instead of escaping them into text. A long
// statement (a backlog's run folds dozens of rows into one) runs as
// plain text: its count of rows seldom repeats, and each new text would
// be prepared on every worker's connection for one or two uses.
//
// Only statements whose values are numbers and (valid UTF-8) strings are
// prepared: a []byte value (binary data, or text that is not valid UTF-8)
// goes inline as _binary'...', which copies its bytes into the column,
// where a prepared statement's string parameter would be read in the
// connection's character set.
//
// A text is prepared for the target's database handle and, by
// database/sql, once on each worker's connection the first time that
// worker runs it (Tx.StmtContext). A text that cannot be prepared (too
// many placeholders, the server's max_prepared_stmt_count reached, or
// any error, which the plain statement then reports) runs as a plain
// statement, as before.

// maxPrepared bounds the texts kept prepared for a target: a probe, an
// upsert and a delete of each count of rows up to maxPreparedRows, for
// each table a link writes.
const maxPrepared = 256

// maxPlaceholders is the protocol's limit on one prepared statement's
// parameters (a 2-byte count).
const maxPlaceholders = 65535

// statements keeps the most recently used prepared texts of one target.
type statements struct {
	db *sql.DB

	mu    sync.Mutex
	byKey map[string]*list.Element // of *prepared
	lru   list.List                // front: most recently used
	// prepares counts the texts prepared (a miss), for metrics.
	prepares func()
}

type prepared struct {
	query string
	st    *sql.Stmt
}

func newStatements(db *sql.DB, prepares func()) *statements {
	return &statements{db: db, byKey: map[string]*list.Element{}, prepares: prepares}
}

// exec runs query with args in tx, prepared when it can be (s nil: never).
func (s *statements) exec(ctx context.Context, tx *sql.Tx, query string, args []any) (sql.Result, error) {
	st := s.get(ctx, query, args)
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	ts := tx.StmtContext(ctx, st)
	defer ts.Close()
	return ts.ExecContext(ctx, args...)
}

// query runs query with args in tx, prepared when it can be (s nil:
// never). The rows hold the statement until they are closed.
func (s *statements) query(ctx context.Context, tx *sql.Tx, query string, args []any) (*sql.Rows, error) {
	st := s.get(ctx, query, args)
	if st == nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// preparable reports whether a statement with args runs prepared.
func preparable(args []any) bool {
	if len(args) == 0 || len(args) > maxPlaceholders {
		return false
	}
	for _, a := range args {
		if _, ok := a.([]byte); ok {
			return false
		}
	}
	return true
}

// get returns query prepared, or nil when it is not to be (s nil, or args
// not preparable) or could not be.
func (s *statements) get(ctx context.Context, query string, args []any) *sql.Stmt {
	if s == nil || !preparable(args) {
		return nil
	}
	s.mu.Lock()
	if e, ok := s.byKey[query]; ok {
		s.lru.MoveToFront(e)
		st := e.Value.(*prepared).st
		s.mu.Unlock()
		return st
	}
	s.mu.Unlock()
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if s.prepares != nil {
		s.prepares()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byKey[query]; ok { // another worker prepared it meanwhile
		st.Close()
		s.lru.MoveToFront(e)
		return e.Value.(*prepared).st
	}
	s.byKey[query] = s.lru.PushFront(&prepared{query: query, st: st})
	for s.lru.Len() > maxPrepared {
		old := s.lru.Remove(s.lru.Back()).(*prepared)
		delete(s.byKey, old.query)
		// database/sql closes it on every connection once no transaction
		// uses it any more.
		old.st.Close()
	}
	return st
}

// close closes every prepared statement.
func (s *statements) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*prepared).st.Close()
	}
	s.byKey = map[string]*list.Element{}
	s.lru.Init()
}
