#!/usr/bin/env bash
# make bench: every Go benchmark of the module in one run, then the workloads of
# `cairn bench` against a local 3-node cairn cluster and against franz-go's
# in-memory kfake cluster (the protocol ceiling), then a report with the figures
# and the ratios against baselines measured in the same run. The workloads:
#   cairn         e2e as fast as possible: the maximum rate and its latency
#   cairn-half    e2e paced (open loop) at half that rate: latency under load
#                 that the cluster sustains, the figure to quote
#   cairn-replay  consume-only, every record of the topic from its start
#   kfake, kfake-half   the same two e2e runs against kfake, kfake-half at
#                 cairn's half rate so that the latencies compare
# Benchmarks print figures; nothing here fails on a time. Bounded: every wait has
# a deadline, every node is stopped on exit, everything listens on 127.0.0.1.
#
# E2E_RECORDS (default 100000) sets the size of the maximum-rate run (the paced
# run sends half as many, so it lasts about as long); E2E=0 skips the workloads,
# GOBENCH=0 the Go benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCHTIME:=1s}"
: "${E2E_RECORDS:=100000}"
work=$(mktemp -d)
out="$work/go-bench.txt"
. scripts/devcluster.sh
cleanup() {
	stop_cluster
	if [ "${keep:-}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# half_rate FILE prints half the acknowledged records/s of a `cairn bench
# --format json` summary (the first records_per_s is the produced one), or
# nothing if the run acknowledged nothing.
half_rate() {
	awk -F': ' '/"records_per_s"/ { gsub(/[ ,]/, "", $2); if ($2 > 0) printf "%.0f\n", $2 / 2; exit }' "$1"
}

# -p 1: one package at a time, so no two benchmarks share the two cores.
if [ "${GOBENCH:-1}" != 0 ]; then
	go test -p 1 -run '^$' -bench "${BENCH:-.}" -benchtime "$BENCHTIME" -benchmem -timeout 60m ${BENCHPKGS:-./...} | tee "$out"
else
	: >"$out"
fi

e2e=()
if [ "${E2E:-1}" != 0 ]; then
	make -s build
	go build -o "$work/kfakebench" ./bench/cmd/kfakebench
	shape=(--record-size 1024 --partitions 3 --replication 3 --acks all --producers 1 --consumers 3
		--drain-timeout 60s --format json)
	max=(bench e2e "${shape[@]}" --records "$E2E_RECORDS")

	start_cluster 49091 "$work" || { keep=1; exit 1; }
	echo "e2e against cairn ($brokers), as fast as possible: ${max[*]}"
	timeout 600 bin/cairn "${max[@]}" --brokers "$brokers" >"$work/e2e-cairn.json"
	e2e+=(-e2e "cairn=$work/e2e-cairn.json")
	half=$(half_rate "$work/e2e-cairn.json")
	if [ -n "$half" ]; then
		paced=(bench e2e "${shape[@]}" --records $((E2E_RECORDS / 2)) --rate "$half")
		echo "e2e against cairn at half the maximum rate: ${paced[*]}"
		timeout 600 bin/cairn "${paced[@]}" --brokers "$brokers" >"$work/e2e-cairn-half.json"
		e2e+=(-e2e "cairn-half=$work/e2e-cairn-half.json")
	else
		echo "the maximum-rate run acknowledged nothing: no paced run"
	fi
	echo "replay of the topic from its start against cairn"
	timeout 600 bin/cairn bench consume --consumers 3 --format json --brokers "$brokers" >"$work/replay-cairn.json"
	e2e+=(-e2e "cairn-replay=$work/replay-cairn.json")
	stop_cluster

	echo "e2e against kfake (3 brokers, in memory), as fast as possible: ${max[*]}"
	timeout 600 "$work/kfakebench" -brokers 3 -- bin/cairn "${max[@]}" >"$work/e2e-kfake.json"
	e2e+=(-e2e "kfake=$work/e2e-kfake.json")
	if [ -n "$half" ]; then
		echo "e2e against kfake at cairn's half rate: ${paced[*]}"
		timeout 600 "$work/kfakebench" -brokers 3 -- bin/cairn "${paced[@]}" >"$work/e2e-kfake-half.json"
		e2e+=(-e2e "kfake-half=$work/e2e-kfake-half.json")
	fi
fi

go run ./bench/benchreport -md bench-report.md -json bench-report.json "${e2e[@]}" <"$out"
