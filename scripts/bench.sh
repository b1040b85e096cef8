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
. scripts/devcluster.sh
cleanup() {
	stop_cluster
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

	start_cluster 49091 "$work" || { keep=1; exit 1; }
	echo "e2e against cairn ($brokers): ${workload[*]}"
	timeout 600 bin/cairn "${workload[@]}" --brokers "$brokers" >"$work/e2e-cairn.json"
	stop_cluster
	echo "e2e against kfake (3 brokers, in memory): ${workload[*]}"
	timeout 600 "$work/kfakebench" -brokers 3 -- bin/cairn "${workload[@]}" >"$work/e2e-kfake.json"
	e2e=(-e2e "cairn=$work/e2e-cairn.json" -e2e "kfake=$work/e2e-kfake.json")
fi

go run ./bench/benchreport -md bench-report.md -json bench-report.json "${e2e[@]}" <"$out"
