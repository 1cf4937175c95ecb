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
# secs prints "wall cpu" seconds of a command (cpu = user + system, all threads).
secs() {
	/usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
	awk '{printf "%s %.2f\n", $1, $2 + $3}' "$tmp/time"
}
ours=$(secs "$tmp/opsdata" templates --format logpai --log-format "$fmt" --time-layout '060102 150405' --timezone UTC --out "$tmp/lines.csv" "$tmp/hdfs.log")
# Drain3 writes its per-line assignment too (cluster id, template), as ours does.
d3d=$(secs "$py" scripts/drain3_baseline.py --masks drain3 --log-format "$fmt" "$tmp/hdfs.log")
d3h=$(secs "$py" scripts/drain3_baseline.py --masks hdfs --log-format "$fmt" "$tmp/hdfs.log")
d3n=$(secs "$py" scripts/drain3_baseline.py --masks none --log-format "$fmt" "$tmp/hdfs.log")
rate() { echo "$n / $1" | bc; }
row() { # name, "wall cpu", show the ratio
	local w c
	read -r w c <<<"$2"
	read -r ow oc <<<"$ours"
	if [[ $3 == ratio ]]; then
		printf '| %s | %.2f | %.2f | %d | **%.1f×** | **%.1f×** |\n' "$1" "$w" "$c" "$(rate "$w")" "$(echo "$w / $ow" | bc -l)" "$(echo "$c / $oc" | bc -l)"
	else
		printf '| %s | %.2f | %.2f | %d | | |\n' "$1" "$w" "$c" "$(rate "$w")"
	fi
}
echo "Speed on the same generated HDFS-like file ($n lines, HDFS's Loghub log format, header"
echo "parsing included, every line's assignment written to a file; one run each on 2 cores shared"
echo "with other work: load average $(cut -d' ' -f1 /proc/loadavg) when done). opsdata uses a second"
echo "goroutine for parsing; CPU seconds count all threads."
echo
echo "| miner | wall s | CPU s | lines/s (wall) | opsdata faster (wall) | opsdata faster (CPU) |"
echo "|---|---|---|---|---|---|"
row "**opsdata templates** (default masks and miner)" "$ours" -
row "Drain3 TemplateMiner + its example masks (drain3.ini)" "$d3d" ratio
row "Drain3 TemplateMiner + logparser's HDFS masks (2 regexps)" "$d3h" ratio
row "Drain3 TemplateMiner, no masks" "$d3n" ratio
echo
echo "The in-process benchmarks \`BenchmarkTemplatesHDFS\` (cmd/opsdata: the same command on the same"
echo "kind of file) and \`BenchmarkMinerCorpora\` (pipeline/logtemplates: the miner alone on the corpora)"
echo "are in the table above. Decision record: docs/decisions/0024-drain-miner-faithful-and-beyond.md."
