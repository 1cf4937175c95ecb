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

// NodeExporterBin is where Debian's prometheus-node-exporter installs it.
const NodeExporterBin = "/usr/bin/prometheus-node-exporter"

// StartNodeExporter runs Debian's node_exporter on 127.0.0.1 with only its
// textfile collector, reading dir, as an operator's node would; it fails
// under CI when the package is missing (.ci/run installs it) and skips
// elsewhere. Addr (host:port) goes in a scrape config.
func StartNodeExporter(t testing.TB, dir string) (s *Server, addr string) {
	t.Helper()
	bin := NodeExporterBin
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("prometheus-node-exporter"); err != nil {
			msg := "node_exporter is not installed (apt-get install -y prometheus-node-exporter)"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg + " (not under CI, so skipping)")
		}
	}
	port := freePort(t)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	s = startServer(t, "node_exporter", bin, "http://"+addr, filepath.Join(t.TempDir(), "node_exporter.log"), 30*time.Second,
		"--web.listen-address="+addr, "--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+dir)
	return s, addr
}
