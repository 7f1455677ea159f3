package regiond_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// kindsTable has a column of every type an application's schema uses,
// signed and unsigned at their extremes, and strings in three character
// sets (a latin1 column of a legacy table among them).
const kindsTable = `CREATE TABLE lending.kinds (
	id INT PRIMARY KEY,
	t TINYINT, tu TINYINT UNSIGNED, s SMALLINT, m MEDIUMINT UNSIGNED, i INT, bu BIGINT UNSIGNED, b BIGINT,
	f FLOAT, d DOUBLE, dec1 DECIMAL(30,10), dec2 DECIMAL(5,0),
	bt BIT(12), y YEAR, dt DATETIME(6), ts TIMESTAMP(6) NULL, da DATE, tm TIME(3),
	ch CHAR(6), vc VARCHAR(40), l1 VARCHAR(20) CHARACTER SET latin1, bn BINARY(4), vb VARBINARY(10),
	tx TEXT CHARACTER SET utf8mb4, bl BLOB, js JSON, en ENUM('new','active','closed'), st SET('a','b','c'),
	g VARCHAR(20) CHARACTER SET gbk
)`

// TestColumnValuesRoundTrip: every value arrives as the source stored it,
// byte for byte as the server renders it: numbers at their limits, a
// FLOAT, zero and far dates, a negative TIME, trailing spaces, binary
// bytes, JSON, ENUM and SET, 4-byte UTF-8, and strings of latin1 and gbk
// columns, including latin1 bytes that happen to be valid UTF-8 ('Ã©' is
// C3 A9, which UTF-8 reads as 'é').
func TestColumnValuesRoundTrip(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending", kindsTable)
	labapi.Converged(t, st, time.Minute)
	rows := []string{
		`(1, -128, 255, -32768, 16777215, -2147483648, 18446744073709551615, -9223372036854775808,
			3.14159, 2.2250738585072014e-308, -12345678901234567890.0123456789, 99999,
			b'101010101010', 2155, '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '1000-01-01', '-838:59:59.000',
			'ab', 'trailing  ', _utf8mb4'Ã©' COLLATE utf8mb4_general_ci, 0x00FF0000, 0x00,
			'😀 naïve', 0x00010203FF, '{"a": [1, 2.5, "x"], "b": null}', 'closed', 'a,c', '中文')`,
		`(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			NULL, NULL, _latin1 0xE9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`(3, 0, 0, 0, 0, 0, 0, 0, -0.5, 1e300, 0, -0, b'0', 1901, '0000-00-00 00:00:00', '1970-01-01 00:00:01', '0000-00-00', '00:00:00.001',
			'', '', '', 0x00000000, '', '', '', '[]', 'new', '', '')`,
		// Never updated: latin1 and gbk bytes that read as UTF-8 ('é').
		`(4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, b'1', 2000, '2026-12-06 01:02:03', '2026-12-06 01:02:03', '2026-12-06', '01:02:03',
			'x', 'x', _latin1 0xC3A9, 0x01, 0x01, 'x', 0x01, '{}', 'active', 'b', _gbk 0xC3A9)`,
	}
	for _, r := range rows {
		mustExec(t, a, "INSERT INTO lending.kinds VALUES "+r)
	}
	// An update and a delete find their rows by these values too.
	mustExec(t, a, "UPDATE lending.kinds SET vc = 'updated', l1 = CONCAT(l1, _latin1 0xE9) WHERE id = 1",
		"UPDATE lending.kinds SET f = 1.5 WHERE id = 3")
	labapi.Converged(t, st, time.Minute)
	want, got := dump(t, a), dump(t, b)
	if len(want) != 4 {
		t.Fatalf("a holds %d rows, want 4", len(want))
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "missing"
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("row %d differs:\n a %s\n b %s", i+1, want[i], g)
		}
	}
	sameTables(t, st, "lending.kinds")

	// A BINARY(16) key (a UUID) that ends in zero bytes: updated and
	// deleted by it.
	mustExec(t, a, "CREATE TABLE lending.docs (id BINARY(16) PRIMARY KEY, note VARCHAR(10))",
		"INSERT INTO lending.docs VALUES (0x0102030405060708090A0B0C0D0E0F00, 'one'), (0xA1A2A3A4A5A6A7A8A9AAABAC00000000, 'two'), (0x00000000000000000000000000000000, 'zero')")
	labapi.Converged(t, st, time.Minute)
	mustExec(t, a, "UPDATE lending.docs SET note = 'one-b' WHERE id = 0x0102030405060708090A0B0C0D0E0F00",
		"DELETE FROM lending.docs WHERE id = 0xA1A2A3A4A5A6A7A8A9AAABAC00000000",
		"UPDATE lending.docs SET id = 0x10000000000000000000000000000000 WHERE note = 'zero'")
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.docs")
}

// dump renders every row of lending.kinds as the server sends it (text
// protocol), strings in hex so that bytes compare exactly.
func dump(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT id, t, tu, s, m, i, bu, b, f, d, dec1, dec2, HEX(bt), y, dt, ts, da, tm, HEX(ch), HEX(vc), HEX(l1), HEX(bn), HEX(vb), HEX(tx), HEX(bl), js, en, st, HEX(g) FROM lending.kinds ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = cols[i] + "=NULL"
			} else {
				parts[i] = fmt.Sprintf("%s=%s", cols[i], v)
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
