#!/usr/bin/env bash
# Makes the real Alertmanager available for the tests (Debian's
# prometheus-alertmanager package). labelers/alertmanager_test.go calls
# `scripts/alertmanager.sh install` when the binary is missing, then starts
# the server itself on 127.0.0.1 with a temp storage dir and clustering off.
set -euo pipefail
case "${1:-install}" in
install)
	if command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; then
		exit 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "alertmanager.sh: prometheus-alertmanager missing and not root: run 'sudo apt-get install -y prometheus-alertmanager'" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends prometheus-alertmanager </dev/null
	# The package may start a system-wide server on :9093; the tests run their own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true; fi
	;;
*)
	echo "usage: scripts/alertmanager.sh install" >&2
	exit 2
	;;
esac
