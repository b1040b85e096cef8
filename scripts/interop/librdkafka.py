"""Interop with librdkafka through confluent-kafka-python (Debian's package).

The admin client alters the topic's configs as a whole set (AlterConfigs) and
reads them back. An idempotent producer writes numbered records to an RF3
topic, a consumer in a group reads every one back, and the check is exact: each
record once, in order per partition. Bounded: every loop has a deadline."""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BROKERS = os.environ["BROKERS"]
TOPIC = "librdkafka-idempotent"
PARTITIONS, RECORDS = 6, 20000


def fail(msg):
    print("librdkafka:", msg, file=sys.stderr)
    sys.exit(1)


admin = AdminClient({"bootstrap.servers": BROKERS})
for fut in admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)], operation_timeout=30).values():
    fut.result(timeout=60)

# alter_configs sends the whole-set AlterConfigs (API 33): what it leaves out
# returns to its default.
want = {"retention.ms": "86400000", "cleanup.policy": "compact,delete"}
for fut in admin.alter_configs([ConfigResource("topic", TOPIC, set_config=want)]).values():
    fut.result(timeout=60)
for fut in admin.describe_configs([ConfigResource("topic", TOPIC)]).values():
    got = {name: entry.value for name, entry in fut.result(timeout=60).items()}
    if any(got.get(k) != v for k, v in want.items()) or got.get("segment.ms") != "604800000":
        fail("configs after alter_configs: %s" % got)

acked, errors = {}, []


def on_delivery(err, msg):
    if err is not None:
        errors.append(err)
    else:
        acked[msg.value().decode()] = (msg.partition(), msg.offset())


p = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True, "acks": "all",
              "linger.ms": 5, "compression.type": "lz4"})
for i in range(RECORDS):
    while True:
        try:
            p.produce(TOPIC, key=str(i % 97).encode(), value=("record-%06d" % i).encode(), on_delivery=on_delivery)
            break
        except BufferError:
            p.poll(0.1)
    p.poll(0)
if p.flush(60) != 0:
    fail("producer did not flush in 60s")
if errors or len(acked) != RECORDS:
    fail("produced %d of %d, errors: %s" % (len(acked), RECORDS, errors[:3]))
start = time.time()

c = Consumer({"bootstrap.servers": BROKERS, "group.id": "interop", "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe([TOPIC])
seen, last = {}, {}
deadline = time.time() + 120
while len(seen) < RECORDS and time.time() < deadline:
    msg = c.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        raise KafkaException(msg.error())
    v = msg.value().decode()
    if v in seen:
        fail("record %s consumed twice" % v)
    if last.get(msg.partition(), -1) >= msg.offset():
        fail("partition %d went back to %d" % (msg.partition(), msg.offset()))
    last[msg.partition()] = msg.offset()
    seen[v] = (msg.partition(), msg.offset())
    if acked[v] != seen[v]:
        fail("record %s acknowledged at %s, read at %s" % (v, acked[v], seen[v]))
c.commit(asynchronous=False)
c.close()
if len(seen) != RECORDS:
    fail("consumed %d of %d in 120s" % (len(seen), RECORDS))
print("librdkafka: %d idempotent records produced and consumed back exactly once (%.1fs to consume)"
      % (RECORDS, time.time() - start))
