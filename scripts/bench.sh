#!/usr/bin/env bash
# Runs every benchmark, one per process (so peak RSS belongs to it), and
# writes BENCHMARKS.md. Benchmarks report their throughput with
# internal/benchutil.Report. BENCH_FILTER narrows the set (a -bench regexp).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
filter="${BENCH_FILTER:-.}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in $(go list ./...); do
	for b in $(go test -list "^Benchmark" "$pkg" 2>/dev/null | grep '^Benchmark' | grep -E -- "$filter" || true); do
		echo "bench: $pkg $b" >&2
		go test -run '^$' -bench "^${b}\$" -benchmem -count 1 -benchtime "${BENCHTIME:-1x}" "$pkg" | tee -a "$out" >&2
	done
done
{
	echo "# Benchmarks"
	echo
	echo "Throughput figures (\`.../s\`) and peak resident memory per benchmark process."
	echo "See each benchmark's doc comment for the workload."
	echo
	go run ./scripts/benchtable <"$out"
	# The miner against Drain3 (accuracy per corpus, speed on one file).
	if echo BenchmarkMinerVsDrain3 | grep -qE -- "$filter"; then echo; scripts/miner_bench.sh; fi
	# Pruning a day of windows at 1,000 entities (DuckDB's bytes read; the test venv).
	if echo PruneWindows | grep -qE -- "$filter" && [[ -x .venv/bin/python ]]; then echo; .venv/bin/python scripts/prune_bench.py; fi
	if [[ -f docs/benchmarks-notes.md ]]; then echo; cat docs/benchmarks-notes.md; fi
} >BENCHMARKS.md
echo "bench: wrote BENCHMARKS.md" >&2
