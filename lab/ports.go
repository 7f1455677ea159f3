package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a free TCP port on 127.0.0.1 below the kernel's
// ephemeral range. A port in that range can be taken at any moment as the
// source port of some outgoing connection, and a lab server that is
// restarted on its port (lab start) would then find it gone. Another
// process may still take the port before it is used; the lab checks every
// port again when a server binds it. A port handed out is reserved for
// a few minutes against other FreePort callers on the machine.
func FreePort() (int, error) {
	lo, hi := 10000, ephemeralLow()-1
	if hi-lo >= 1000 {
		for i := 0; i < 100; i++ {
			p := lo + rand.IntN(hi-lo+1)
			if portFree(p) && reserve(p) {
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

// portPicker hands out free ports, each at most once: a plan picks all its
// ports before any server binds one, so "free" alone would repeat them.
type portPicker map[int]bool

// pick returns a free port not handed out before.
func (u portPicker) pick() (int, error) {
	for {
		p, err := FreePort()
		if err != nil {
			return 0, err
		}
		if !u[p] {
			u[p] = true
			return p, nil
		}
	}
}

// reservations is where FreePort notes the ports it handed out, for every
// process on the machine: labs started at once (parallel test packages)
// plan all their ports seconds before their servers bind them, and would
// otherwise pick the same free port.
var reservations = filepath.Join(os.TempDir(), "region-lab-ports")

// reservationTTL is how long a handed-out port stays reserved; by then its
// server has bound it or will not.
const reservationTTL = 5 * time.Minute

// reserve claims port for this process unless another claimed it within
// reservationTTL. It fails open: without a writable temp dir it claims.
func reserve(port int) bool {
	if err := os.MkdirAll(reservations, 0o777); err != nil {
		return true
	}
	name := filepath.Join(reservations, strconv.Itoa(port))
	for range 2 {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err == nil {
			f.Close()
			return true
		}
		fi, serr := os.Stat(name)
		if !errors.Is(err, fs.ErrExist) || serr != nil {
			return true
		}
		if time.Since(fi.ModTime()) < reservationTTL {
			return false
		}
		os.Remove(name) // stale: claim it again
	}
	return false
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

// listening reports whether process pid holds the socket listening on
// 127.0.0.1:port, so that a server's readiness is not taken from another
// program that took its port (its own bind then failed). It reads
// /proc/net/tcp and the process's descriptors; without them (not Linux)
// it answers true.
func listening(pid, port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	inode := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			inode = f[9]
			break
		}
	}
	if inode == "" {
		return false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}
