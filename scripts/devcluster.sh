# Sourced by scripts that need a local 3-node cluster of the built binary:
# `cairn dev` starts it, waits until every node is ready and registered, and
# prints the export line this reads. start_cluster BASE_PORT DIR sets $brokers;
# stop_cluster (also run from the caller's EXIT trap) stops every node.
# Bounded: the dev command gives up after a minute, and this after 90 s.

dev_pid=""

start_cluster() {
	local base=$1 dir=$2 deadline=$((SECONDS + 90))
	bin/cairn dev -n 3 --data "$dir/data" --base-port "$base" --log-level warn >"$dir/dev.log" 2>&1 &
	dev_pid=$!
	until brokers=$(sed -n 's/^export CAIRN_BROKERS=//p' "$dir/dev.log") && [ -n "$brokers" ]; do
		if ! kill -0 "$dev_pid" 2>/dev/null || ((SECONDS > deadline)); then
			echo "cluster not ready:"; tail -20 "$dir/dev.log"; return 1
		fi
		sleep 0.2
	done
	echo "cluster: $brokers (log in $dir/dev.log)"
}

stop_cluster() {
	[ -n "$dev_pid" ] || return 0
	kill -INT "$dev_pid" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$dev_pid" 2>/dev/null || true
	dev_pid=""
}
