package nightly

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/spec"
)

func TestFingerprintPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("logs/a.jsonl", "one\n")
	write("tsdb/01BLOCK/meta.json", "{}")
	write("tsdb/wal/00000001", "x")
	globs := []string{filepath.Join(dir, "logs", "*.jsonl"), filepath.Join(dir, "tsdb")}
	base, err := fingerprintPaths(globs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func()
		changed bool
	}{
		{"nothing", func() {}, false},
		{"a TSDB lock file", func() { write("tsdb/lock", "") }, false},
		{"the write-ahead log grows", func() { write("tsdb/wal/00000001", "xx") }, false},
		{"head chunks", func() { write("tsdb/chunks_head/000001", "c") }, false},
		{"a log file grows", func() { write("logs/a.jsonl", "one\ntwo\n") }, true},
		{"a late log file appears", func() { write("logs/a-late.jsonl", "late\n") }, true},
		{"a new block", func() { write("tsdb/02BLOCK/meta.json", "{}") }, true},
		{"a file outside the globs", func() { write("logs/notes.txt", "n") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			got, err := fingerprintPaths(globs)
			if err != nil {
				t.Fatal(err)
			}
			if (got != base) != tc.changed {
				t.Errorf("changed = %v, want %v", got != base, tc.changed)
			}
			base = got
		})
	}
}

func TestTicketChanges(t *testing.T) {
	at := func(s string) *time.Time { x, _ := time.Parse(time.RFC3339, s); return &x }
	t0 := TicketState{Digest: "a", Created: *at("2026-01-05T09:00:00Z"), ImpactStart: at("2026-01-05T08:47:00Z"), Resolved: at("2026-01-05T09:15:00Z")}
	late := TicketState{Digest: "b", Created: *at("2026-01-07T10:47:00Z"), ImpactStart: at("2026-01-05T08:47:00Z"), Resolved: at("2026-01-05T09:15:00Z")}
	midnight := TicketState{Digest: "c", Created: *at("2026-01-10T00:35:00Z"), ImpactStart: at("2026-01-10T00:10:00Z"), Resolved: at("2026-01-10T00:55:00Z")}
	open := TicketState{Digest: "d", Created: *at("2026-01-08T12:00:00Z"), ImpactStart: at("2026-01-08T11:00:00Z")}
	closed := open
	closed.Digest, closed.Resolved = "e", at("2026-01-09T01:00:00Z")
	now := *at("2026-01-11T04:00:00Z")
	tests := []struct {
		name      string
		prev, cur map[string]TicketState
		reason    string
		days      []string
	}{
		{"unchanged", map[string]TicketState{"t/OPS-1": t0}, map[string]TicketState{"t/OPS-1": t0}, "", nil},
		{"filed late", nil, map[string]TicketState{"t/OPS-1": late}, "ticket OPS-1 created 2 days after impact", []string{"2026-01-05"}},
		{"horizon crosses midnight", nil, map[string]TicketState{"t/OPS-9": midnight}, "ticket OPS-9 created 25 minutes after impact", []string{"2026-01-09", "2026-01-10"}},
		{"resolved", map[string]TicketState{"t/OPS-2": open}, map[string]TicketState{"t/OPS-2": closed}, "ticket OPS-2 resolved", []string{"2026-01-08", "2026-01-09", "2026-01-10", "2026-01-11"}},
		{"edited", map[string]TicketState{"t/OPS-1": t0}, map[string]TicketState{"t/OPS-1": late}, "ticket OPS-1 edited", []string{"2026-01-05"}},
		{"deleted", map[string]TicketState{"t/OPS-1": t0}, nil, "ticket OPS-1 deleted", []string{"2026-01-05"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ticketChanges(tc.prev, tc.cur, 30*time.Minute, 15*time.Minute, now)
			if tc.reason == "" {
				if len(got) != 0 {
					t.Fatalf("got %+v, want no change", got)
				}
				return
			}
			if len(got) != 1 || got[0].reason != tc.reason || !equal(got[0].days, tc.days) {
				t.Fatalf("got %+v, want %q on %v", got, tc.reason, tc.days)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSectionPaths(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte("dataset: d\nlicence: CC-BY-4.0\nanonymize: {key: {env: K}}\nmetrics:\n  source: tsdb\n  tsdb: {path: /data/tsdb}\n  features: [{name: f, expr: up}]\nlogs:\n  - name: app\n    path: /var/log/*.jsonl\n    format: jsonl\nlabelers:\n  - kind: rule\n    rules: [/etc/a.yml, /etc/b.yml]\n"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := fingerprints(s, []byte("x"), "epoch")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"spec", "key", "metrics", "logs/app", "labelers[0]:rule"} {
		if fp[k] == "" {
			t.Errorf("no fingerprint for %s: %v", k, fp)
		}
	}
	if got := s.Labelers[0].Config.Paths("rules"); !equal(got, []string{"/etc/a.yml", "/etc/b.yml"}) {
		t.Errorf("Paths(rules) = %v", got)
	}
	if got := s.Metrics.Config.Paths("path"); !equal(got, []string{"/data/tsdb"}) {
		t.Errorf("Paths(path) = %v", got)
	}
}

func TestNextWatermark(t *testing.T) {
	d := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	prev := d("2026-01-06T00:00:00Z")
	tests := []struct {
		name, now string
		maxDays   int
		want      string
	}{
		{"day not settled yet", "2026-01-07T02:59:59Z", 7, "2026-01-06T00:00:00Z"},
		{"day settled", "2026-01-07T03:00:00Z", 7, "2026-01-07T00:00:00Z"},
		{"missed nights caught up", "2026-01-10T04:00:00Z", 7, "2026-01-10T00:00:00Z"},
		{"at most max_days", "2026-01-30T04:00:00Z", 7, "2026-01-13T00:00:00Z"},
		{"clock behind the watermark", "2026-01-01T04:00:00Z", 7, "2026-01-06T00:00:00Z"},
		{"a zone offset in --now is UTC", "2026-01-06T23:30:00-05:00", 7, "2026-01-07T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextWatermark(prev, d(tc.now), 3*time.Hour, tc.maxDays); !got.Equal(d(tc.want)) {
				t.Errorf("nextWatermark(%s) = %s, want %s", tc.now, got, tc.want)
			}
		})
	}
}

func TestSpecFingerprintIgnoresNightly(t *testing.T) {
	base := specFingerprint([]byte("dataset: d\nwindow: 1m\nnightly: {keep_last: 3}\n"))
	for _, tc := range []struct {
		spec string
		same bool
	}{
		{"dataset: d\nwindow: 1m\nnightly: {keep_last: 30, pushgateway: http://x}\n", true},
		{"dataset: d\nwindow: 1m\n", true},
		{"dataset: d\nwindow: 5m\nnightly: {keep_last: 3}\n", false},
	} {
		if got := specFingerprint([]byte(tc.spec)) == base; got != tc.same {
			t.Errorf("%q: same fingerprint = %v, want %v", tc.spec, got, tc.same)
		}
	}
}
