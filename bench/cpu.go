package bench

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of CPU times in /proc: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds reads the CPU time (user + system) a process has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it start at the
	// last ')'. utime and stime are fields 14 and 15 overall.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(u+s) / clockTicks, nil
}

// cpuMeter measures the CPU time processes use between start and stop.
type cpuMeter struct {
	pids  map[string]int
	start map[string]float64
}

func startCPU(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: map[string]float64{}}
	for name, pid := range pids {
		if s, err := cpuSeconds(pid); err == nil {
			m.start[name] = s
		}
	}
	return m
}

// stop returns each process's CPU seconds since start.
func (m *cpuMeter) stop() map[string]float64 {
	out := map[string]float64{}
	for name, pid := range m.pids {
		s0, ok := m.start[name]
		if s, err := cpuSeconds(pid); ok && err == nil {
			out[name] = *opt(s - s0)
		}
	}
	return out
}
