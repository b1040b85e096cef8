#!/usr/bin/env bash
# make test-faults: a fault-injection campaign against the built binary. Each
# run starts a 3-node cluster in network namespaces (needs root, iproute2 and
# nftables, installed here when missing), writes and reads under a new random
# fault set every 10 s, heals, reads everything back and checks the history
# and every replica's files. FAULT_RUNS runs of FAULT_SECONDS each (default
# 5 x 60 s); FAULT_SEED repeats a campaign's choices. Every run is bounded in
# time and removes its namespaces and processes, also when it fails; failing
# runs keep their history and data under FAULT_OUT. FAULT_TAGS: see below.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v iptables >/dev/null || need+=(iptables)
if ((${#need[@]})); then
	echo "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q "${need[@]}" >/dev/null
fi

# FAULT_TAGS builds a deliberately broken broker to show the campaign
# catches it, e.g. FAULT_TAGS=cairn_unsafe_nodedup (no idempotent dedup).
bin=bin/cairn
if [ -n "${FAULT_TAGS:-}" ]; then
	bin=bin/cairn-$FAULT_TAGS
	CGO_ENABLED=0 go build -tags "$FAULT_TAGS" -o "$bin" ./cmd/cairn
else
	make -s build
fi
runs=${FAULT_RUNS:-5}
seconds=${FAULT_SECONDS:-60}
out=${FAULT_OUT:-faults-out}
rm -rf "$out"
# A run takes its seconds plus about a minute to start, heal, read back and
# check; the bound leaves room for a slow one.
timeout $((runs * (seconds + 240) + 120)) \
	go run ./faults/cmd/campaign -binary "$bin" -runs "$runs" -seconds "$seconds" \
	-seed "${FAULT_SEED:-0}" -out "$out"
