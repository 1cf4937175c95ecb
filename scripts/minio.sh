#!/usr/bin/env bash
# MinIO for the tests, on 127.0.0.1 only.
#
#   scripts/minio.sh install       print the path of a minio binary, installing it with
#                                  `go install github.com/minio/minio@latest` when missing
#   scripts/minio.sh start STATE   start a server on 127.0.0.1:<free port> with data in
#                                  STATE/data and random credentials; writes STATE/env
#                                  (shell assignments: MINIO_ENDPOINT, AWS_ACCESS_KEY_ID,
#                                  AWS_SECRET_ACCESS_KEY, AWS_REGION, MINIO_PID) and prints it
#   scripts/minio.sh stop STATE    stop the server started with STATE
#
# Where the binary is looked for, first hit wins: $OPSDATA_MINIO, minio on PATH,
# $(go env GOBIN), $(go env GOPATH)/bin, ${XDG_CACHE_HOME:-$HOME/.cache}/opsdata/bin.
# A missing binary is installed into the last of these (a cache: deleting it only
# costs a reinstall of a few minutes). Needs go, and python3 for `start`.
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/opsdata/bin"

find_minio() {
	local c
	if [[ -n "${OPSDATA_MINIO:-}" ]]; then
		[[ -x "$OPSDATA_MINIO" ]] || { echo "minio.sh: OPSDATA_MINIO=$OPSDATA_MINIO is not an executable" >&2; return 1; }
		echo "$OPSDATA_MINIO"
		return 0
	fi
	if c="$(command -v minio 2>/dev/null)"; then
		echo "$c"
		return 0
	fi
	if command -v go >/dev/null 2>&1; then
		for c in "$(go env GOBIN)/minio" "$(go env GOPATH | cut -d: -f1)/bin/minio"; do
			if [[ "$c" != /minio && -x "$c" ]]; then
				echo "$c"
				return 0
			fi
		done
	fi
	if [[ -x "$cache/minio" ]]; then
		echo "$cache/minio"
		return 0
	fi
	return 1
}

install_minio() {
	local bin
	if bin="$(find_minio)"; then
		echo "$bin"
		return 0
	fi
	if ! command -v go >/dev/null 2>&1; then
		echo "minio.sh: minio is not installed and go is not on PATH to install it" >&2
		return 1
	fi
	mkdir -p "$cache"
	# One installer at a time: parallel test packages may all ask.
	exec 9>"$cache/.minio.lock"
	flock 9
	if [[ ! -x "$cache/minio" ]]; then
		echo "minio.sh: installing minio into $cache (go install github.com/minio/minio@latest; takes a few minutes)" >&2
		if ! GOBIN="$cache" GOFLAGS=-buildvcs=false go install github.com/minio/minio@latest >&2; then
			echo "minio.sh: go install github.com/minio/minio@latest failed (see above)" >&2
			return 1
		fi
	fi
	flock -u 9
	echo "$cache/minio"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_minio() {
	local state="$1" bin port cport user pass
	bin="$(install_minio)"
	mkdir -p "$state/data"
	state="$(cd "$state" && pwd)"
	port="$(free_port)"
	cport="$(free_port)"
	user="opsdata-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	pass="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
	MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
		nohup "$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" "$state/data" \
		>"$state/minio.log" 2>&1 </dev/null &
	local pid=$!
	local url="http://127.0.0.1:$port"
	for _ in $(seq 1 300); do
		if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/minio/health/ready", timeout=1)' "$url" 2>/dev/null; then
			cat >"$state/env" <<ENV
MINIO_ENDPOINT=$url
AWS_ENDPOINT_URL=$url
AWS_ACCESS_KEY_ID=$user
AWS_SECRET_ACCESS_KEY=$pass
AWS_REGION=us-east-1
MINIO_PID=$pid
ENV
			cat "$state/env"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "minio.sh: minio exited during start-up; its log ($state/minio.log):" >&2
			cat "$state/minio.log" >&2
			return 1
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	echo "minio.sh: minio did not become ready on $url within 30s; log: $state/minio.log" >&2
	return 1
}

stop_minio() {
	local state="$1" pid
	[[ -f "$state/env" ]] || return 0
	pid="$(sed -n 's/^MINIO_PID=//p' "$state/env")"
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
}

case "${1:-}" in
install) install_minio ;;
start) [[ -n "${2:-}" ]] || { echo "usage: $0 start STATE-DIR" >&2; exit 2; }; start_minio "$2" ;;
stop) [[ -n "${2:-}" ]] || { echo "usage: $0 stop STATE-DIR" >&2; exit 2; }; stop_minio "$2" ;;
*) echo "usage: $0 install | start STATE-DIR | stop STATE-DIR" >&2; exit 2 ;;
esac
