"""The baseline of bench/processor.sh: a minimal event processor of the usual kind.

confluent-kafka + pymongo, one MongoDB request per write, no batching: for each Debezium
record of the outbox it applies the same projections as event-processor (users, activities
with their participants, statistics.participant_count) to its own database. It writes no
receipts and no dead letters (less work than event-processor does), and it is not
idempotent ($inc on replay counts twice), which is the usual kind's flaw.

Reads partitions from given offsets (no group), stops after --count records, and prints one
JSON line: {"events": N, "seconds": S, "cpu_seconds": C}.
"""

import argparse
import json
import os
import time

import pymongo
from confluent_kafka import Consumer, TopicPartition


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--topic", default="postgres.activity.event_outbox")
    ap.add_argument("--start", required=True, help="partition:offset,... to start from")
    ap.add_argument("--count", type=int, required=True, help="records to apply, then stop")
    ap.add_argument("--mongodb-uri", default="mongodb://127.0.0.1:27017/")
    ap.add_argument("--db", default="bench_python")
    args = ap.parse_args()

    db = pymongo.MongoClient(args.mongodb_uri)[args.db]
    users, activities, statistics = db["users"], db["activities"], db["statistics"]
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": "bench-python-consumer",
        "enable.auto.commit": False,
    })
    consumer.assign([
        TopicPartition(args.topic, int(p), int(o))
        for p, o in (x.split(":") for x in args.start.split(","))
    ])

    started = time.monotonic()
    cpu0 = time.process_time()
    done = 0
    while done < args.count:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            raise SystemExit(f"Kafka: {msg.error()}")
        row = json.loads(msg.value())["after"]
        p = json.loads(row["payload"])
        kind = row["event_type"]
        if kind == "UserCreated":
            users.insert_one({"_id": p["user_id"], "name": p["name"], "email": p["email"],
                              "city": p["city"], "country": p["country"],
                              "interests": p["interests"]})
        elif kind == "ActivityCreated":
            activities.insert_one({"_id": p["activity_id"], "organizer_id": p["organizer_id"],
                                   "title": p["title"], "category": p["category"],
                                   "city": p["city"], "starts_at": p["starts_at"],
                                   "duration_minutes": p["duration_minutes"],
                                   "capacity": p["capacity"], "participants": []})
            statistics.insert_one({"_id": p["activity_id"], "organizer_id": p["organizer_id"],
                                   "category": p["category"], "capacity": p["capacity"],
                                   "participant_count": 0})
        elif kind == "ParticipantJoined":
            activities.update_one({"_id": p["activity_id"]},
                                  {"$push": {"participants": p["user_id"]}})
            statistics.update_one({"_id": p["activity_id"]},
                                  {"$inc": {"participant_count": 1}})
        done += 1
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu0
    consumer.close()
    print(json.dumps({"events": done, "seconds": seconds, "cpu_seconds": cpu}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
