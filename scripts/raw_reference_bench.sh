#!/usr/bin/env bash
# The raw export next to the reference converter, on the same noisy block,
# alternately (issue 14 item 4; BENCHMARKS.md "Raw export over a noisy block").
#
#   opsdata:   BenchmarkRawNoisyBlock (pipeline/raw.Write: TSDB -> samples +
#              raw_series, the path of `opsdata raw` without anonymizing,
#              gating and publishing), one benchmark per process
#   reference: prometheus-community/parquet-common convert.ConvertTSDBBlock,
#              default options, into a filesystem bucket; built in a scratch
#              module outside the repo (not a dependency of opsdata)
#
# Each run is timed by /usr/bin/time (wall, user+sys CPU, max RSS of the
# whole process) and preceded by the load average (the machine may be
# shared: compare CPU seconds, and wall times of rounds at low load).
# ROUNDS (default 3) rounds, opsdata first in each. BEFORE=REV also builds
# the benchmark at git revision REV (in a scratch worktree) and runs it
# first in each round, for before/after figures from one run. PC_DIR is
# the scratch directory (default $TMPDIR/opsdata-pc). The block is the
# benchmark's cached fixture; the first opsdata run generates it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
rounds="${ROUNDS:-3}"
tmp="${TMPDIR:-/tmp}"
work="${PC_DIR:-$tmp/opsdata-pc}"
version=v0.0.0-20251211092633-65ebeae24e94 # the module has no release tags

mkdir -p "$work"
cat >"$work/main.go" <<'EOF'
// Command pcconv converts one TSDB block with parquet-common's
// convert.ConvertTSDBBlock (default options) into a filesystem bucket.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus-community/parquet-common/convert"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/thanos-io/objstore/providers/filesystem"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pcconv BLOCK_DIR OUT_DIR")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	blk, err := tsdb.OpenBlock(logger, os.Args[1], nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open block:", err)
		os.Exit(1)
	}
	defer blk.Close()
	bkt, err := filesystem.NewBucket(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bucket:", err)
		os.Exit(1)
	}
	m := blk.Meta()
	n, err := convert.ConvertTSDBBlock(context.Background(), bkt, m.MinTime, m.MaxTime, []convert.Convertible{blk}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
	var bytes int64
	filepath.Walk(os.Args[2], func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			bytes += fi.Size()
		}
		return nil
	})
	fmt.Printf("reference: shards=%d samples=%d bytes=%d bytes/sample=%.3f\n", n, m.Stats.NumSamples, bytes, float64(bytes)/float64(m.Stats.NumSamples))
}
EOF
(
	cd "$work"
	[[ -f go.mod ]] || go mod init pcconv >/dev/null 2>&1
	GOFLAGS=-mod=mod timeout 600 go get "github.com/prometheus-community/parquet-common@$version"
	GOFLAGS=-mod=mod timeout 600 go mod tidy
	go build -o pcconv .
)
go test -c -o "$work/raw.test" ./pipeline/raw
if [[ -n "${BEFORE:-}" ]]; then
	rm -rf "$work/before-src"
	git worktree add --detach "$work/before-src" "$BEFORE" >/dev/null
	(cd "$work/before-src" && go test -c -o "$work/raw-before.test" ./pipeline/raw)
	git worktree remove --force "$work/before-src"
fi

fmt='wall_s=%e user_s=%U sys_s=%S max_rss_kib=%M'
load() { echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"; }
run_bench() { # name binary
	load
	(cd "$tmp" && /usr/bin/time -f "$1: $fmt" "$2" -test.run '^$' -test.bench '^BenchmarkRawNoisyBlock$' -test.benchtime 1x | grep '^Benchmark')
}
run_round() {
	echo "round $1"
	if [[ -n "${BEFORE:-}" ]]; then
		run_bench "opsdata-before" "$work/raw-before.test"
	fi
	run_bench opsdata "$work/raw.test" # the first generates the fixture when missing
	block=$(ls -d "$tmp"/opsdata-bench-raw-noisy-v2-10k-1d/tsdb/*/ | head -1)
	rm -rf "$work/out"
	load
	/usr/bin/time -f "reference: $fmt" "$work/pcconv" "$block" "$work/out"
}
for ((i = 1; i <= rounds; i++)); do
	run_round "$i"
done
cd "$repo"
