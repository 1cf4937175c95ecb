// Package promtest runs a real Prometheus server for tests: it makes sure
// Debian's prometheus and promtool are installed (scripts/prometheus.sh),
// backfills OpenMetrics text into a temp data dir with promtool and starts
// the server on 127.0.0.1 over it. Under CI (env CI set) a missing server is
// a failure; elsewhere the tests skip, saying why.
package promtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Require returns the paths of prometheus and promtool, installing them
// with scripts/prometheus.sh when missing.
func Require(t testing.TB) (prometheus, promtool string) {
	t.Helper()
	look := func() (string, string, error) {
		p, err1 := exec.LookPath("prometheus")
		q, err2 := exec.LookPath("promtool")
		return p, q, errors.Join(err1, err2)
	}
	p, q, err := look()
	if err == nil {
		return p, q
	}
	script := filepath.Join(RepoRoot(t), "scripts", "prometheus.sh")
	out, ierr := exec.Command(script, "install").CombinedOutput()
	if p, q, err = look(); err == nil {
		return p, q
	}
	msg := fmt.Sprintf("Prometheus is not installed and %s install failed (%v): %s", script, ierr, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (not under CI, so skipping)")
	return "", ""
}

// RepoRoot is the directory holding go.mod above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("promtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Backfill turns an OpenMetrics file into TSDB blocks under dir with
// `promtool tsdb create-blocks-from openmetrics`.
func Backfill(t testing.TB, promtool, om, dir string) {
	t.Helper()
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics %s %s: %v\n%s", om, dir, err, out)
	}
}

// Server is a running Prometheus.
type Server struct {
	URL  string
	Log  string // path of the server's log file
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Start runs prometheus on 127.0.0.1 over dataDir (a retention of 100
// years keeps old backfilled blocks), waits for /-/ready and stops the
// server when the test ends.
func Start(t testing.TB, prometheus, dataDir string, lookback time.Duration) *Server {
	t.Helper()
	return StartConfig(t, prometheus, dataDir, lookback, "global:\n  scrape_interval: 15s\nscrape_configs: []\n")
}

// StartConfig is Start with the server's prometheus.yml (scrape targets).
func StartConfig(t testing.TB, prometheus, dataDir string, lookback time.Duration, config string) *Server {
	t.Helper()
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	return startServer(t, "prometheus", prometheus, "http://127.0.0.1:"+strconv.Itoa(port), filepath.Join(tmp, "prometheus.log"), 90*time.Second,
		"--config.file="+cfg,
		"--storage.tsdb.path="+dataDir,
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--query.lookback-delta="+lookback.String(),
		"--query.max-samples=200000000",
	)
}

// startServer runs bin with args (output to logPath), waits until url's
// /-/ready answers 200 within timeout, and stops it when the test ends:
// the one way the tests start Prometheus and the Pushgateway.
func startServer(t testing.TB, name, bin, url, logPath string, timeout time.Duration, args ...string) *Server {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: url, Log: logPath, done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(func() { s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before it was ready; its log:\n%s", name, tail(logPath))
		case <-ctx.Done():
			t.Fatalf("%s not ready at %s after %s; its log:\n%s", name, s.URL, timeout, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill stops the server at once (SIGKILL), as a crash would, and waits.
func (s *Server) Kill() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
}

// Stop stops the server gracefully and waits.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
