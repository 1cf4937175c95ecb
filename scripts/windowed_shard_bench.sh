#!/usr/bin/env bash
# Sharding overhead of the windowed export (issue 16 item 4; BENCHMARKS.md
# "Windowed export: sharding overhead"). On the nightly-day fixture of
# BenchmarkExportDay (the demo cluster at 100 services x 5 instances: 10k
# series, one day at 15 s, its logs and tickets; generated into $TMPDIR by
# that benchmark's fixture test when missing), with the demo spec over that
# day (8 PromQL features, ticket and rule labels), one after the other
# ($SERVICES services instead of 100 scales the series and the logs):
#   - `opsdata export` as one process
#   - for each N in $SHARDS (default "3 7"): the N shards `opsdata export
#     --shard i/N` one after the other (as an Indexed Job's pods would run,
#     sequentially here), then `opsdata commit --windowed --shards N`
# Every process is timed by /usr/bin/time (wall, user+sys CPU, max RSS); the
# published files of every N are compared byte for byte with one process's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp="${TMPDIR:-/tmp}"
work="${SHARD_DIR:-$tmp/opsdata-windowed-shard-bench}"
shards="${SHARDS:-3 7}"
services="${SERVICES:-100}" # x 5 instances x 20 series: 10k series by default
fixture="$tmp/opsdata-bench-export-day-${services}svc"
if [[ ! -f "$fixture/done" ]]; then
	OPSDATA_BENCH_SERVICES="$services" OPSDATA_EXPORT_DAY_GEN="$fixture" go test -count=1 -timeout 60m -run '^TestGenerateExportDayFixture$' ./pipeline/runner >/dev/null
fi
rm -rf "$work"
mkdir -p "$work"
go build -o "$work/opsdata" ./cmd/opsdata
sed -e "s|\./demo-data|$fixture/demo-data|g" \
	-e "s|to: 2026-01-08T00:00:00Z|to: 2026-01-06T00:00:00Z|" \
	-e "s|\./datasets/|$PWD/datasets/|g" datasets/demo.yaml >"$work/spec.yaml"
# timed NAME CMD... (scripts/lib/timed.sh) adds what extra_field finds in the log.
extra_field() {
	local pieces
	pieces=$(sed -n 's/.*: \([0-9]*\) feature pieces.*/\1/p' "$1")
	echo "pieces=${pieces:--}"
}
# shellcheck source=lib/timed.sh
source scripts/lib/timed.sh
sums() { (cd "$1/demo-cluster/2026-01-05" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
op=(--spec "$work/spec.yaml")
timed one "$work/opsdata" export "${op[@]}" --output "file://$work/out-1p" | tee "$work/one.txt"
for n in $shards; do
	out="$work/out-$n"
	for ((i = 0; i < n; i++)); do
		timed "N=$n shard=$i" "$work/opsdata" export "${op[@]}" --output "file://$out" --shard "$i/$n"
	done | tee "$work/shards-$n.txt"
	timed "N=$n commit" "$work/opsdata" commit --windowed "${op[@]}" --output "file://$out" --shards "$n" | tee "$work/commit-$n.txt"
	if [[ "$(sums "$work/out-1p")" == "$(sums "$out")" ]]; then
		echo "N=$n published bytes: identical to one process ($(sums "$out" | wc -l) files)"
	else
		echo "N=$n published bytes: DIFFER from one process" >&2
		exit 1
	fi
	one=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$work/one.txt")
	cat "$work/shards-$n.txt" "$work/commit-$n.txt" | awk -v n="$n" -v one="$one" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		  cpu += v["cpu_s"]
		  if ($2 != "commit") { k++; if (v["wall_s"] + 0 > maxw) maxw = v["wall_s"] + 0
		  if (v["max_rss_mib"] + 0 > maxr) maxr = v["max_rss_mib"] + 0 } }
		END { printf "N=%d summary: %d shards and the commit, total CPU %.2f s = %.2f x one process (%.2f s); slowest shard %.2f s wall; max shard RSS %.1f MiB\n", n, k, cpu, cpu / one, one, maxw, maxr }
	'
done
