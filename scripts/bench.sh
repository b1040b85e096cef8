#!/usr/bin/env bash
# make bench: every Go benchmark of the module in one run, then the end-to-end
# workload (`cairn bench e2e`) against a local 3-node cairn cluster and against
# franz-go's in-memory kfake cluster (the protocol ceiling), then a report with
# the figures and the ratios against baselines measured in the same run.
# Benchmarks print figures; nothing here fails on a time. Bounded: every wait has
# a deadline, every node is stopped on exit, everything listens on 127.0.0.1.
#
# E2E_RECORDS (default 100000) sets the workload's size; E2E=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCHTIME:=1s}"
: "${E2E_RECORDS:=100000}"
work=$(mktemp -d)
out="$work/go-bench.txt"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ "${keep:-}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# -p 1: one package at a time, so no two benchmarks share the two cores.
go test -p 1 -run '^$' -bench "${BENCH:-.}" -benchtime "$BENCHTIME" -benchmem -timeout 60m ${BENCHPKGS:-./...} | tee "$out"

e2e=()
if [ "${E2E:-1}" != 0 ]; then
	make -s build
	go build -o "$work/kfakebench" ./bench/cmd/kfakebench
	workload=(bench e2e --records "$E2E_RECORDS" --record-size 1024 --partitions 3 --replication 3
		--acks all --producers 1 --consumers 3 --drain-timeout 60s --format json)

	# A 3-node cluster of processes, as scripts/interop.sh starts it.
	brokers=""
	for i in 1 2 3; do
		join=()
		[ "$i" != 1 ] && join=(--join 127.0.0.1:49291)
		bin/cairn serve --node-id "$i" --data "$work/n$i" \
			--kafka-addr "127.0.0.1:4909$i" --internal-addr "127.0.0.1:4919$i" \
			--gossip-addr "127.0.0.1:4929$i" --http-addr "127.0.0.1:4939$i" \
			"${join[@]}" >"$work/n$i.log" 2>&1 &
		pids+=($!)
		brokers+="${brokers:+,}127.0.0.1:4909$i"
	done
	deadline=$((SECONDS + 60))
	for i in 1 2 3; do
		until curl -fsS "http://127.0.0.1:4939$i/readyz" >/dev/null 2>&1; do
			if ((SECONDS > deadline)); then
				echo "node $i not ready after 60s"; tail -20 "$work/n$i.log"; keep=1; exit 1
			fi
			sleep 0.2
		done
	done
	# Every broker registered before the topic of RF 3 is created.
	until [ "$(curl -fsS http://127.0.0.1:49391/v1/cluster | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["brokers"]))')" = 3 ]; do
		if ((SECONDS > deadline)); then echo "brokers did not register"; keep=1; exit 1; fi
		sleep 0.2
	done

	echo "e2e against cairn ($brokers): ${workload[*]}"
	timeout 600 bin/cairn "${workload[@]}" --brokers "$brokers" >"$work/e2e-cairn.json"
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	echo "e2e against kfake (3 brokers, in memory): ${workload[*]}"
	timeout 600 "$work/kfakebench" -brokers 3 -- bin/cairn "${workload[@]}" >"$work/e2e-kfake.json"
	e2e=(-e2e "cairn=$work/e2e-cairn.json" -e2e "kfake=$work/e2e-kfake.json")
fi

go run ./bench/benchreport -md bench-report.md -json bench-report.json "${e2e[@]}" <"$out"
