#!/usr/bin/env bash
# Prints the BENCHMARKS.md section of the log template miner: grouping and
# parsing accuracy against Drain3 with the same settings on every corpus of
# pipeline/logtemplates/testdata/corpus, and `opsdata templates` against
# Drain3 on the same generated 1M-line HDFS-like file (header parsing
# included on both sides). Needs a python with pip drain3
# (OPSDATA_DRAIN3_PYTHON, default /tmp/benchvenv/bin/python; make one with
# `python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install drain3`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py="${OPSDATA_DRAIN3_PYTHON:-/tmp/benchvenv/bin/python}"
echo "## Log templates against Drain3 (\`scripts/miner_bench.sh\`)"
echo
if ! "$py" -c 'import drain3' 2>/dev/null; then
	echo "Skipped: no python with drain3 at $py."
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OPSDATA_DRAIN3_PYTHON="$py" OPSDATA_MINER_TABLE="$tmp/table.md" \
	go test -count 1 -run '^TestCorpusVsDrain3$' ./pipeline/logtemplates/ >&2
echo "Grouping accuracy (GA, Zhu et al. 2019) and parsing accuracy (PA, templates compared"
echo "after \`NormalizeTemplate\`) with the default settings (depth 4, sim_th 0.4, max_children"
echo "100) for both; Drain3 without masks and with its example masks (drain3.ini). Ground truth"
echo "from the emitting statements: pipeline/logtemplates/testdata/corpus/README.md."
echo
cat "$tmp/table.md"
echo
go build -o "$tmp/opsdata" ./cmd/opsdata
OPSDATA_HDFS_OUT="$tmp/hdfs.log" go test -count 1 -run '^TestWriteHDFSLike$' ./cmd/opsdata/ >&2
n=$(wc -l <"$tmp/hdfs.log")
fmt='<Date> <Time> <Pid> <Level> <Component>: <Content>'
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
ours=$(secs "$tmp/opsdata" templates --format logpai --log-format "$fmt" --time-layout '060102 150405' --timezone UTC --out "$tmp/lines.csv" "$tmp/hdfs.log")
# Drain3 writes its per-line assignment too (cluster id, template), as ours does.
d3d=$(secs "$py" scripts/drain3_baseline.py --masks drain3 --log-format "$fmt" "$tmp/hdfs.log")
d3h=$(secs "$py" scripts/drain3_baseline.py --masks hdfs --log-format "$fmt" "$tmp/hdfs.log")
d3n=$(secs "$py" scripts/drain3_baseline.py --masks none --log-format "$fmt" "$tmp/hdfs.log")
rate() { echo "$n / $1" | bc; }
x() { echo "$1 / $ours" | bc -l; }
echo "Speed on the same generated HDFS-like file ($n lines, HDFS's Loghub log format, header"
echo "parsing included, every line's assignment written; wall time of the whole process on 2"
echo "cores shared with other work, one run each):"
echo
echo "| miner | seconds | lines/s | opsdata is ×faster |"
echo "|---|---|---|---|"
printf '| **opsdata templates** (default masks and miner) | %.2f | %d | |\n' "$ours" "$(rate "$ours")"
printf '| Drain3 TemplateMiner + its example masks (drain3.ini) | %.2f | %d | **%.1f×** |\n' "$d3d" "$(rate "$d3d")" "$(x "$d3d")"
printf '| Drain3 TemplateMiner + logparser'"'"'s HDFS masks (2 regexps) | %.2f | %d | **%.1f×** |\n' "$d3h" "$(rate "$d3h")" "$(x "$d3h")"
printf '| Drain3 TemplateMiner, no masks | %.2f | %d | %.1f× |\n' "$d3n" "$(rate "$d3n")" "$(x "$d3n")"
