package verify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A chunk is the key range (lo, hi] of a table; nil lo starts at the
// first row, nil hi runs past the last.
type chunk struct {
	lo, hi []any
}

// keyCmp builds a condition comparing the key columns, as a tuple, with
// vals: key > vals, or key <= vals when upTo. It is spelled out column by
// column ((a > ?) OR (a = ? AND b > ?)) so that every server's range
// optimiser uses the primary key.
func keyCmp(cols []string, vals []any, upTo bool) (string, []any) {
	var ors []string
	var args []any
	for i := range cols {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, quote(cols[j])+" = ?")
			args = append(args, vals[j])
		}
		op := " > ?"
		if upTo {
			op = " < ?"
			if i == len(cols)-1 {
				op = " <= ?"
			}
		}
		ands = append(ands, quote(cols[i])+op)
		args = append(args, vals[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// where is the condition selecting chunk c of s (within its scope).
func (c chunk) where(s *schema) (string, []any) {
	var conds []string
	var args []any
	if s.scope != "" {
		conds = append(conds, "("+s.scope+")")
	}
	if c.lo != nil {
		q, a := keyCmp(s.pkCols(), c.lo, false)
		conds, args = append(conds, q), append(args, a...)
	}
	if c.hi != nil {
		q, a := keyCmp(s.pkCols(), c.hi, true)
		conds, args = append(conds, q), append(args, a...)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

// orderBy is the primary key as an ORDER BY list.
func (s *schema) orderBy() string { return quoteAll(s.pkCols()) }

func quoteAll(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quote(c)
	}
	return strings.Join(q, ", ")
}

// boundarySQL selects the key of the ChunkSize-th row after lo: the upper
// bound of the chunk starting after lo (no row: the last chunk).
func boundarySQL(s *schema, lo []any, size int) (string, []any) {
	where, args := chunk{lo: lo}.where(s)
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT 1 OFFSET %d",
		s.orderBy(), s.quoted(), where, s.orderBy(), size-1), args
}

// checksumSQL selects a chunk's row count and the XOR of its rows' MD5s
// as two 64-bit halves (their exact sums for a table without a primary
// key, whose equal rows would cancel out in a XOR). Each row is hashed over every column, joined by
// '#', with a trailing string of ISNULL markers so that NULL and ” (or
// a column shifting into its neighbour) hash differently.
func checksumSQL(s *schema, c chunk) (string, []any) {
	where, args := c.where(s)
	nulls := make([]string, len(s.cols))
	for i, col := range s.cols {
		nulls[i] = "ISNULL(" + quote(col) + ")"
	}
	row := fmt.Sprintf("CONCAT_WS('#', %s, CONCAT(%s))", quoteAll(s.cols), strings.Join(nulls, ", "))
	agg := "BIT_XOR"
	if s.rowKey {
		agg = "SUM"
	}
	return fmt.Sprintf("SELECT COUNT(*), %[1]s(CAST(CONV(SUBSTRING(h, 1, 16), 16, 10) AS UNSIGNED)), "+
		"%[1]s(CAST(CONV(SUBSTRING(h, 17, 16), 16, 10) AS UNSIGNED)) "+
		"FROM (SELECT MD5(%[2]s) AS h FROM %[3]s WHERE %[4]s) AS chunk", agg, row, s.quoted(), where), args
}

// rowsSQL selects a chunk's rows in key order, at most limit.
func rowsSQL(s *schema, c chunk, limit int) (string, []any) {
	where, args := c.where(s)
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d",
		quoteAll(s.cols), s.quoted(), where, s.orderBy(), limit), args
}

// text is a column value as the text compared, printed and written back
// (nil for NULL). Times are the server's (UTC session) wall clock.
func text(v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		s = string(x)
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool:
		s = strconv.FormatBool(x)
	case time.Time:
		s = x.UTC().Format("2006-01-02 15:04:05.999999")
	default:
		s = fmt.Sprint(x)
	}
	return &s
}

// str is text(v), with NULL spelled out.
func str(v any) string {
	if t := text(v); t != nil {
		return *t
	}
	return "NULL"
}
