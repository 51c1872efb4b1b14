"""CacheService against raw redis-py on the same Redis, in the same run.

    .venv/bin/python bench/cache_bench.py [--redis-url redis://127.0.0.1:6379/13]

The payload is a realistic behavioural model (per key-class pair timing means and standard
deviations, a few KB of JSON). Four cases, each timed for the cache and for the raw client
doing the same work by hand (json.dumps + SET EX / GET + json.loads, or a pipeline):

* ``set`` / ``get``: one call per operation, through ``cache_service`` inside a Flask app
  context, as the web process calls it;
* ``set_many`` / ``get_many``: batches of ``--batch`` models in one round trip, against a
  raw pipeline of SETs / GETs (the cache's get_many is one MGET, so ``get_many_vs_mget``
  also compares it with a raw MGET).

Many short rounds run cache and raw back to back, in alternating order, so load from
elsewhere on the machine hits both alike. Prints ops/s (median round) and the ratio
(median of the rounds' cache time / raw time, so 1.10 = 10% slower; also in CPU time of
this process) and writes JSON to --out.
Only keys under ``zt:v1:model:`` and ``bench:raw:`` are written, and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from app import create_app
from app.config import load_config
from app.services.cache_service import cache_service

KEY_CLASSES = ("letter", "digit", "space", "enter", "backspace", "shift", "punct", "other")
FIELDS = ("password", "username", "text", "search")


def behavioural_model(user_id: int) -> dict[str, Any]:
    """Per key-class pair flight times and per class hold times, like a trained model."""
    # Seeded fake timings, reproducible run to run; nothing here is a secret.
    rng = random.Random(user_id)  # noqa: S311

    def timing() -> dict[str, float]:
        return {"mean": round(rng.uniform(60, 260), 3), "std": round(rng.uniform(5, 60), 3)}

    return {
        "user_id": user_id,
        "version": 3,
        "trained_at": "2026-11-27T02:00:00+00:00",
        "samples": rng.randint(2_000, 20_000),
        "flight": {f"{a}>{b}": timing() for a in KEY_CLASSES for b in KEY_CLASSES},
        "hold": {cls: timing() for cls in KEY_CLASSES},
        "fields": {field: {"speed": timing(), "errors": rng.random()} for field in FIELDS},
        "mouse": {"velocity": timing(), "curvature": timing(), "click_hold": timing()},
        "threshold": 0.82,
    }


def timed(operation: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        operation()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(
    name: str,
    cache_op: Callable[[], Any],
    raw_op: Callable[[], Any],
    repeat: int,
    rounds: int,
    items_per_op: int,
) -> dict[str, Any]:
    """Short rounds, cache and raw back to back in alternating order, so load from
    elsewhere on the machine hits both alike; the ratio is the median of the rounds'."""
    cache_op(), raw_op()  # warm connections and caches
    cache: list[tuple[float, float]] = []
    raw: list[tuple[float, float]] = []
    for round_no in range(rounds):
        if round_no % 2:
            raw.append(timed(raw_op, repeat))
            cache.append(timed(cache_op, repeat))
        else:
            cache.append(timed(cache_op, repeat))
            raw.append(timed(raw_op, repeat))
    items = repeat * items_per_op
    cache_wall = statistics.median(wall for wall, _ in cache)
    raw_wall = statistics.median(wall for wall, _ in raw)
    result = {
        "case": name,
        "items_per_op": items_per_op,
        "cache_ops_per_s": round(items / cache_wall),
        "raw_ops_per_s": round(items / raw_wall),
        "cache_us_per_item": round(cache_wall / items * 1e6, 2),
        "raw_us_per_item": round(raw_wall / items * 1e6, 2),
        "ratio": round(statistics.median(c[0] / r[0] for c, r in zip(cache, raw, strict=True)), 3),
        "cpu_ratio": round(
            statistics.median(c[1] / r[1] for c, r in zip(cache, raw, strict=True) if r[1]), 3
        ),
    }
    print(
        f"{name:<18} cache {result['cache_ops_per_s']:>7} ops/s  "
        f"raw {result['raw_ops_per_s']:>7} ops/s  ratio {result['ratio']:.3f} "
        f"(CPU {result['cpu_ratio']:.3f})"
    )
    return result


def run(url: str, repeat: int, rounds: int, batch: int) -> dict[str, Any]:
    app = create_app(load_config({"APP_ENV": "testing", "LOG_LEVEL": "WARNING", "REDIS_URL": url}))
    raw = redis.Redis.from_url(url)
    ttl = app.config["CACHE_TTL_BEHAVIORAL_MODEL"]
    model = behavioural_model(1)
    models = {uid: behavioural_model(uid) for uid in range(1, batch + 1)}
    payload_bytes = len(json.dumps(model).encode())
    results = []

    def raw_set() -> None:
        raw.set("bench:raw:1", json.dumps(model), ex=ttl)

    def raw_get() -> Any:
        return json.loads(raw.get("bench:raw:1"))

    def raw_set_many() -> None:
        pipe = raw.pipeline(transaction=False)
        for uid, value in models.items():
            pipe.set(f"bench:raw:{uid}", json.dumps(value), ex=ttl)
        pipe.execute()

    def raw_get_many() -> dict[int, Any]:
        pipe = raw.pipeline(transaction=False)
        for uid in models:
            pipe.get(f"bench:raw:{uid}")
        return {uid: json.loads(data) for uid, data in zip(models, pipe.execute(), strict=True)}

    def raw_mget() -> dict[int, Any]:
        found = raw.mget([f"bench:raw:{uid}" for uid in models])
        return {uid: json.loads(data) for uid, data in zip(models, found, strict=True)}

    with app.app_context():
        results.append(
            compare(
                "set",
                lambda: cache_service.cache_behavioral_model(1, model),
                raw_set,
                repeat,
                rounds,
                1,
            )
        )
        results.append(
            compare(
                "get", lambda: cache_service.get_behavioral_model(1), raw_get, repeat, rounds, 1
            )
        )
        batches = max(1, repeat // 10)
        results.append(
            compare(
                "set_many",
                lambda: cache_service.set_many("model", models),
                raw_set_many,
                batches,
                rounds,
                batch,
            )
        )
        results.append(
            compare(
                "get_many",
                lambda: cache_service.get_many("model", models),
                raw_get_many,
                batches,
                rounds,
                batch,
            )
        )
        results.append(
            compare(
                "get_many_vs_mget",
                lambda: cache_service.get_many("model", models),
                raw_mget,
                batches,
                rounds,
                batch,
            )
        )
        assert cache_service.get_behavioral_model(1) == raw_get()
        cache_service.invalidate_type("model")
    raw.delete(*(f"bench:raw:{uid}" for uid in models))
    redis_version = raw.info("server")["redis_version"]
    raw.close()
    return {
        "benchmark": "cache_bench",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "redis_py": redis.__version__,
            "platform": platform.platform(),
        },
        "redis_version": redis_version,
        "payload_bytes": payload_bytes,
        "repeat": repeat,
        "rounds": rounds,
        "batch": batch,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--repeat", type=int, default=200, help="single calls per round")
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out/cache_bench.json")
    args = parser.parse_args(argv)
    report = run(args.redis_url, args.repeat, args.rounds, args.batch)
    print(f"payload {report['payload_bytes']} bytes; {report['machine']['cpus']} CPUs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
