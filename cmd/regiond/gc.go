package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcDefaults collects garbage at 400% heap growth instead of Go's 100%,
// unless GOGC says otherwise: regiond's live heap is small (tens of MB)
// and it allocates for every row it captures or applies, so at Go's
// default the collector ran often. Under the lab's full load this cut the
// applying regiond's CPU per transaction by about 7% and capture's by 3%,
// and the applier's CPU draining a backlog by 6% (docs/BENCHMARKS.md).
//
// Unless GOMEMLIMIT says otherwise, a soft memory limit (memLimit) then
// keeps that growth within what the process may use: a large transaction
// is held whole before it applies, so the live heap can be hundreds of MB,
// and 400% growth on it must not reach a container's limit. A fixed
// limit would do the opposite harm: one below a legitimate live heap
// makes the collector run without pause.
//
// A GOGC that is neither a percentage nor "off" is an error (Go itself
// would quietly use 100).
func gcDefaults() error {
	switch v := os.Getenv("GOGC"); v {
	case "":
		debug.SetGCPercent(400)
	case "off":
	default:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("GOGC=%q: give the heap growth that starts a collection in percent (regiond's default: 400) or off", v)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		cgroup, _ := cgroupMemoryMax()
		total, _ := machineMemory()
		if limit := memLimit(cgroup, total); limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	return nil
}

// minMemLimit is the least soft limit memLimit gives a machine.
const minMemLimit = 256 << 20

// memLimit is the soft memory limit for a process whose cgroup may use
// cgroup bytes (0: no limit) on a machine of total bytes (0: unknown):
// three quarters of the cgroup's limit, leaving room for what is not
// Go's heap, or else a quarter of the machine (other servers share it),
// at least minMemLimit; 0 when neither is known (Go's default, no
// limit).
func memLimit(cgroup, total int64) int64 {
	switch {
	case cgroup > 0 && (total <= 0 || cgroup < total):
		return cgroup / 4 * 3
	case total > 0:
		return max(total/4, minMemLimit)
	}
	return 0
}

// cgroupMemoryMax reads the memory limit of this process's cgroup (v2,
// or v1's limit_in_bytes); 0 when there is none.
func cgroupMemoryMax() (int64, error) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, nil
		}
		return strconv.ParseInt(s, 10, 64)
	}
	return 0, nil
}

// machineMemory reads MemTotal from /proc/meminfo, in bytes.
func machineMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, sc.Err()
}
