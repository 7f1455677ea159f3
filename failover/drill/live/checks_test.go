package live

import (
	"reflect"
	"testing"

	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/verify"
)

// TestTableChecksums: verify's result told per table for the drill
// report: equal tables, differing rows counted per region, a table that
// could not be compared, differences past the kept ones.
func TestTableChecksums(t *testing.T) {
	res := &verify.Result{Reference: "a", Regions: []string{"a", "b", "c"},
		Tables: []verify.TableResult{
			{Table: "d.same", Rows: 10},
			{Table: "d.drift", Rows: 7, DifferingChunks: 1, DifferingRows: 3},
			{Table: "d.gone", Error: "region b: table d.gone does not exist"},
			{Table: "d.many", Rows: 5000, DifferingChunks: 4, DifferingRows: 2000},
		},
		Diffs:      []verify.RowDiff{{Table: "d.drift", Region: "b"}, {Table: "d.drift", Region: "b"}, {Table: "d.drift", Region: "c"}},
		DiffsTotal: 2003,
	}
	want := []drill.TableChecksum{
		{Table: "d.same", Checksums: map[string]string{"a": "10 rows", "b": "same rows", "c": "same rows"}, Equal: true},
		{Table: "d.drift", Checksums: map[string]string{"a": "7 rows", "b": "2 rows differ", "c": "1 rows differ"}},
		{Table: "d.gone", Checksums: map[string]string{"a": "not compared: region b: table d.gone does not exist"}},
		{Table: "d.many", Checksums: map[string]string{"a": "5000 rows", "b": "2000 rows differ in some region", "c": "2000 rows differ in some region"}},
	}
	if got := tableChecksums(res); !reflect.DeepEqual(got, want) {
		t.Errorf("tableChecksums =\n%+v\nwant\n%+v", got, want)
	}
}
