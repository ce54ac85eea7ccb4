#!/usr/bin/env python3
"""PgQueuer (PyPI) doing queue work equivalent in shape to the engine's: enqueue N jobs, each
naming one of K profile rows, then consume them with an entrypoint that updates that row (one
UPDATE per job, as the engine writes a profile per event). Used by `Benchmarks/bench peer`, which
runs it on the same Postgres as the engine's drain in the same run.

    python3 Benchmarks/peer_pgqueuer.py enqueue URL [--jobs N] [--profiles N]
    python3 Benchmarks/peer_pgqueuer.py consume URL [--batch N]     # one worker process; start several
    python3 Benchmarks/peer_pgqueuer.py applied URL

Each prints one JSON line."""
import argparse
import asyncio
import json
import time
from datetime import timedelta

import psycopg
from pgqueuer import PgQueuer, PsycopgDriver, Queries
from pgqueuer.domain.types import QueueExecutionMode


async def enqueue(url, jobs, profiles):
    """Installs PgQueuer's schema and the profile rows, enqueues the jobs; returns jobs/s enqueued."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await Queries(PsycopgDriver(conn)).install()
        await conn.execute("CREATE TABLE peer_profiles (id int PRIMARY KEY, events bigint NOT NULL DEFAULT 0, "
                           "last_seen_at timestamptz)")
        await conn.execute("INSERT INTO peer_profiles (id) SELECT generate_series(0, %s)", (profiles - 1,))
        queries = Queries(PsycopgDriver(conn))
        started = time.time()
        for offset in range(0, jobs, 1000):
            n = min(1000, jobs - offset)
            await queries.enqueue(["apply"] * n, [str((offset + i) % profiles).encode() for i in range(n)], [0] * n)
        return {"jobs": jobs, "enqueue_per_s": jobs / (time.time() - started)}


async def consume(url, batch):
    """One PgQueuer worker (LISTEN/NOTIFY and its own dequeue query) that runs until the queue is empty."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as queue_conn, \
            await psycopg.AsyncConnection.connect(url, autocommit=True) as work_conn:
        pgq = PgQueuer(PsycopgDriver(queue_conn))

        @pgq.entrypoint("apply")
        async def apply(job):
            await work_conn.execute("UPDATE peer_profiles SET events = events + 1, last_seen_at = now() WHERE id = %s",
                                    (int(job.payload),))

        started = time.time()
        await pgq.run(batch_size=batch, mode=QueueExecutionMode.drain, log_aggregation_interval=timedelta(0))
        return {"seconds": time.time() - started}


def applied(url):
    """Jobs applied, and the seconds from the first to the last update (start-up and drain-mode exit excluded,
    as the engine's drain rate counts from its first claim to an empty queue)."""
    with psycopg.connect(url, autocommit=True) as conn:
        total, span = conn.execute("SELECT coalesce(sum(events), 0), extract(epoch FROM max(last_seen_at) - min(last_seen_at)) "
                                   "FROM peer_profiles").fetchone()
        return {"applied": int(total), "seconds": float(span or 0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["enqueue", "consume", "applied"])
    parser.add_argument("url")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="PgQueuer's dequeue batch size")
    parser.add_argument("--profiles", type=int, default=2_000)
    args = parser.parse_args()
    if args.phase == "enqueue":
        print(json.dumps(asyncio.run(enqueue(args.url, args.jobs, args.profiles))))
    elif args.phase == "consume":
        print(json.dumps(asyncio.run(consume(args.url, args.batch))))
    else:
        print(json.dumps(applied(args.url)))


if __name__ == "__main__":
    main()
