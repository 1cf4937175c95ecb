#!/usr/bin/env bash
# Creates or updates a venv (default: .venv at the repo root; or the directory
# given as $1) with notebooks/requirements.txt.
# Idempotent: a stamp holding the hash of requirements.txt and of the Python
# version makes a second run a no-op; any change reinstalls.
# Env: PYTHON (default python3) picks the interpreter the venv is built from.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(realpath -m "${1:-$root/.venv}")"
req="$root/notebooks/requirements.txt"
stamp="$venv/.opsdata-requirements.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
	echo "venv.sh: $python not found; install Python 3.11+ or set PYTHON=/path/to/python3" >&2
	exit 1
fi
if [[ ! -f "$req" ]]; then
	echo "venv.sh: $req is missing" >&2
	exit 1
fi

# pandas 3 needs Python 3.11 or newer; say so instead of failing deep inside pip.
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
	echo "venv.sh: $python is not Python 3.11+, which the pinned readers need; set PYTHON=/path/to/python3.11" >&2
	exit 1
fi
pyversion="$("$python" -c 'import sys; print(sys.version)')"
want="$( { sha256sum <"$req"; echo "$pyversion"; } | sha256sum | cut -d' ' -f1)"

# Fast path: the venv's own interpreter still runs and the stamp matches.
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
	"$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
	exit 0
fi

# A venv whose interpreter no longer runs (Python moved or upgraded) is rebuilt from scratch.
if [[ -d "$venv" ]] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
	echo "venv.sh: $venv is broken; recreating it" >&2
	rm -rf "$venv"
fi
if ! "$python" -m venv "$venv"; then
	echo "venv.sh: '$python -m venv' failed; on Debian install python3-venv (apt-get install -y python3-venv)" >&2
	exit 1
fi

# Keep downloads in a cache that survives between runs when the machine keeps
# it; fall back to no cache when it can't be written (pip works without one).
cache="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pip}"
cacheflag=(--cache-dir "$cache")
if ! mkdir -p "$cache" 2>/dev/null || [[ ! -w "$cache" ]]; then
	cacheflag=(--no-cache-dir)
fi

echo "venv.sh: installing $req into $venv" >&2
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${cacheflag[@]}" -r "$req"
# Write the stamp last and atomically, so an interrupted install is redone next time.
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
