package rpo

import (
	"slices"
	"testing"
)

// TestApart: the transactions exactly one survivor applied, whichever it
// is; one lost in both, or unknown to the other's read, is not apart; a
// short list or cut keys make the answer incomplete.
func TestApart(t *testing.T) {
	txn := func(gtid string) LostTxn {
		return LostTxn{GTID: gtid, Keys: []RowKey{{Table: "lending.users", Cols: []string{"id"}, Vals: []string{gtid}}}}
	}
	res := func(upTo, gtids string, lost ...LostTxn) Result {
		return Result{ReadUpTo: upTo, LostGTIDs: gtids, LostCount: int64(len(lost)), Lost: lost}
	}
	cases := []struct {
		name     string
		x, y     Result
		want     []string
		complete bool
	}{
		{"both applied everything", res("0-1-10", ""), res("0-1-10", ""), nil, true},
		{"lost in both", res("0-1-10", "0-1-9-10", txn("0-1-9"), txn("0-1-10")), res("0-1-10", "0-1-9-10", txn("0-1-9"), txn("0-1-10")), nil, true},
		{"y applied what x lacks", res("0-1-10", "0-1-8-10", txn("0-1-8"), txn("0-1-9"), txn("0-1-10")), res("0-1-10", "0-1-10", txn("0-1-10")), []string{"0-1-8", "0-1-9"}, true},
		{"x applied what y lacks", res("0-1-10", "0-1-10", txn("0-1-10")), res("0-1-10", "0-1-7,0-1-10", txn("0-1-7"), txn("0-1-10")), []string{"0-1-7"}, true},
		{"both ways", res("0-1-10", "0-1-6,0-1-10", txn("0-1-6"), txn("0-1-10")), res("0-1-10", "0-1-8", txn("0-1-8")), []string{"0-1-6", "0-1-10", "0-1-8"}, true},
		{"written between the two reads", res("0-1-10", ""), res("0-1-12", "0-1-11-12", txn("0-1-11"), txn("0-1-12")), nil, true},
		{"list shorter than the count", Result{ReadUpTo: "0-1-10", LostGTIDs: "0-1-9-10", LostCount: 2, Lost: []LostTxn{txn("0-1-9")}}, res("0-1-10", ""), []string{"0-1-9"}, false},
	}
	for _, c := range cases {
		got, complete, err := Apart("mariadb", c.x, c.y)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var gtids []string
		for _, g := range got {
			gtids = append(gtids, g.GTID)
		}
		if !slices.Equal(gtids, c.want) || complete != c.complete {
			t.Errorf("%s: apart %v complete %v, want %v %v", c.name, gtids, complete, c.want, c.complete)
		}
	}
	cut := txn("0-1-5")
	cut.KeysCut = true
	if _, complete, _ := Apart("mariadb", res("0-1-5", "0-1-5", cut), res("0-1-5", "")); complete {
		t.Error("a transaction whose keys were cut: complete")
	}
	if _, _, err := Apart("mariadb", res("0-1-5", "0-1-5", txn("0-1-5")), res("garbage", "")); err == nil {
		t.Error("a bad ReadUpTo: no error")
	}
}
