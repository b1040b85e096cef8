#!/usr/bin/env bash
# make bench: every Go benchmark of the module in one run, then a report with the
# figures and the ratios against baselines measured in the same run. Benchmarks
# print figures; nothing here fails on a time.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCHTIME:=1s}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# -p 1: one package at a time, so no two benchmarks share the two cores.
go test -p 1 -run '^$' -bench "${BENCH:-.}" -benchtime "$BENCHTIME" -benchmem -timeout 60m ${BENCHPKGS:-./...} | tee "$out"
go run ./bench/benchreport -md bench-report.md -json bench-report.json <"$out"
