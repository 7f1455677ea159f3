package binlog

import "testing"

func TestXAStatement(t *testing.T) {
	for _, tc := range []struct {
		q, verb, xid string
		one          bool
	}{
		{"XA START X'7061792d31',X'',1", "START", "X'7061792d31',X'',1", false},
		{"xa end X'31',X'',1", "END", "X'31',X'',1", false},
		{"XA COMMIT X'31',X'',1", "COMMIT", "X'31',X'',1", false},
		{"XA COMMIT X'31',X'',1 ONE PHASE", "COMMIT", "X'31',X'',1", true},
		{"XA ROLLBACK X'31',X'',1", "ROLLBACK", "X'31',X'',1", false},
		{"ALTER TABLE xa ADD c INT", "", "", false},
		{"XA", "", "", false},
	} {
		verb, xid, one := xaStatement(tc.q)
		if verb != tc.verb || xid != tc.xid || one != tc.one {
			t.Errorf("xaStatement(%q) = %q, %q, %v; want %q, %q, %v", tc.q, verb, xid, one, tc.verb, tc.xid, tc.one)
		}
	}
}
