#!/usr/bin/env bash
# Writes the baselines results file the dataset card shows (docs/decisions/0035):
# exports SPEC (without its baselines: key, into a temporary directory), runs
# notebooks/baselines.py on the version's windows, which scores each baseline's
# predictions with `opsdata score --split test --json`, and writes RESULTS.
#
#   scripts/baselines.sh [SPEC [RESULTS]]   # default datasets/demo.yaml datasets/demo-baselines.json
#
# Run from the repository root (the spec's relative paths are relative to it), after
# `make demo-data`. Env: OPSDATA_BIN (default bin/opsdata), VENV (default .venv).
# The windows bytes do not depend on the baselines: key, so the next export of SPEC
# has the windows the results were computed on, and its card shows them.
set -euo pipefail

spec="${1:-datasets/demo.yaml}"
results="${2:-datasets/demo-baselines.json}"
bin="${OPSDATA_BIN:-bin/opsdata}"
venv="${VENV:-.venv}"

for f in "$spec" "$bin" "$venv/bin/python"; do
	if [[ ! -e "$f" ]]; then
		echo "baselines.sh: $f not found; run 'make build venv demo-data' first (or set OPSDATA_BIN, VENV)" >&2
		exit 1
	fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The spec without its baselines: key: the results file may not exist yet.
grep -v '^baselines:' "$spec" >"$tmp/spec.yaml"
"$bin" export --spec "$tmp/spec.yaml" --output "file://$tmp/out" >"$tmp/export.log" 2>&1 || {
	cat "$tmp/export.log" >&2
	echo "baselines.sh: export of $spec failed" >&2
	exit 1
}
latest=("$tmp"/out/*/latest)
dataset_dir="$(dirname "${latest[0]}")"
vdir="$dataset_dir/$(cat "${latest[0]}")"
"$venv/bin/python" notebooks/baselines.py "$vdir" "$tmp/predictions" --opsdata "$bin" --results "$results.tmp"
mv "$results.tmp" "$results"
echo "baselines.sh: wrote $results (computed on $vdir)" >&2
