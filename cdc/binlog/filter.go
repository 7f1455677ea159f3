package binlog

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/regionplatform/region/config"
)

// MetaSchema is the database the applier keeps its checkpoints and
// conflict log in. A source transaction that wrote to it was written by an
// applier and is never captured: this is how loops are prevented, on
// MySQL and MariaDB alike.
const MetaSchema = "_region"

// StampTable is where a data-access guard (router/guard) stamps an
// application's write transaction with the routing epoch and owning cell
// it was admitted under, one row per connection, inside the transaction.
// It is the one table of MetaSchema whose writes do not make a
// transaction an applier's: capture reads the stamp into event.Txn.Epoch
// and Cell and replicates the rest of the transaction.
const StampTable = "txn_stamps"

// StampSchema creates StampTable (in every region: the applier's schema
// and the guard's setup create it).
const StampSchema = `CREATE TABLE IF NOT EXISTS ` + MetaSchema + `.` + StampTable + ` (
	conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY COMMENT 'the writing connection (CONNECTION_ID())',
	cell VARCHAR(64) NOT NULL COMMENT 'the cell owning the transaction''s buckets',
	epoch BIGINT UNSIGNED NOT NULL COMMENT 'the routing epoch the guard admitted it under',
	n BIGINT UNSIGNED NOT NULL COMMENT 'transactions stamped on the connection (every stamp changes the row)',
	stamped_at TIMESTAMP(6) NOT NULL
) ENGINE=InnoDB`

// AppliedMarker starts every DDL statement an applier runs, so capture in
// the target region recognises it (DDL cannot share a transaction with a
// checkpoint row).
const AppliedMarker = "/*region-applied*/"

var systemSchemas = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// Filter decides which tables and DDL statements are replicated.
type Filter struct {
	databases map[string]bool
	exclude   []string
	shard     map[string]string // "db.table" -> shard column
}

// NewFilter builds the filter from the deployment's replication section.
func NewFilter(r config.Replication) *Filter {
	f := &Filter{databases: map[string]bool{}, exclude: slices.Clone(r.Exclude), shard: map[string]string{}}
	for _, d := range r.Databases {
		f.databases[d] = true
	}
	for _, t := range r.Tables {
		if t.Class == config.ClassLocal {
			f.exclude = append(f.exclude, t.Name)
			continue
		}
		if t.ShardColumn != "" {
			f.shard[t.Name] = t.ShardColumn
		}
	}
	return f
}

// Table reports whether changes to db.table are replicated.
func (f *Filter) Table(db, table string) bool {
	if systemSchemas[strings.ToLower(db)] || db == MetaSchema || !f.databases[db] {
		return false
	}
	name := db + "." + table
	for _, p := range f.exclude {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	return true
}

// ShardColumn is the shard column of db.table, or "" for a global table.
func (f *Filter) ShardColumn(db, table string) string { return f.shard[db+"."+table] }

var (
	leadingComments = regexp.MustCompile(`^(\s*/\*.*?\*/\s*|\s*--[^\n]*\n|\s*#[^\n]*\n)*`)
	ddlVerb         = regexp.MustCompile(`(?i)^(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b`)
	databaseDDL     = regexp.MustCompile("(?i)^(CREATE|DROP|ALTER)\\s+(DATABASE|SCHEMA)\\s+(IF\\s+(NOT\\s+)?EXISTS\\s+)?`?([A-Za-z0-9_$]+)`?")
	qualifiedName   = regexp.MustCompile("`?([A-Za-z0-9_$]+)`?\\s*\\.\\s*`?[A-Za-z0-9_$]+`?")
)

// DDL decides what to do with a statement from a query event: whether it
// is a schema change to replicate, and whether an applier wrote it.
//
// It reads the statement, not a full SQL grammar: a schema change counts
// as in a replicated database when it runs with that database as default,
// names it (CREATE DATABASE x), or qualifies a table with it (x.t).
func (f *Filter) DDL(defaultDB, stmt string) (replicate, applied bool) {
	if strings.Contains(stmt, AppliedMarker) {
		return false, true
	}
	body := leadingComments.ReplaceAllString(stmt, "")
	if !ddlVerb.MatchString(body) {
		return false, false
	}
	if m := databaseDDL.FindStringSubmatch(body); m != nil {
		return f.databases[m[5]], false
	}
	qualified := false
	for _, m := range qualifiedName.FindAllStringSubmatch(body, -1) {
		if f.databases[m[1]] {
			return true, false
		}
		if systemSchemas[strings.ToLower(m[1])] || m[1] == MetaSchema {
			qualified = true
		}
	}
	return !qualified && f.databases[defaultDB], false
}
