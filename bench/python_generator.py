"""The usual way a Python shop fills an outbox: Faker for the data, psycopg2 batched inserts.

The baseline of bench/generate.sh. Same event shapes as outbox_demo (docs/design.md, "Events"),
same mix (50/30/20) and the same referential rules (an organiser exists; a participant
exists, is not the organiser, joins once, within capacity), same table, UUIDv7-like
time-ordered event ids, batches of 5000 rows with psycopg2.extras.execute_values, one commit.
Written the straightforward way such a script is written, not tuned beyond batching.

Usage: python_generator.py N DSN     prints: events seconds
"""

import json
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import psycopg2.extras
from faker import Faker

CATEGORIES = ["hiking", "running", "cycling", "climbing", "yoga", "board-games", "cooking",
              "photography", "language-exchange", "book-club", "music", "volunteering"]
BATCH = 5000


def uuid7():
    """Time-ordered id: 48 bits of Unix milliseconds, version 7, random rest."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def main():
    n, dsn = int(sys.argv[1]), sys.argv[2]
    fake = Faker()
    Faker.seed(42)
    rng = random.Random(42)
    users, activities = [], []  # activities: [id, organizer, capacity, set(participants)]
    run_id = 900_000_000 + rng.randrange(1_000_000)
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    start = time.perf_counter()
    rows = []
    kinds = ["UserCreated"] * 50 + ["ActivityCreated"] * 30 + ["ParticipantJoined"] * 20
    for seq in range(1, n + 1):
        kind = rng.choice(kinds)
        if kind == "ActivityCreated" and not users:
            kind = "UserCreated"
        if kind == "ParticipantJoined":
            open_ = [a for a in activities[-50:] if len(a[3]) < a[2]]
            candidates = [(a, u) for a in open_[:5] for u in rng.sample(users, min(5, len(users)))
                          if u != a[1] and u not in a[3]]
            if not candidates:
                kind = "UserCreated"
        if kind == "UserCreated":
            user_id = str(uuid.uuid4())
            users.append(user_id)
            payload = {"user_id": user_id, "name": fake.name(),
                       "email": f"{fake.user_name()}.{seq}@{fake.free_email_domain()}",
                       "city": fake.city(), "country": fake.country(),
                       "interests": rng.sample(CATEGORIES, rng.randint(1, 3))}
            agg_type, agg_id = "user", user_id
        elif kind == "ActivityCreated":
            activity_id = str(uuid.uuid4())
            organizer = rng.choice(users)
            capacity = rng.randint(4, 30)
            activities.append([activity_id, organizer, capacity, set()])
            city = fake.city()
            category = rng.choice(CATEGORIES)
            payload = {"activity_id": activity_id, "organizer_id": organizer,
                       "title": f"{fake.catch_phrase()} in {city}", "category": category, "city": city,
                       "starts_at": (datetime.now(timezone.utc) + timedelta(days=rng.randint(1, 60))).isoformat(),
                       "duration_minutes": rng.choice([45, 60, 90, 120, 180, 240]), "capacity": capacity}
            agg_type, agg_id = "activity", activity_id
        else:
            activity, user = rng.choice(candidates)
            activity[3].add(user)
            payload = {"activity_id": activity[0], "user_id": user,
                       "joined_at": datetime.now(timezone.utc).isoformat()}
            agg_type, agg_id = "activity", activity[0]
        rows.append((uuid7(), run_id, seq, kind, agg_type, agg_id, json.dumps(payload)))
        if len(rows) == BATCH:
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO activity.event_outbox "
                "(id, run_id, seq, event_type, aggregate_type, aggregate_id, payload) VALUES %s",
                rows, page_size=BATCH)
            rows = []
    if rows:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO activity.event_outbox "
            "(id, run_id, seq, event_type, aggregate_type, aggregate_id, payload) VALUES %s",
            rows, page_size=BATCH)
    conn.commit()
    print(n, time.perf_counter() - start)


if __name__ == "__main__":
    main()
