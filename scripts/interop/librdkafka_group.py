"""Consumer groups with librdkafka (confluent-kafka-python, Debian's package).

Three members of one group share a 12-partition RF3 topic (4 partitions
each); one is killed with SIGKILL, and the others take its partitions after
the session timeout with no record skipped; the group is stopped and
restarted, and resumes at the committed offsets (it reads only what was
produced since). Each member is a process of this script. Bounded: every
wait has a deadline."""
import atexit
import os
import signal
import subprocess
import sys
import time

BROKERS = os.environ["BROKERS"]
TOPIC, GROUP, PARTITIONS = "librdkafka-group", "librdkafka-group", 12


def fail(msg):
    print("librdkafka group:", msg, file=sys.stderr)
    sys.exit(1)


def member(name):
    """One group member: prints 'assigned N' on each assignment and
    'record V P O' per record, commits synchronously every 50 records and on
    SIGTERM."""
    from confluent_kafka import Consumer, KafkaError, KafkaException

    def commit():
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() != KafkaError._NO_OFFSET:  # nothing new since the last commit
                raise

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": GROUP, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "partition.assignment.strategy": "range"})

    def on_assign(consumer, parts):
        print("assigned %d" % len(parts), flush=True)

    c.subscribe([TOPIC], on_assign=on_assign)
    n = 0
    while not stop:
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        print("record %s %d %d" % (msg.value().decode(), msg.partition(), msg.offset()), flush=True)
        n += 1
        if n % 50 == 0:
            commit()
    commit()
    c.close()


def produce(start, count):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        while True:
            try:
                p.produce(TOPIC, key=str(i).encode(), value=("v%06d" % i).encode())
                break
            except BufferError:
                p.poll(0.1)
    if p.flush(60) != 0:
        fail("producer did not flush")


MEMBERS = []


@atexit.register
def _kill_members():
    for m in MEMBERS:
        if m.proc.poll() is None:
            m.proc.kill()


class Member:
    def __init__(self, name):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, "member", name], stdout=subprocess.PIPE)
        MEMBERS.append(self)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf, self.records, self.assigned = "", [], None

    def drain(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk.decode()
        *lines, self.buf = self.buf.split("\n")
        for line in lines:
            f = line.split()
            if f and f[0] == "assigned":
                self.assigned = int(f[1])
            elif f and f[0] == "record":
                self.records.append((f[1], int(f[2]), int(f[3])))


def wait(cond, seconds, what, members):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for m in members:
            m.drain()
        if cond():
            return
        time.sleep(0.1)
    state = ", ".join("%s: assigned %s, %d records" % (m.name, m.assigned, len(m.records)) for m in members)
    fail("%s not within %ds (%s)" % (what, seconds, state))


def main():
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": BROKERS})
    for fut in admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)], operation_timeout=30).values():
        fut.result(timeout=60)
    first = 12000
    produce(0, first)

    members = [Member("m%d" % i) for i in range(3)]
    seen = lambda: {r[0] for m in members for r in m.records}
    wait(lambda: all(m.assigned == 4 for m in members), 60, "3 members with 4 partitions each", members)
    wait(lambda: len(seen()) >= first // 3, 60, "a third of the records consumed", members)

    victim = members[0]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    victim.drain()
    killed_at = time.time()
    live = members[1:]
    wait(lambda: sorted(m.assigned for m in live) == [6, 6], 60, "the survivors taking the killed member's partitions", live)
    rebalance = time.time() - killed_at
    wait(lambda: len(seen()) == first, 90, "every record consumed", members)

    # No skip: every partition's offsets, over all members, have no gap.
    by_part = {}
    for m in members:
        for _, p, o in m.records:
            by_part.setdefault(p, set()).add(o)
    for p, offs in by_part.items():
        if offs != set(range(max(offs) + 1)):
            fail("partition %d: offsets consumed with a gap" % p)

    for m in live:
        m.proc.send_signal(signal.SIGTERM)
    for m in live:
        m.proc.wait(30)
        m.drain()

    # Restarted, the group resumes at its committed offsets: only new records.
    produce(first, 1200)
    again = Member("r0")
    wait(lambda: len({r[0] for r in again.records}) >= 1200, 90, "the restarted group reading the new records", [again])
    time.sleep(1)
    again.drain()
    old = [r for r in again.records if int(r[0][1:]) < first]
    again.proc.send_signal(signal.SIGTERM)
    again.proc.wait(30)
    if old:
        fail("the restarted group re-read %d committed records, e.g. %s" % (len(old), old[:3]))
    print("librdkafka group: 3 members x 4 partitions; after a SIGKILL the survivors held 6 each in %.1fs; "
          "%d records consumed with no gap; the restarted group read only the %d new records"
          % (rebalance, first, 1200))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "member":
        member(sys.argv[2])
    else:
        main()
