#!/usr/bin/env bash
# make test-interop: the built binary as a 3-node cluster of processes on
# 127.0.0.1, driven by librdkafka clients (kcat and confluent-kafka-python) and
# by kafka-python, a client of its own (Debian's packages, installed here when
# missing). Bounded: every wait has a
# deadline and every node is stopped on exit. Its ports (44091 and up) stay
# clear of bench.sh's (49091 and up) and of the ones docker-compose.yml
# publishes (19092, 29092, 39092), which scripts/compose-test.sh, the second
# half of make test-interop, uses once this script has stopped its cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v kcat >/dev/null || need+=(kcat)
command -v curl >/dev/null || need+=(curl)
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || need+=(python3-confluent-kafka)
/usr/bin/python3 -c 'import kafka' 2>/dev/null || need+=(python3-kafka)
if ((${#need[@]})); then
	echo "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q "${need[@]}" >/dev/null
fi

make -s build
work=$(mktemp -d)
. scripts/devcluster.sh
cleanup() {
	stop_cluster
	if [ "${keep:-}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
start_cluster 44091 "$work" || { keep=1; exit 1; }

BROKERS=$brokers timeout 300 /usr/bin/python3 scripts/interop/librdkafka.py || { keep=1; exit 1; }
BROKERS=$brokers timeout 400 /usr/bin/python3 scripts/interop/librdkafka_group.py || { keep=1; exit 1; }
BROKERS=$brokers timeout 300 /usr/bin/python3 scripts/interop/kafka_python.py || { keep=1; exit 1; }

# kcat: produce lines, read them back from the beginning, and look up an offset
# by timestamp.
topic=kcat-lines
seq 1 1000 | sed 's/^/line-/' | timeout 60 kcat -b "$brokers" -P -t "$topic" -X topic.request.required.acks=-1
got=$(timeout 60 kcat -b "$brokers" -C -t "$topic" -o beginning -e -q | wc -l)
[ "$got" = 1000 ] || { echo "kcat consumed $got lines, want 1000"; keep=1; exit 1; }
ts=$(($(date +%s) * 1000 - 3600000))
timeout 30 kcat -b "$brokers" -Q -t "$topic:0:$ts" | grep -q "offset 0" || { echo "kcat -Q by timestamp did not answer offset 0"; keep=1; exit 1; }
echo "kcat: 1000 lines produced and consumed back; offset by timestamp ok"
echo "interop: 4 passed, 0 failed"
