#!/usr/bin/env python3
"""Activity projections: a Kafka consumer that keeps MongoDB's users, activities and statistics
up to date from the outbox's change events (Debezium envelopes on the CDC topic).

This is the kind of consumer an application team writes for itself, and the verifier's proof
that it can vouch for a consumer this project did not write: it shares no code with
event-processor and writes no receipts. Tell the verifier when it applied each event with
METRICS_FILE (one JSON line per event), or let the verifier watch the store.

    python consumer.py                       # defaults: the local stack
    METRICS_FILE=metrics.jsonl python consumer.py
    python consumer.py --plain-joins         # joins kept without applied_events (see below)
    python consumer.py --drop-every 50       # wrong on purpose: silently skips every 50th event
    python consumer.py --unsafe-replay       # wrong on purpose: re-applies the last records

A join is applied once either way. By default each activity and its statistics keep the ids of
the joins applied to them (applied_events) and a join is written only where its id is not there
yet. With --plain-joins nothing but the projection is kept, the way many teams write it: the
joining user is added to participants only where it is not there yet ($ne), and the count is
incremented only when that write changed the activity. Both are effectively once in MongoDB
because a user joins an activity at most once.

Every option has an environment variable (see --help). SIGTERM or Ctrl-C: the batch in hand is
finished and committed, then it exits 0.
"""

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime, timezone

from confluent_kafka import Consumer, KafkaError, KafkaException
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger("python-consumer")


def parse_args(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(
        description="Projects the outbox's change events from Kafka into MongoDB "
        "(users, activities, statistics).",
        epilog="Exit status: 0 after a clean stop (SIGTERM, Ctrl-C), 2 when Kafka or "
        "MongoDB cannot be used.",
    )
    p.add_argument("--bootstrap", default=env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                   help="Kafka bootstrap servers [KAFKA_BOOTSTRAP] (default: %(default)s)")
    p.add_argument("--topic", default=env("CDC_TOPIC", "postgres.activity.event_outbox"),
                   help="the CDC topic [CDC_TOPIC] (default: %(default)s)")
    p.add_argument("--group", default=env("CONSUMER_GROUP", "python-consumer-group"),
                   help="consumer group [CONSUMER_GROUP] (default: %(default)s); a new group "
                   "starts at the topic's end")
    p.add_argument("--mongodb-uri", default=env("MONGODB_URI", "mongodb://127.0.0.1:27017/activity"),
                   help="MongoDB connection string, its path the database [MONGODB_URI] "
                   "(default: %(default)s)")
    p.add_argument("--metrics-file", default=env("METRICS_FILE"),
                   help="append one JSON line per applied event here (event_id, t3_start, "
                   "t5_end ... in seconds) [METRICS_FILE]")
    p.add_argument("--batch-size", type=int, default=int(env("BATCH_SIZE", "500")),
                   help="commit the offsets after this many records, or after a second "
                   "[BATCH_SIZE] (default: %(default)s)")
    p.add_argument("--from-end", action="store_true",
                   help="start at the partitions' end whatever the group committed (the demo "
                   "starts each run so)")
    p.add_argument("--plain-joins", action="store_true",
                   default=env("PLAIN_JOINS", "") not in ("", "0"),
                   help="keep no applied_events: a join is guarded by its user not being in "
                   "participants yet [PLAIN_JOINS=1]")
    p.add_argument("--drop-every", type=int, default=int(env("DROP_EVERY", "0")), metavar="N",
                   help="a bug on purpose: skip every N-th event without a trace [DROP_EVERY]")
    p.add_argument("--drop-type", default=env("DROP_TYPE"), metavar="TYPE",
                   choices=("UserCreated", "ActivityCreated", "ParticipantJoined"),
                   help="with --drop-every: count and skip events of this type only, e.g. "
                   "every N-th ParticipantJoined [DROP_TYPE]")
    p.add_argument("--unsafe-replay", action="store_true",
                   default=env("UNSAFE_REPLAY", "") not in ("", "0"),
                   help="a bug on purpose: joins applied with a plain $push/$inc, and on start "
                   "the last --replay records before the committed offset read again, so they "
                   "are applied twice [UNSAFE_REPLAY=1]")
    p.add_argument("--replay", type=int, default=int(env("REPLAY", "20")),
                   help="records per partition read again by --unsafe-replay (default: %(default)s)")
    p.add_argument("--ready-file", default=env("READY_FILE"),
                   help="create this file once the partitions are assigned [READY_FILE]")
    p.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"),
                   help="DEBUG, INFO, WARNING or ERROR [LOG_LEVEL] (default: %(default)s)")
    return p.parse_args(argv)


class Projections:
    """The three collections, and how each event changes them."""

    def __init__(self, db, unsafe, plain):
        self.users = db["users"]
        self.activities = db["activities"]
        self.statistics = db["statistics"]
        self.unsafe = unsafe
        self.plain = plain
        self.kept = {} if plain else {"applied_events": []}

    def apply(self, event_id, event_type, body):
        handler = {
            "UserCreated": self.user_created,
            "ActivityCreated": self.activity_created,
            "ParticipantJoined": self.participant_joined,
        }.get(event_type)
        if handler is None:
            raise ValueError(f"unknown event type {event_type!r}")
        handler(event_id, body)

    def user_created(self, event_id, u):
        fields = {k: u.get(k) for k in ("name", "email", "city", "country", "interests")}
        fields["created_by_event"] = event_id
        self.users.update_one({"_id": u["user_id"]}, {"$set": fields}, upsert=True)

    def activity_created(self, event_id, a):
        keys = ("organizer_id", "title", "category", "city", "starts_at", "duration_minutes",
                "capacity")
        fields = {k: a.get(k) for k in keys}
        fields["created_by_event"] = event_id
        self.activities.update_one(
            {"_id": a["activity_id"]},
            {"$set": fields, "$setOnInsert": {"participants": [], **self.kept}},
            upsert=True,
        )
        stats = {k: a.get(k) for k in ("organizer_id", "category", "city", "capacity")}
        self.statistics.update_one(
            {"_id": a["activity_id"]},
            {"$set": stats, "$setOnInsert": {"participant_count": 0, **self.kept}},
            upsert=True,
        )

    def participant_joined(self, event_id, j):
        if self.plain:
            self.plain_join(j["activity_id"], j["user_id"])
            return
        join = {"$push": {"participants": j["user_id"], "applied_events": event_id}}
        count = {"$inc": {"participant_count": 1}, "$push": {"applied_events": event_id}}
        self._once(self.activities, j["activity_id"], event_id, join)
        self._once(self.statistics, j["activity_id"], event_id, count)

    def plain_join(self, activity_id, user_id):
        # The user is added where it is not a participant yet; the count follows only a write
        # that changed the activity (or created it: a join read before its activity).
        query = {"_id": activity_id}
        if not self.unsafe:
            query["participants"] = {"$ne": user_id}
        try:
            res = self.activities.update_one(query, {"$push": {"participants": user_id}},
                                             upsert=True)
        except DuplicateKeyError:
            log.debug("user %s already joined activity %s", user_id, activity_id)
            return
        if res.modified_count or res.upserted_id is not None:
            self.statistics.update_one({"_id": activity_id},
                                       {"$inc": {"participant_count": 1}}, upsert=True)

    def _once(self, coll, doc_id, event_id, update):
        # A join is applied only if the document has not recorded the event yet. With upsert, a
        # document that already has it makes the insert collide on _id: already applied.
        query = {"_id": doc_id} if self.unsafe else {"_id": doc_id, "applied_events": {"$ne": event_id}}
        try:
            coll.update_one(query, update, upsert=True)
        except DuplicateKeyError:
            log.debug("event %s already applied to %s %s", event_id, coll.name, doc_id)


def decode(value):
    """The outbox row of a Debezium insert envelope, or None for anything else."""
    envelope = json.loads(value)
    if envelope.get("op") not in ("c", "r"):
        return None
    row = envelope["after"]
    body = row["payload"]
    if isinstance(body, str):
        body = json.loads(body)
    return row, body


def seconds(rfc3339):
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class MetricsFile:
    """One JSON line per applied event; the file is opened (created) at the first one."""

    def __init__(self, path):
        self.path = path
        self.f = None

    def write(self, row, kafka_ts_ms, t3, t5):
        if not self.path:
            return
        if self.f is None:
            self.f = open(self.path, "a", encoding="utf-8", buffering=1)  # a line at a time
        t0 = seconds(row["created_at"])
        t1 = kafka_ts_ms / 1000.0 if kafka_ts_ms else None
        line = {
            "event_id": row["id"],
            "event_type": row["event_type"],
            "t0_created": t0,
            "t1_kafka": t1,
            "t3_start": t3,
            "t5_end": t5,
            "kafka_lag_ms": round((t3 - t1) * 1000, 3) if t1 else None,
            "processing_time_ms": round((t5 - t3) * 1000, 3),
            "total_latency_ms": round((t5 - t0) * 1000, 3),
            "timestamp": datetime.now(timezone.utc).isoformat(),
        }
        self.f.write(json.dumps(line) + "\n")

    def flush(self):
        if self.f is not None:
            self.f.flush()


class Runner:
    def __init__(self, args):
        self.args = args
        self.running = True
        self.seen = 0
        self.events = 0
        self.applied = 0
        self.skipped = 0
        db_name = args.mongodb_uri.rsplit("/", 1)[-1].split("?")[0] or "activity"
        self.mongo = MongoClient(args.mongodb_uri, serverSelectionTimeoutMS=5000)
        try:
            self.mongo.admin.command("ping")
        except PyMongoError as e:
            raise SystemExit(f"python-consumer: MongoDB at {args.mongodb_uri} is not reachable: {e}")
        self.projections = Projections(self.mongo[db_name], args.unsafe_replay, args.plain_joins)
        self.metrics = MetricsFile(args.metrics_file)
        self.consumer = Consumer({
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 10,
        })

    def on_assign(self, consumer, partitions):
        # Where to start, decided before the first fetch: the committed offset, or (a new group)
        # the partition's end, so that nothing written after this line is skipped.
        partitions = consumer.committed(partitions, timeout=10)
        for tp in partitions:
            if tp.offset < 0 or self.args.from_end:
                _, tp.offset = consumer.get_watermark_offsets(tp, timeout=10)
            elif self.args.unsafe_replay:  # the bug on purpose: back before the commit
                tp.offset = max(tp.offset - self.args.replay, 0)
                log.warning("unsafe replay: partition %d from offset %d", tp.partition,
                            tp.offset)
        consumer.assign(partitions)
        log.info("assigned partitions %s of %s", sorted(tp.partition for tp in partitions),
                 self.args.topic)
        if self.args.ready_file:
            with open(self.args.ready_file, "w", encoding="utf-8") as f:
                f.write("assigned %s\n" % sorted(tp.partition for tp in partitions))

    def run(self):
        self.consumer.subscribe([self.args.topic], on_assign=self.on_assign)
        last_note = last_commit = time.monotonic()
        uncommitted = 0
        while self.running:
            msg = self.consumer.poll(0.1)  # returns as soon as a record is there
            if msg is not None:
                self.handle(msg)
                uncommitted += 1
            # At least once: offsets are committed after the effects, every --batch-size
            # records or every second.
            now = time.monotonic()
            if uncommitted and (uncommitted >= self.args.batch_size or now - last_commit >= 1.0):
                self.commit()
                uncommitted, last_commit = 0, now
            if now - last_note >= 10:
                log.info("applied %d events (%d records seen, %d skipped)", self.applied,
                         self.seen, self.skipped)
                last_note = now
        if uncommitted:
            self.commit()
        self.consumer.close()
        log.info("stopped: applied %d events", self.applied)

    def commit(self):
        self.metrics.flush()
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() != KafkaError._NO_OFFSET:
                raise

    def handle(self, msg):
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                return
            raise KafkaException(msg.error())
        t3 = time.time()
        self.seen += 1
        try:
            decoded = decode(msg.value())
        except (ValueError, KeyError, TypeError) as e:
            log.error("skipping record %d:%d: not an outbox insert (%s)", msg.partition(),
                      msg.offset(), e)
            self.skipped += 1
            return
        if decoded is None:
            return
        row, body = decoded
        if self.args.drop_type in (None, row["event_type"]):
            self.events += 1
            if self.args.drop_every and self.events % self.args.drop_every == 0:
                return  # the bug on purpose: no effect, no log line, offset committed past it
        self.projections.apply(row["id"], row["event_type"], body)
        t5 = time.time()
        self.applied += 1
        _, kafka_ts_ms = msg.timestamp()
        self.metrics.write(row, kafka_ts_ms, t3, t5)


def main():
    args = parse_args()
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runner = Runner(args)

    def stop(signum, _frame):
        log.info("signal %d: finishing the batch in hand", signum)
        runner.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        runner.run()
    except KafkaException as e:
        log.error("Kafka at %s: %s", args.bootstrap, e)
        return 2
    except PyMongoError as e:
        log.error("MongoDB at %s: %s", args.mongodb_uri, e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
