package topo

import (
	"hash/fnv"
	"strings"
	"testing"
)

// TestBucketOfMatchesFNV pins the hash to FNV-1a 32 (checked against the
// standard library's implementation): clients in other languages must
// agree, so a change here would misroute every user.
func TestBucketOfMatchesFNV(t *testing.T) {
	for _, key := range []string{"", "1", "42", "1234567890", "user-\u00e9"} {
		h := fnv.New32a()
		h.Write([]byte(key))
		want := Bucket(h.Sum32() % 1024)
		if got := BucketOfString(key, 1024); got != want {
			t.Errorf("BucketOfString(%q) = %d, want %d", key, got, want)
		}
		if got := BucketOf([]byte(key), 1024); got != want {
			t.Errorf("BucketOf(%q) = %d, want %d", key, got, want)
		}
	}
	if got := BucketOfString("1", 1024); got != 796 { // fixed point for SDK authors
		t.Errorf("BucketOfString(\"1\") = %d, want 796", got)
	}
}

func TestBucketOfDoesNotAllocate(t *testing.T) {
	key := []byte("123456789")
	if n := testing.AllocsPerRun(100, func() { BucketOf(key, 1024); BucketOfString("123456789", 1024) }); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
}

func TestSpread(t *testing.T) {
	rs := Spread(1024, 3)
	if len(rs) != 3 || rs[0] != (Range{0, 341}) || rs[1] != (Range{342, 682}) || rs[2] != (Range{683, 1023}) {
		t.Errorf("Spread(1024,3) = %v", rs)
	}
	total := 0
	for _, r := range Spread(10, 4) {
		total += r.Len()
	}
	if total != 10 {
		t.Errorf("Spread(10,4) covers %d buckets", total)
	}
}

func TestParseBuckets(t *testing.T) {
	rs, err := ParseBuckets("0-255, 300,512-515", 1024)
	if err != nil || len(rs) != 3 || rs[0].Len() != 256 || rs[1].String() != "300" || rs[2].String() != "512-515" {
		t.Fatalf("ParseBuckets = %v, %v", rs, err)
	}
	for in, want := range map[string]string{
		"0-2000": "out of range", "5-1": "below its start", "a": "not a bucket number", "1,,2": "empty element", "-3": "not a bucket number",
	} {
		if _, err := ParseBuckets(in, 1024); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBuckets(%q): %v, want %q", in, err, want)
		}
	}
}
