package apply

import (
	"errors"
	"testing"
)

func TestLastCovered(t *testing.T) {
	for _, c := range []struct {
		name                  string
		oldest, newest, bound int64 // offsets below bound are covered
		want                  int64
		err                   error
	}{
		{"empty topic", 0, 0, 0, -1, nil},
		{"nothing covered, nothing deleted", 0, 10, 0, -1, nil},
		{"all covered", 0, 10, 10, 9, nil},
		{"some covered", 0, 10, 4, 3, nil},
		{"one message, covered", 0, 1, 1, 0, nil},
		{"retention deleted covered ones only", 5, 10, 7, 6, nil},
		{"retention deleted covered ones, the rest covered", 5, 10, 10, 9, nil},
		{"retention deleted past the copy", 5, 10, 3, 0, errRetention},
		{"retention emptied the partition", 5, 5, 3, 0, errRetention},
	} {
		reads := 0
		got, err := lastCovered(c.oldest, c.newest, func(o int64) (bool, error) {
			if o < c.oldest || o >= c.newest {
				t.Fatalf("%s: read offset %d outside [%d, %d)", c.name, o, c.oldest, c.newest)
			}
			reads++
			return o < c.bound, nil
		})
		if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
			t.Errorf("%s: lastCovered = %d, %v; want %d, %v", c.name, got, err, c.want, c.err)
		}
		if reads > 5 {
			t.Errorf("%s: %d reads for %d messages: not a binary search", c.name, reads, c.newest-c.oldest)
		}
	}
	boom := errors.New("broker gone")
	if _, err := lastCovered(0, 10, func(int64) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("read error lost: %v", err)
	}
}
