"""CPU time per request of the records API, in-process (no HTTP server, no peer).

For profiling the request path, not for published figures (``bench/serve.py`` is the
benchmark): generates ``--rows`` rows with the serving bench's generator, loads them into a
fresh demo instance, then sends each scenario's requests through Starlette's TestClient on
one thread and reports the process CPU time per request (``time.process_time``: other
programs on the machine do not count) — optionally with the top functions of cProfile.

Usage: python bench/profile_records.py [--rows 100000] [--requests 400] [--profile SCENARIO]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _instance import BEFFROI, demo_instance
from serve import COMMUNE, SLUG, generate, run, uncached_filters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", help="scenario to profile with cProfile")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="call the records service in this thread (what the endpoint does, without "
        "HTTP and FastAPI): the part of the CPU time that is Beffroi's own",
    )
    args = parser.parse_args()
    work, data_dir = demo_instance("beffroi-profile-")
    csv_path = work / "rows.csv"
    generate(csv_path, args.rows)
    base = [BEFFROI, "--data-dir", str(data_dir)]
    run([*base, "dataset", "create", "Profil", "--slug", SLUG, "--publisher", "service-sig"])
    run([*base, "ingest", str(csv_path), "--dataset", SLUG, "--publish"])

    os.environ["BEFFROI_DATA_DIR"] = str(data_dir)
    from fastapi.testclient import TestClient

    from beffroi.settings import load_settings
    from beffroi.web.app import create_app

    app = create_app(load_settings())
    records = f"/api/v1/datasets/{SLUG}/records"
    grouped = f"{records}?group_by=categorie&agg=count&agg=sum:montant"
    scenarios = {
        "first_page": [f"{records}?limit=100"],
        "filtered_page": [f"{records}?commune={COMMUNE}&limit=100"],
        "filtered_page_uncached": [
            f"{records}?commune={code}&limit={limit}" for limit, code in uncached_filters()
        ],
        "group_by": [grouped],
        "group_by_uncached": [f"{grouped}&montant__gte={v}" for v in range(20_000)],
    }
    with TestClient(app) as client:
        for path in (p for paths in scenarios.values() for p in paths[:1]):
            assert client.get(path).status_code == 200  # warm: database built, indexes
        if args.direct:
            direct(app, scenarios, args.requests, args.profile)
            return
        for name, paths in scenarios.items():
            profiler = cProfile.Profile() if name == args.profile else None
            start = time.process_time()
            if profiler is not None:
                profiler.enable()
            for i in range(args.requests):
                response = client.get(paths[i % len(paths)])
                assert response.status_code == 200, response.text
            if profiler is not None:
                profiler.disable()
            cpu = (time.process_time() - start) / args.requests * 1000
            print(f"{name:<24} {cpu:7.2f} ms CPU / request", flush=True)
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def direct(app: Any, scenarios: dict[str, list[str]], requests: int, profile: str | None) -> None:
    """The endpoint's work in this thread: a session, the anonymous actor, the service."""
    from urllib.parse import parse_qsl, urlsplit

    from beffroi.access import Actor
    from beffroi.query import service

    settings = app.state.settings
    for name, paths in scenarios.items():
        calls = [(urlsplit(p).path.split("/")[4], parse_qsl(urlsplit(p).query)) for p in paths]
        profiler = cProfile.Profile() if name == profile else None
        start = time.process_time()
        if profiler is not None:
            profiler.enable()
        for i in range(requests):
            slug, params = calls[i % len(calls)]
            with app.state.session_factory() as session:
                service.records(session, Actor.anonymous(surface="api"), settings, slug, params)
        if profiler is not None:
            profiler.disable()
        cpu = (time.process_time() - start) / requests * 1000
        print(f"{name:<24} {cpu:7.2f} ms CPU / call (direct)", flush=True)
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
