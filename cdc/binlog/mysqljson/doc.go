// Package mysqljson decodes MySQL's binary JSON (the format of JSON
// columns in MySQL 8's row events) and its partial-update diffs
// (binlog_row_value_options=PARTIAL_JSON), and applies those diffs to a
// document.
package mysqljson
