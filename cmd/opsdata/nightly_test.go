package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
)

// The nightly command's exit codes, as a scheduler sees them.
func TestNightlyExitCodes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo-data")
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: 48 * time.Hour, Instances: 1, Scrape: time.Minute}); err != nil {
		t.Fatal(err)
	}
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	b, err := os.ReadFile(filepath.Join(repo, "datasets", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	txt := strings.ReplaceAll(string(b), "./demo-data", dir)
	txt = strings.ReplaceAll(txt, "./datasets/demo-rules.yml", filepath.Join(repo, "datasets", "demo-rules.yml"))
	out := filepath.Join(root, "out")
	txt = strings.Replace(txt, "output: file://./out", "output: file://"+out, 1) + "\nnightly: {lease_wait: 10ms, keep_last: 1}\n"
	specPath := filepath.Join(root, "spec.yaml")
	if err := os.WriteFile(specPath, []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		var stdout bytes.Buffer
		app := newApp()
		app.Writer = &stdout
		err := app.RunContext(context.Background(), append([]string{"opsdata"}, args...))
		code := 0
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			code = ee.code
		case err != nil:
			code = 1
		}
		return stdout.String(), code
	}
	lease := filepath.Join(out, "demo-cluster", "_state", "nightly", "lease.json")
	for _, tc := range []struct {
		name   string
		setup  func()
		args   []string
		code   int
		prefix string
	}{
		{"first night publishes", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-06T04:00:00Z"}, ExitPublished, "published: published snapshot 2026-01-06T040000Z"},
		{"same night again: nothing to do", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-06T05:00:00Z"}, ExitNothingToDo, "nothing_to_do:"},
		{"lease held", func() {
			os.WriteFile(lease, []byte(`{"owner":"other","token":"t","acquired":"2026-01-01T00:00:00Z","expires":"2999-01-01T00:00:00Z"}`), 0o644)
		}, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z"}, ExitLeaseHeld, "lease_held:"},
		{"lease held, scheduler mode", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--exit-zero-unless-failed"}, 0, "lease_held:"},
		{"gc needs the lease too", nil, []string{"gc", "--spec", specPath}, ExitLeaseHeld, "lease_held:"},
		{"failed", func() { os.Remove(lease) }, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--output", "ftp://nowhere"}, ExitFailed, "failed:"},
		{"night from shards, none staged", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--from-shards", "2"}, ExitShardsIncomplete, "shards_incomplete:"},
		{"night from shards, scheduler mode", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--from-shards", "2", "--exit-zero-unless-failed"}, 0, "shards_incomplete:"},
		{"shard 0", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--shard", "0/2"}, 0, "staged shard 0/2 of the night (nightly-2026-01-07)"},
		{"shard 1", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--shard", "1/2"}, 0, "staged shard 1/2 of the night (nightly-2026-01-07)"},
		{"next night publishes from the shards", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T04:00:00Z", "--from-shards", "2"}, ExitPublished, "published:"},
		{"a shard with no new day", nil, []string{"nightly", "--spec", specPath, "--now", "2026-01-07T05:00:00Z", "--shard", "0/2"}, ExitNothingToDo, "nothing to do: no new complete day"},
		{"gc keeps the last", nil, []string{"gc", "--spec", specPath}, 0, "kept 1 snapshot(s), deleted 1: [2026-01-06T040000Z]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			stdout, code := run(tc.args...)
			if code != tc.code || !strings.HasPrefix(stdout, tc.prefix) {
				t.Fatalf("exit %d, stdout %q; want exit %d and %q...", code, stdout, tc.code, tc.prefix)
			}
		})
	}
}
