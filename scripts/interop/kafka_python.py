"""Interop with kafka-python (Debian's python3-kafka), a pure-Python client
that shares no code with librdkafka or the Go clients.

The admin client creates an RF3 topic and alters its configs as a whole set
(AlterConfigs); a producer (acks=all) writes numbered, keyed records; a group
consumer reads every one back and commits; an assign() reader replays one
partition from the start. Checks are exact: each record once, at the offset it
was acknowledged at, in order per partition. Bounded: every loop has a
deadline."""
import os
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

BROKERS = os.environ["BROKERS"].split(",")
TOPIC = "kafka-python"
PARTITIONS, RECORDS = 4, 5000
REPLICAS = int(os.environ.get("REPLICAS", "3"))


def fail(msg):
    print("kafka-python:", msg, file=sys.stderr)
    sys.exit(1)


admin = KafkaAdminClient(bootstrap_servers=BROKERS, request_timeout_ms=30000)
admin.create_topics([NewTopic(TOPIC, PARTITIONS, REPLICAS)], timeout_ms=30000)
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC, configs={"retention.ms": "86400000"})])
described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC)])
entries = {e[0]: e[1] for r in described for res in r.resources for e in res[4]}
if entries.get("retention.ms") != "86400000":
    fail("retention.ms after alter_configs: %r" % entries.get("retention.ms"))

producer = KafkaProducer(bootstrap_servers=BROKERS, acks="all", linger_ms=5, retries=5)
futures = [producer.send(TOPIC, key=str(i % 31).encode(), value=("record-%06d" % i).encode()) for i in range(RECORDS)]
producer.flush(60)
acked = {}
for i, f in enumerate(futures):
    md = f.get(timeout=30)
    acked["record-%06d" % i] = (md.partition, md.offset)
producer.close()

consumer = KafkaConsumer(TOPIC, bootstrap_servers=BROKERS, group_id="kafka-python", auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=1000)
seen, last = {}, {}
deadline = time.time() + 120
while len(seen) < RECORDS and time.time() < deadline:
    for msg in consumer:
        v = msg.value.decode()
        if v in seen:
            fail("record %s consumed twice" % v)
        if last.get(msg.partition, -1) >= msg.offset:
            fail("partition %d went back to %d" % (msg.partition, msg.offset))
        last[msg.partition] = msg.offset
        seen[v] = (msg.partition, msg.offset)
        if acked.get(v) != seen[v]:
            fail("record %s acknowledged at %s, read at %s" % (v, acked.get(v), seen[v]))
consumer.commit()
consumer.close()
if len(seen) != RECORDS:
    fail("consumed %d of %d in 120s" % (len(seen), RECORDS))
committed = admin.list_consumer_group_offsets("kafka-python")
for p in range(PARTITIONS):
    want = last[p] + 1
    got = committed.get(TopicPartition(TOPIC, p))
    if got is None or got.offset != want:
        fail("partition %d: committed %s, want %d" % (p, got, want))

# Replay partition 0 from the start with assign().
reader = KafkaConsumer(bootstrap_servers=BROKERS, enable_auto_commit=False, consumer_timeout_ms=1000)
tp = TopicPartition(TOPIC, 0)
reader.assign([tp])
reader.seek_to_beginning(tp)
replayed = []
deadline = time.time() + 60
while len(replayed) <= last[0] and time.time() < deadline:
    for msg in reader:
        replayed.append(msg.offset)
reader.close()
if replayed != list(range(last[0] + 1)):
    fail("replay of partition 0 read %d records, want offsets 0..%d in order" % (len(replayed), last[0]))
print("kafka-python: %d records produced, consumed once by a group with offsets committed, partition 0 replayed"
      % RECORDS)
