package alertmanager

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// alertmanagerBinary finds (or installs, via scripts/alertmanager.sh) the
// real Alertmanager. Under CI a missing server fails the test.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, n := range []string{"prometheus-alertmanager", "alertmanager"} {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	out, err := exec.Command("../scripts/alertmanager.sh", "install").CombinedOutput()
	if p := find(); err == nil && p != "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: Alertmanager is required and could not be installed: %v\n%s", err, out)
	}
	t.Skipf("Alertmanager not installed and cannot be installed here (%v: %s); run scripts/alertmanager.sh as root", err, strings.TrimSpace(string(out)))
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs a real Alertmanager on 127.0.0.1 for the test.
func startAlertmanager(t *testing.T) string {
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-done:
			t.Fatalf("alertmanager exited early:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager at %s not ready after 20s:\n%s", url, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b.String())
	}
}

// TestAlertmanagerIntegration posts alerts and a silence to a real
// Alertmanager and checks the labeler turns them into per-entity incidents.
func TestAlertmanagerIntegration(t *testing.T) {
	url := startAlertmanager(t)
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	post(t, url+"/api/v2/alerts", fmt.Sprintf(`[
	  {"labels": {"alertname": "CPUSaturated", "service": "checkout", "severity": "major", "type": "cpu_saturation"},
	   "annotations": {"summary": "checkout CPU pinned"}, "startsAt": %q},
	  {"labels": {"alertname": "QueueBacklog", "service": "cart", "severity": "warning"}, "startsAt": %q},
	  {"labels": {"alertname": "NoEntity", "severity": "info"}, "startsAt": %q}
	]`, ts(-30*time.Minute), ts(-10*time.Minute), ts(-5*time.Minute)))
	post(t, url+"/api/v2/silences", fmt.Sprintf(`{"matchers": [{"name": "service", "value": "cart", "isRegex": false, "isEqual": true}],
	  "startsAt": %q, "endsAt": %q, "createdBy": "oncall", "comment": "planned maintenance"}`, ts(-time.Minute), ts(time.Hour)))

	problems := &pipeline.Problems{}
	l, err := NewAlertmanagerLabeler(Config{URL: url}, problems)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	grid, _ := pipeline.NewGrid(now.Add(-time.Hour), now.Add(time.Hour), time.Minute)
	var incs []pipeline.Incident
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		incs, err = l.Incidents(ctx, pipeline.LabelInput{Grid: grid, EntityLabel: "service"})
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(incs) != 2 {
		t.Fatalf("got %d incidents, want 2 (checkout, cart): %+v", len(incs), incs)
	}
	tests := []struct {
		entity, severity, typ string
		start                 time.Time
		conf                  float64
		title                 string
	}{
		{"checkout", "major", "cpu_saturation", now.Add(-30 * time.Minute), pipeline.ConfidenceAlert, "checkout CPU pinned"},
		{"cart", "warning", "QueueBacklog", now.Add(-10 * time.Minute), pipeline.ConfidenceSilencedAlert, "planned maintenance"},
	}
	for i, tc := range tests {
		got := incs[i]
		if got.Entity != tc.entity || got.Severity != tc.severity || got.Type != tc.typ || !got.Start.Equal(tc.start) ||
			got.Confidence != tc.conf || !strings.Contains(got.Title, tc.title) || got.Source != pipeline.SourceAlert {
			t.Errorf("incident %d = %+v, want %+v", i, got, tc)
		}
		if got.End != nil {
			t.Errorf("incident %d: end %v, want unknown (still firing)", i, got.End)
		}
		if !strings.HasPrefix(got.ID, "alert:") || got.SourceID == "" {
			t.Errorf("incident %d: id %q source id %q: want the alert fingerprint", i, got.ID, got.SourceID)
		}
	}
	if n := problems.Report()["labeler:alertmanager"].Reasons["no_entity_label"]; n != 1 {
		t.Errorf("alerts without an entity label counted %d times, want 1", n)
	}
}
