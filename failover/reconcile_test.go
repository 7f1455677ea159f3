package failover

import (
	"testing"

	"github.com/regionplatform/region/cdc/rpo"
)

// TestKeyScope: one condition per table matching exactly the rows the
// transactions wrote, each once, composite keys as tuples, and values
// that need escaping as hex strings.
func TestKeyScope(t *testing.T) {
	key := func(table string, kv ...string) rpo.RowKey {
		k := rpo.RowKey{Table: table}
		for i := 0; i < len(kv); i += 2 {
			k.Cols, k.Vals = append(k.Cols, kv[i]), append(k.Vals, kv[i+1])
		}
		return k
	}
	txns := []rpo.LostTxn{
		{GTID: "0-1-5", Keys: []rpo.RowKey{key("lending.users", "id", "7"), key("lending.rates", "name", "base")}},
		{GTID: "0-1-6", Keys: []rpo.RowKey{key("lending.users", "id", "7"), key("lending.users", "id", "12"), key("lending.notes", "user_id", "7", "seq", "2")}},
		{GTID: "0-1-7", Keys: []rpo.RowKey{key("lending.rates", "name", "it's")}},
	}
	got := keyScope(txns)
	want := map[string]string{
		"lending.users": "(`id`) IN (('12'),('7'))",
		"lending.rates": "(`name`) IN (('base'),(X'69742773'))",
		"lending.notes": "(`user_id`,`seq`) IN (('7','2'))",
	}
	if len(got) != len(want) {
		t.Fatalf("scope %v, want %v", got, want)
	}
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: %q, want %q", table, got[table], w)
		}
	}
	for v, w := range map[string]string{"2026-12-03 10:00:00": "'2026-12-03 10:00:00'", "-1.5e3": "'-1.5e3'", `a\b`: `X'615c62'`, "": "''"} {
		if got := literal(v); got != w {
			t.Errorf("literal(%q) = %s, want %s", v, got, w)
		}
	}
}
