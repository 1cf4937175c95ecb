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
shard_rounds with_commit export --windowed
