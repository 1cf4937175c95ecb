package promtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PushgatewayBin is where Debian's prometheus-pushgateway installs it.
const PushgatewayBin = "/usr/bin/prometheus-pushgateway"

// RequirePushgateway returns the Pushgateway binary, installing it with
// scripts/pushgateway.sh when missing (a failure under CI, a skip elsewhere).
func RequirePushgateway(t testing.TB) string {
	t.Helper()
	look := func() (string, error) {
		if _, err := os.Stat(PushgatewayBin); err == nil {
			return PushgatewayBin, nil
		}
		return exec.LookPath("prometheus-pushgateway")
	}
	if p, err := look(); err == nil {
		return p
	}
	script := filepath.Join(RepoRoot(t), "scripts", "pushgateway.sh")
	out, ierr := exec.Command(script, "install").CombinedOutput()
	if p, err := look(); err == nil {
		return p
	}
	msg := fmt.Sprintf("the Pushgateway is not installed and %s install failed (%v): %s", script, ierr, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (not under CI, so skipping)")
	return ""
}

// StartPushgateway runs the Pushgateway on 127.0.0.1 with a temp
// persistence file, waits for /-/ready and stops it when the test ends.
// Server.URL is its base URL; Addr (host:port) goes in a scrape config.
func StartPushgateway(t testing.TB, bin string) (s *Server, addr string) {
	t.Helper()
	tmp := t.TempDir()
	port := freePort(t)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(tmp, "pushgateway.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s = &Server{URL: "http://" + addr, Log: logPath, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "--web.listen-address="+addr, "--persistence.file="+filepath.Join(tmp, "pushgateway.db"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(func() { s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, addr
			}
		}
		select {
		case <-s.done:
			t.Fatalf("pushgateway exited before it was ready; its log:\n%s", tail(logPath))
		case <-ctx.Done():
			t.Fatalf("pushgateway not ready at %s after 30s; its log:\n%s", s.URL, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
