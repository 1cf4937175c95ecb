# timed NAME CMD...: runs CMD with its output kept in $work/log-NAME and
# prints "NAME wall_s=… cpu_s=… max_rss_mib=… FIELD" from /usr/bin/time,
# FIELD being what the caller's extra_field LOG prints (e.g. series=10000).
# Sourced by the sharding benchmarks; needs $work.
timed() {
	local name=$1
	shift
	local log="$work/log-${name// /_}"
	/usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >"$log" 2>&1 || {
		cat "$log" >&2
		return 1
	}
	read -r wall user sys rss <"$work/time"
	awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v x="$(extra_field "$log")" \
		'BEGIN { printf "%s wall_s=%.2f cpu_s=%.2f max_rss_mib=%.1f %s\n", n, w, u + s, r / 1024, x }'
}
