//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWindowedShardsAsAnIndexedJob runs the demo's windowed export the way
// the sharded CronJob's pods do: N processes of `opsdata export --shards N`
// with JOB_COMPLETION_INDEX, each followed by `commit --windowed
// --exit-zero-unless-failed`. One shard is killed (SIGKILL) while it
// stages, the commits then refuse to publish, the shard is run again, and
// the version published is byte for byte the one `make demo` published in
// one process.
func TestWindowedShardsAsAnIndexedJob(t *testing.T) {
	e := setup(t)
	const n = 3
	out := t.TempDir()
	shardCmd := func(i int) *exec.Cmd {
		cmd := exec.Command(e.bin, "export", "--spec", e.spec, "--output", "file://"+out, "--shards", fmt.Sprint(n))
		cmd.Dir = filepath.Dir(e.demo)
		cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i))
		return cmd
	}
	commit := func() (string, error) {
		stdout, stderr, err := run(t, e, "commit", "--windowed", "--spec", e.spec, "--output", "file://"+out, "--shards", fmt.Sprint(n), "--exit-zero-unless-failed")
		return stdout + stderr, err
	}
	staging := filepath.Join(out, "demo-cluster", "_state", "staging", e.version)

	// Shard 1 is killed once it has staged a piece, before its receipt.
	killed := shardCmd(1)
	var stderr bytes.Buffer
	killed.Stderr = &stderr
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	shard1 := filepath.Join(staging, fmt.Sprintf("shard-%04d-of-%04d", 1, n))
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if countFiles(shard1, ".sealed") > 0 || time.Now().After(deadline) {
			break
		}
	}
	killed.Process.Kill()
	err := killed.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		// It finished between the poll and the kill: take its receipt
		// away, which is what a kill before the receipt leaves.
		t.Log("shard 1 finished before the kill; removing its receipt instead")
		if err := os.Remove(filepath.Join(shard1, "receipt.json")); err != nil {
			t.Fatal(err)
		}
	case !errors.As(err, &exit):
		t.Fatalf("shard 1: %v: %s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(shard1, "receipt.json")); err == nil {
		t.Fatal("the killed shard left a receipt")
	}

	for _, i := range []int{0, 2} {
		if b, err := shardCmd(i).CombinedOutput(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, b)
		}
		msg, err := commit()
		if err != nil || !strings.Contains(msg, "not committed (exit 5") || !strings.Contains(msg, "shard 1") {
			t.Fatalf("commit with shard 1 killed: want exit 5 mapped to 0 naming shard 1, got %v:\n%s", err, msg)
		}
	}
	if b, err := shardCmd(1).CombinedOutput(); err != nil {
		t.Fatalf("shard 1 re-run: %v\n%s", err, b)
	}
	msg, err := commit()
	// Every feature piece and every rule slice came from the shards.
	if err != nil || !strings.Contains(msg, "published demo-cluster/"+e.version) || !strings.Contains(msg, "(0 evaluated here)") || strings.Contains(msg, " 0 slices") {
		t.Fatalf("last commit: %v\n%s", err, msg)
	}
	if _, err := os.Stat(staging); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging prefix left after the commit: %v", err)
	}
	sameVersion(t, e.versionDir(), filepath.Join(out, "demo-cluster", e.version), "the version published from shards")
	if msg, err := commit(); err != nil || !strings.Contains(msg, "already published") {
		t.Fatalf("a commit after publishing must find it published: %v\n%s", err, msg)
	}
}

// countFiles counts the files under dir whose name ends in suffix.
func countFiles(dir, suffix string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			n++
		}
		return nil
	})
	return n
}
