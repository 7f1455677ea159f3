package lab

import (
	"net"
	"os"
	"testing"
)

// TestListening: a port is this process's while it listens on it, never
// another process's, and nobody's once closed.
func TestListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !listening(os.Getpid(), port) {
		t.Errorf("port %d: this process listens on it, listening says no", port)
	}
	if listening(os.Getppid(), port) {
		t.Errorf("port %d: the parent process does not listen on it, listening says yes", port)
	}
	l.Close()
	if listening(os.Getpid(), port) {
		t.Errorf("port %d: closed, listening still says yes", port)
	}
}
