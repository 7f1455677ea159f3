package capture

import (
	"context"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// Foreign key actions (ON DELETE / ON UPDATE CASCADE or SET NULL) change
// child rows that neither the binlog nor the writeset shows: the
// transaction that deletes a loan also deletes its installments, which
// the applier repeats where the loan's delete applies (cdc/apply,
// cascade.go). Such a transaction must apply after every transaction
// before it (one that inserted an installment in another partition, which
// the cascade must find) and before every transaction after it (one that
// updates the installment, or a collateral row the action set to NULL,
// which must find it changed). Capture makes it a barrier, as MySQL's
// WRITESET tracking falls back to commit order for transactions on
// tables that foreign keys reference: its deps are every partition up to
// it (deps.all), and every later transaction depends on it.

// firesActions reports whether a row of t sets off an action of a
// foreign key of the source (cat) that references its table: a delete,
// with an ON DELETE action, or an update of the referenced columns, with
// an ON UPDATE action.
func firesActions(ctx context.Context, cat *catalog.Cache, t *event.Txn) (bool, error) {
	for i := range t.Tables {
		tb := &t.Tables[i]
		_, to, err := cat.ForeignKeys(ctx, tb.Schema, tb.Name)
		if err != nil {
			return false, err
		}
		for _, fk := range to {
			for _, r := range t.Rows {
				if r.T == i && fk.FiredBy(tb, r) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}
