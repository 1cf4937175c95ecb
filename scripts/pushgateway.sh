#!/usr/bin/env bash
# Makes Debian's Prometheus Pushgateway (prometheus-pushgateway, 1.5) available
# for the tests. The Go helper internal/promtest calls
# `scripts/pushgateway.sh install` when /usr/bin/prometheus-pushgateway is
# missing, then starts it itself on 127.0.0.1 with a temp persistence file.
# `scripts/pushgateway.sh start DIR` runs one by hand on a free port and
# prints its URL (stop it with the printed kill command).
set -euo pipefail
bin=/usr/bin/prometheus-pushgateway
case "${1:-install}" in
install)
	if [[ -x $bin ]] || command -v prometheus-pushgateway >/dev/null 2>&1; then
		exit 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "pushgateway.sh: prometheus-pushgateway missing and not root: run 'sudo apt-get install -y prometheus-pushgateway'" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends prometheus-pushgateway </dev/null
	# The package starts a system-wide gateway on :9091; the tests run their own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus-pushgateway >/dev/null 2>&1 || true; fi
	;;
start)
	dir=${2:?usage: scripts/pushgateway.sh start DIR}
	"$0" install
	mkdir -p "$dir"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$bin" --web.listen-address="127.0.0.1:$port" --persistence.file="$dir/pushgateway.db" >"$dir/pushgateway.log" 2>&1 &
	echo "pushgateway: http://127.0.0.1:$port (log $dir/pushgateway.log; stop: kill $!)"
	;;
*)
	echo "usage: scripts/pushgateway.sh install | start DIR" >&2
	exit 2
	;;
esac
