package lab

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a free TCP port on 127.0.0.1 below the kernel's
// ephemeral range. A port in that range can be taken at any moment as the
// source port of some outgoing connection, and a lab server that is
// restarted on its port (lab start) would then find it gone. Another
// process may still take the port before it is used; the lab checks every
// port again when a server binds it.
func FreePort() (int, error) {
	lo, hi := 10000, ephemeralLow()-1
	if hi-lo >= 1000 {
		for i := 0; i < 100; i++ {
			p := lo + rand.IntN(hi-lo+1)
			if portFree(p) {
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the lowest port the kernel gives outgoing connections.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// portOpen reports whether something accepts TCP connections on port.
// A dial to a free port in the ephemeral range can connect to itself (the
// kernel picks the same port as the source: TCP self-connect); that is
// not a listener.
func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 300*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	return c.LocalAddr().String() != c.RemoteAddr().String()
}

// portFree reports whether port can be bound on 127.0.0.1.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
