package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a process the lab started, as recorded in lab.json.
type Proc struct {
	// Pid is the process id; 0 when the process was never started.
	Pid int `json:"pid"`
	// StartTicks is the kernel's start time of the process (clock ticks
	// after boot). Together with Pid it identifies the process, so a
	// reused pid is never signalled.
	StartTicks uint64 `json:"start_ticks"`
	// Args is the command line.
	Args []string `json:"args"`
	// Log is the file that receives its stdout and stderr.
	Log string `json:"log"`
}

// startProc starts args[0] detached in its own session, output to logPath.
// The returned process is reaped in the background so that, while the
// starting process lives, a dead child does not linger as a zombie.
func startProc(args []string, env []string, logPath string) (Proc, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return Proc{}, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Proc{}, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n--- %s started by regionctl lab: %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Proc{}, fmt.Errorf("start %s: %w", args[0], err)
	}
	p := Proc{Pid: cmd.Process.Pid, Args: args, Log: logPath}
	p.StartTicks, _ = startTicks(p.Pid)
	go func() { _ = cmd.Wait() }() // reap; ends when the child ends
	return p, nil
}

// Alive reports whether the recorded process still runs (not a zombie,
// and not another process that was given the same pid).
func (p Proc) Alive() bool {
	if p.Pid <= 0 {
		return false
	}
	ticks, state, err := procStat(p.Pid)
	if err != nil || (p.StartTicks != 0 && ticks != p.StartTicks) {
		return false
	}
	if state == 'Z' || state == 'X' {
		// A killed Go program's main thread can be a zombie while its
		// other threads still run and hold its sockets: alive until
		// every thread is gone.
		return threadsRunning(p.Pid)
	}
	return true
}

// threadsRunning reports whether any thread of pid is not yet dead.
func threadsRunning(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X' {
			return true
		}
	}
	return false
}

// Stop sends SIGTERM, waits up to grace for the process to end, then
// sends SIGKILL and waits for it to go. A process that is not running is
// already stopped.
func (p Proc) Stop(ctx context.Context, grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	_ = syscall.Kill(p.Pid, syscall.SIGTERM)
	if p.waitGone(ctx, grace) {
		return nil
	}
	return p.Kill(ctx)
}

// Kill sends SIGKILL and waits until the process is gone.
func (p Proc) Kill(ctx context.Context) error {
	if !p.Alive() {
		return nil
	}
	_ = syscall.Kill(p.Pid, syscall.SIGKILL)
	if !p.waitGone(ctx, 10*time.Second) {
		return fmt.Errorf("pid %d (%s) did not exit after SIGKILL", p.Pid, filepath.Base(p.Args[0]))
	}
	return nil
}

func (p Proc) waitGone(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if !p.Alive() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return !p.Alive()
}

// LogTail returns the last n lines of the process's log, for errors.
func (p Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	return tailLines(string(b), n)
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func startTicks(pid int) (uint64, error) {
	t, _, err := procStat(pid)
	return t, err
}

// procStat reads the start time and state of pid from /proc/PID/stat.
func procStat(pid int) (ticks uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and ')'; the rest starts
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, errors.New("malformed stat")
	}
	ticks, err = strconv.ParseUint(f[19], 10, 64) // field 22 overall
	return ticks, f[0][0], err
}

// headLines returns the first n lines of s.
func headLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
