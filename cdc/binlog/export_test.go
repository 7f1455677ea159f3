package binlog

import (
	"context"

	"github.com/go-mysql-org/go-mysql/replication"
)

// Assemble feeds evs to a fresh assembler, as Run does with the
// server's stream, and returns the transactions it completes.
func Assemble(ctx context.Context, cfg Config, evs ...*replication.BinlogEvent) ([]Item, error) {
	a := &assembler{ctx: ctx, cfg: &cfg}
	var out []Item
	for _, ev := range evs {
		it, done, err := a.add(ev)
		if err != nil {
			return out, err
		}
		if done {
			out = append(out, it)
		}
	}
	return out, nil
}

// Parser is a go-mysql parser set up as Run sets up its syncer's: the
// flavor, MySQL's JSON text, and the Reader's rows decoding.
func Parser(cfg Config) *replication.BinlogParser {
	p := replication.NewBinlogParser()
	p.SetFlavor(cfg.Flavor)
	p.SetRenderJSONAsMySQLText(true)
	p.SetRowsEventDecodeFunc((&Reader{cfg: cfg}).decodeRows)
	return p
}
