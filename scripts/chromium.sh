#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium (Debian's `chromium`),
# installing it with apt-get when it is missing and we are root (CI).
# Exit status 1 with a message on stderr when it cannot be found or installed.
set -euo pipefail
for c in chromium chromium-browser; do
	if p="$(command -v "$c")"; then
		echo "$p"
		exit 0
	fi
done
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "chromium.sh: installing chromium with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends chromium </dev/null >&2 ||
		{ apt-get update -q </dev/null >&2 && apt-get install -y -q --no-install-recommends chromium </dev/null >&2; }
	command -v chromium
	exit 0
fi
echo "chromium.sh: chromium not found; install it with: apt-get install -y chromium" >&2
exit 1
