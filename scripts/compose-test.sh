#!/usr/bin/env bash
# make test-interop, the image part: builds cairn:latest (make image), starts
# docker-compose.yml's 3-node cluster under a project name of its own, waits
# until every node is healthy, then through the ports published on localhost
# creates an RF3 topic, produces and consumes, and checks that a client
# bootstrapping on one published port is told the localhost addresses of all
# three; from inside the compose network (the image itself as the client) it
# checks the other listener's brokerN:9092 addresses and reads the records
# back. Bounded: every step has a deadline, and the cluster with its volumes is
# removed on exit, failed or not. Needs a Docker engine and docker-compose
# (SKIP_IMAGE_TEST=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SKIP_IMAGE_TEST:-}" = 1 ]; then
	echo "image test: skipped (SKIP_IMAGE_TEST=1)"
	exit 0
fi
command -v docker-compose >/dev/null || { echo "image test: docker-compose not installed (apt-get install docker-compose; SKIP_IMAGE_TEST=1 skips)"; exit 1; }
timeout 20 docker info >/dev/null 2>&1 || { echo "image test: no Docker engine answers (SKIP_IMAGE_TEST=1 skips)"; exit 1; }

begin=$SECONDS
out=$(timeout 300 make -s image 2>&1) || { echo "$out"; echo "image test: make image failed"; exit 1; }
echo "image test: cairn:latest built in $((SECONDS - begin))s"

project=cairntest$$
compose() { timeout 120 docker-compose --project-name "$project" --file docker-compose.yml "$@"; }
cleanup() {
	local rc=$?
	if [ "$rc" != 0 ]; then
		compose logs --no-color --tail 20 2>&1 | tail -60 || true
	fi
	compose down --volumes --remove-orphans --timeout 20 >/dev/null 2>&1 || true
	exit "$rc"
}
trap cleanup EXIT

up=$SECONDS
compose up -d --no-build
deadline=$((SECONDS + 120))
while :; do
	states=$(docker inspect --format '{{.State.Health.Status}}' $(compose ps -q) | sort | uniq -c | xargs)
	[ "$states" = "3 healthy" ] && break
	if ((SECONDS > deadline)); then
		echo "image test: not healthy within 120s: $states"
		exit 1
	fi
	sleep 1
done
echo "image test: 3 nodes healthy $((SECONDS - up))s after docker-compose up"

external=localhost:19092,localhost:29092,localhost:39092
cairn() { timeout 60 bin/cairn --timeout 30s "$@"; }
topic=compose-rf3
cairn --brokers "$external" topic create "$topic" -p 3 -r 3
seq 1 1000 | sed 's/^/line-/' | cairn --brokers "$external" produce "$topic"
got=$(cairn --brokers "$external" consume "$topic" -o start:end | wc -l)
[ "$got" = 1000 ] || { echo "image test: consumed $got records through $external, want 1000"; exit 1; }
echo "image test: 1000 records produced and consumed through $external"

# One published port is enough: the client is told every broker's EXTERNAL
# address.
brokers_of() { /usr/bin/python3 -c 'import json, sys; print(",".join(sorted("%s:%d" % (b["host"], b["port"]) for b in json.load(sys.stdin)["brokers"])))'; }
seen=$(cairn --brokers localhost:29092 cluster info --format json | brokers_of)
[ "$seen" = "$external" ] || { echo "image test: bootstrapped on localhost:29092, told $seen, want $external"; exit 1; }
echo "image test: bootstrapped on localhost:29092, told $seen"

# Inside the compose network, through INTERNAL: brokerN:9092 addresses, and
# the same records.
inside() { timeout 60 docker run --rm --pull never --network "${project}_default" cairn:latest --timeout 30s "$@"; }
seen=$(inside --brokers broker2:9092 cluster info --format json | brokers_of)
[ "$seen" = broker1:9092,broker2:9092,broker3:9092 ] || { echo "image test: bootstrapped on broker2:9092, told $seen"; exit 1; }
got=$(inside --brokers broker3:9092 consume "$topic" -o start:end | wc -l)
[ "$got" = 1000 ] || { echo "image test: consumed $got records through broker3:9092, want 1000"; exit 1; }
echo "image test: bootstrapped on broker2:9092, told $seen; 1000 records consumed inside the network"
echo "image test: passed in $((SECONDS - begin))s"
