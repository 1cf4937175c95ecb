# timed NAME CMD...: runs CMD with its output kept in $work/log-NAME and
# prints "NAME wall_s=… cpu_s=… max_rss_mib=… FIELD" from /usr/bin/time,
# FIELD being what the caller's extra_field LOG prints (e.g. series=10000).
# Sourced by the sharding benchmarks (with shard_rounds below); needs $work.
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

# shard_rounds shards_only|with_commit CMD [COMMIT_FLAG...]: for each N in
# $shards, the N shards `opsdata CMD "${op[@]}" --shard i/N` one after the
# other (as an Indexed Job's pods would run, sequentially here), then
# `opsdata commit [COMMIT_FLAG...] "${op[@]}" --shards N` into
# $work/out-N; the published files (sums DIR) must equal one process's in
# $work/out-1p. Then a summary per N: total CPU against one process's
# ($work/one.txt), the commit's counted with with_commit; slowest shard,
# largest shard RSS. Needs $work, $shards, op and sums.
shard_rounds() {
	local count=$1 cmd=$2
	shift 2
	local n i out one
	for n in $shards; do
		out="$work/out-$n"
		for ((i = 0; i < n; i++)); do
			timed "N=$n shard=$i" "$work/opsdata" "$cmd" "${op[@]}" --output "file://$out" --shard "$i/$n"
		done | tee "$work/shards-$n.txt"
		timed "N=$n commit" "$work/opsdata" commit "$@" "${op[@]}" --output "file://$out" --shards "$n" | tee "$work/commit-$n.txt"
		if [[ "$(sums "$work/out-1p")" == "$(sums "$out")" ]]; then
			echo "N=$n published bytes: identical to one process ($(sums "$out" | wc -l) files)"
		else
			echo "N=$n published bytes: DIFFER from one process" >&2
			return 1
		fi
		one=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$work/one.txt")
		cat "$work/shards-$n.txt" "$work/commit-$n.txt" | awk -v n="$n" -v one="$one" -v withcommit="$([[ $count == with_commit ]] && echo 1 || echo 0)" '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			  if ($2 == "commit") { if (withcommit) cpu += v["cpu_s"]; next }
			  cpu += v["cpu_s"]; k++
			  if (v["wall_s"] + 0 > maxw) maxw = v["wall_s"] + 0
			  if (v["max_rss_mib"] + 0 > maxr) maxr = v["max_rss_mib"] + 0 }
			END { printf "N=%d summary: %d shards%s, total CPU %.2f s = %.2f x one process (%.2f s); slowest shard %.2f s wall; max shard RSS %.1f MiB\n",
			      n, k, withcommit ? " and the commit" : "", cpu, cpu / one, one, maxw, maxr }
		'
	done
}
