package lab

import (
	"fmt"
	"net"
	"time"
)

// FreePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before it is used; the lab checks every port again
// when a server binds it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
