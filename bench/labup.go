package bench

import (
	"context"
	"io"
	"os"

	"github.com/regionplatform/region/lab"
)

// twoRegions starts a fresh lab with regions a and b in dir, or in a
// temporary folder named after the benchmark when dir is empty; stop
// takes it down (and removes the temporary folder). bin unset: the
// binaries lab.FindBinaries finds.
func twoRegions(ctx context.Context, dir, name string, bin lab.Binaries, progress io.Writer) (st *lab.State, stop func(), err error) {
	if bin.Regiond == "" {
		if bin, err = lab.FindBinaries(); err != nil {
			return nil, nil, err
		}
	}
	tmp := ""
	if dir == "" {
		if tmp, err = os.MkdirTemp("", "bench-"+name+"-"); err != nil {
			return nil, nil, err
		}
		dir = tmp
	}
	stop = func() {
		_ = lab.Down(context.Background(), dir, io.Discard)
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}
	if st, err = lab.Up(ctx, lab.Options{Dir: dir, Regions: []string{"a", "b"}, Bin: bin, Progress: progress}); err != nil {
		stop()
		return nil, nil, err
	}
	return st, stop, nil
}
