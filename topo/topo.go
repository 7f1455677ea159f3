// Package topo holds the nouns every part of the platform shares about
// placement: regions, cells, buckets and how users hash to buckets.
//
// It has no dependencies beyond the standard library so that capture,
// apply, router and controller can all speak of the same things.
package topo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bucket is a slot in the routing table. A user's shard key hashes to one
// bucket; every bucket is owned by exactly one cell at a time.
type Bucket uint32

// BucketOf returns the bucket of a shard key among n buckets:
// FNV-1a (32 bit) of the key's bytes, modulo n. Shard keys are given in
// their text form (the decimal digits of a numeric user id), so that every
// client, in any language, computes the same bucket.
//
// It does not allocate. n must be positive.
func BucketOf(key []byte, n int) Bucket {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for _, c := range key {
		h ^= uint32(c)
		h *= prime32
	}
	return Bucket(h % uint32(n))
}

// BucketOfString is BucketOf for a string key, without allocating.
func BucketOfString(key string, n int) Bucket {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime32
	}
	return Bucket(h % uint32(n))
}

// Range is a closed range of buckets [First, Last].
type Range struct {
	First, Last Bucket
}

// Len is the number of buckets in the range.
func (r Range) Len() int { return int(r.Last-r.First) + 1 }

// Contains reports whether b lies in the range.
func (r Range) Contains(b Bucket) bool { return b >= r.First && b <= r.Last }

// String formats the range as "F-L", or "F" for a single bucket.
func (r Range) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Spread divides n buckets evenly among k owners in contiguous ranges, in
// order: the first n%k owners get one bucket more. It is the starting
// placement of a fresh deployment.
func Spread(n, k int) []Range {
	if n <= 0 || k <= 0 {
		return nil
	}
	out := make([]Range, 0, k)
	next := 0
	for i := 0; i < k; i++ {
		size := n / k
		if i < n%k {
			size++
		}
		if size == 0 {
			out = append(out, Range{First: 1, Last: 0}) // empty
			continue
		}
		out = append(out, Range{First: Bucket(next), Last: Bucket(next + size - 1)})
		next += size
	}
	return out
}

// ParseBuckets parses a bucket list such as "0-255,300,512-515" into
// ranges, checking each bucket is below n. Errors name the bad element.
func ParseBuckets(s string, n int) ([]Range, error) {
	var out []Range
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("bucket list %q has an empty element: write e.g. 0-255,300", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseBucket(lo, n)
		if err != nil {
			return nil, fmt.Errorf("bucket list element %q: %w", part, err)
		}
		last := first
		if isRange {
			if last, err = parseBucket(hi, n); err != nil {
				return nil, fmt.Errorf("bucket list element %q: %w", part, err)
			}
			if last < first {
				return nil, fmt.Errorf("bucket list element %q: range end is below its start", part)
			}
		}
		out = append(out, Range{First: first, Last: last})
	}
	return out, nil
}

func parseBucket(s string, n int) (Bucket, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a bucket number", s)
	}
	if v >= n {
		return 0, fmt.Errorf("bucket %d is out of range: the deployment has buckets 0-%d", v, n-1)
	}
	return Bucket(v), nil
}

// FormatBuckets writes buckets (in any order) as a bucket list such as
// "0-3,7": the form ParseBuckets reads.
func FormatBuckets(bs []Bucket) string {
	s := slices.Clone(bs)
	slices.Sort(s)
	s = slices.Compact(s)
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		parts = append(parts, Range{First: s[i], Last: s[j]}.String())
		i = j + 1
	}
	return strings.Join(parts, ",")
}
