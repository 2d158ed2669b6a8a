"""Server time of the dataset page on a 1M-row dataset, beside Datasette's table page.

In one run, on 127.0.0.1:

1. generates a 1,000,000-row CSV (id, INSEE code, category, amount, date, text) with DuckDB;
2. loads it into Beffroi (``beffroi dataset create`` + ``ingest --publish`` in a fresh demo
   instance) and into Datasette (``sqlite-utils insert --csv``, types detected, + an index on
   the filtered column), each through its own command line;
3. serves each in turn and requests, one at a time over one keep-alive connection, the HTML
   page of the dataset: as first shown, filtered on a commune, sorted on the amount, and
   (Beffroi) with the chart of a group-by; the peer answers the same questions with its
   table page (``?commune=…``, ``?_sort_desc=montant``) and a ``_facet``. Every request
   differs from the previous ones of its scenario (page size, filter value), so neither
   side answers from a cache of the exact page. Times are time to last byte on loopback.

The peer, Datasette 0.65.1 with sqlite-utils, lives in ``bench/.venv-datasette``.

Usage: python bench/pages.py [--rows 1000000] [--requests 200] [--skip-peer]
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _instance import BEFFROI, clean_env, demo_instance, peer_python
from serve import generate  # the same 1M-row file as the serving benchmark

REPO = Path(__file__).resolve().parents[1]
SLUG = "bench-subventions"
CODES = [f"{56000 + i:05d}" for i in range(1, 41)]
PEER = ("datasette==0.65.1", "sqlite-utils==4.2.1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_200(url: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    msg = f"{url} did not answer 200 within {timeout} s"
    raise SystemExit(msg)


def timed(port: int, paths: list[str]) -> list[float]:
    """Milliseconds of each GET, in order, on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    found = []
    for path in paths:
        start = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "text/html"})
        response = connection.getresponse()
        body = response.read()
        found.append((time.perf_counter() - start) * 1000)
        if response.status != 200 or not body:
            msg = f"GET {path}: HTTP {response.status}"
            raise SystemExit(msg)
    connection.close()
    return found


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


def beffroi_paths(n: int) -> dict[str, list[str]]:
    page = f"/jeux-de-donnees/{SLUG}"
    sizes = [10, 20, 50, 100]
    return {
        "first_page": [f"{page}?lignes={sizes[i % 4]}" for i in range(n)],
        "filtered": [
            f"{page}?colonne=commune&valeur={CODES[i % 40]}&lignes={sizes[i // 40 % 4]}"
            for i in range(n)
        ],
        "sorted": [f"{page}?tri=montant&ordre=desc&lignes={sizes[i % 4]}" for i in range(n)],
        "chart": [
            f"{page}?graphique=categorie&mesure=montant&colonne=commune&valeur={CODES[i % 40]}"
            for i in range(n)
        ],
    }


def datasette_paths(n: int) -> dict[str, list[str]]:
    table = "/data/rows"
    sizes = [10, 20, 50, 100]
    return {
        "first_page": [f"{table}?_size={sizes[i % 4]}" for i in range(n)],
        "filtered": [
            f"{table}?commune={CODES[i % 40]}&_size={sizes[i // 40 % 4]}" for i in range(n)
        ],
        "sorted": [f"{table}?_sort_desc=montant&_size={sizes[i % 4]}" for i in range(n)],
        "chart": [f"{table}?commune={CODES[i % 40]}&_facet=categorie" for i in range(n)],
    }


def serve(command: list[str], port: int, health: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_200(f"http://127.0.0.1:{port}{health}")
    return process


def measure(port: int, paths: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    timed(port, [p[0] for p in paths.values()] * 3)  # warm up: imports, first page
    return {name: summary(timed(port, items)) for name, items in paths.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-peer", action="store_true")
    options = parser.parse_args()
    work, data_dir = demo_instance("beffroi-bench-pages-")
    csv_path = work / "subventions.csv"
    generate(csv_path, options.rows, CODES)
    results: dict[str, Any] = {
        "rows": options.rows,
        "requests": options.requests,
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    base = [BEFFROI, "--data-dir", str(data_dir)]
    subprocess.run(
        [*base, "dataset", "create", "Subventions (banc d'essai)", "--slug", SLUG,
         "--publisher", "lorient-agglomeration"],
        check=True, env=clean_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    start = time.perf_counter()
    subprocess.run(
        [*base, "ingest", str(csv_path), "--dataset", SLUG, "--publish"],
        check=True, env=clean_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    results["beffroi_load_s"] = round(time.perf_counter() - start, 1)
    port = free_port()
    server = serve([*base, "serve", "--port", str(port)], port, "/health")
    try:
        results["beffroi"] = measure(port, beffroi_paths(options.requests))
    finally:
        server.terminate()
        server.wait(timeout=20)
    out = REPO / "bench" / "results" / "pages.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")  # kept if the peer fails
    if not options.skip_peer:
        python = peer_python("datasette", *PEER)
        bin_dir = python.parent
        with tempfile.TemporaryDirectory(prefix="bench-datasette-") as tmp:
            db = Path(tmp) / "data.db"
            start = time.perf_counter()
            subprocess.run(
                [str(bin_dir / "sqlite-utils"), "insert", str(db), "rows", str(csv_path),
                 "--csv"],  # sqlite-utils 4 detects the column types by default
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            subprocess.run(
                [str(bin_dir / "sqlite-utils"), "create-index", str(db), "rows", "commune"],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            results["datasette_load_s"] = round(time.perf_counter() - start, 1)
            port = free_port()
            server = serve(
                [str(bin_dir / "datasette"), "serve", str(db), "--port", str(port)],
                port, "/-/versions.json",
            )  # fmt: skip
            try:
                results["datasette"] = measure(port, datasette_paths(options.requests))
            finally:
                server.terminate()
                server.wait(timeout=20)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
