#!/usr/bin/env bash
# Sharding overhead of the raw export (issue 16 item 4; BENCHMARKS.md "Raw
# export: sharding overhead"). On the noisy block of BenchmarkRawNoisyBlock
# (10k series x 1 day at 15 s; generated into $TMPDIR by that benchmark when
# missing), one after the other in this run:
#   - `opsdata raw` as one process (lists, anonymizes, writes, gates, publishes)
#   - for each N in $SHARDS (default "3 7"): the N shards `opsdata raw --shard i/N`
#     one after the other (as an Indexed Job's pods would run, but sequentially
#     here), then `opsdata commit --shards N`
# Every process is timed by /usr/bin/time (wall, user+sys CPU, max RSS); the
# published files of every N are compared byte for byte with one process's.
# Output: one line per process, then a summary per N. --buckets 16 (default).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp="${TMPDIR:-/tmp}"
work="${SHARD_DIR:-$tmp/opsdata-raw-shard-bench}"
shards="${SHARDS:-3 7}"
block="$tmp/opsdata-bench-raw-noisy-v2-10k-1d"
if [[ ! -f "$block/done" ]]; then
	go test -run '^$' -bench '^BenchmarkRawNoisyBlock$' -benchtime 1x ./pipeline/raw >/dev/null
fi
rm -rf "$work"
mkdir -p "$work"
go build -o "$work/opsdata" ./cmd/opsdata
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/key"
cat >"$work/spec.yaml" <<EOF
dataset: noisy
title: noisy block
description: The raw export benchmark's noisy block (pipeline/raw BenchmarkRawNoisyBlock).
licence: CDLA-Permissive-2.0
citation: "noisy block"
creators:
  - name: opsdata contributors
range:
  from: 2026-01-04T23:59:00Z
  to: 2026-01-06T00:01:00Z
window: 1m
entity:
  kind: service
  label: job
metrics:
  source: tsdb
  tsdb:
    path: $block/tsdb
  features:
    - name: up
      expr: sum by (job) (up)
anonymize:
  key:
    file: $work/key
  labels:
    instance: instance
    pod: pod
  keep: [job, code, handler, cpu, mode, quantile, sensor, release]
EOF
# timed NAME CMD... (scripts/lib/timed.sh) adds what extra_field finds in the log.
extra_field() {
	local series
	series=$(awk '$1 == "raw_series" { print $2 }' "$1")
	echo "series=${series:--}"
}
# shellcheck source=lib/timed.sh
source scripts/lib/timed.sh
sums() { (cd "$1/noisy-raw/v1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
op=(--spec "$work/spec.yaml" --version v1)
timed one "$work/opsdata" raw "${op[@]}" --output "file://$work/out-1p" | tee "$work/one.txt"
shard_rounds shards_only raw
