#!/usr/bin/env bash
# Makes the real Prometheus server and promtool available for the tests
# (Debian's prometheus package, 2.42). The Go helper internal/promtest calls
# `scripts/prometheus.sh install` when either command is missing, then
# backfills and starts the server itself on 127.0.0.1 with a temp data dir.
set -euo pipefail
case "${1:-install}" in
install)
	if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
		exit 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "prometheus.sh: prometheus/promtool missing and not root: run 'sudo apt-get install -y prometheus'" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends prometheus </dev/null
	# The package starts a system-wide server on :9090; the tests run their own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
	;;
*)
	echo "usage: scripts/prometheus.sh install" >&2
	exit 2
	;;
esac
