package promtest

import (
	"bytes"
	"fmt"
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
	s = startServer(t, "pushgateway", bin, "http://"+addr, filepath.Join(tmp, "pushgateway.log"), 30*time.Second,
		"--web.listen-address="+addr, "--persistence.file="+filepath.Join(tmp, "pushgateway.db"))
	return s, addr
}
