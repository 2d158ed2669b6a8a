"""Serving figures of the records API, side by side with Datasette on the same 1M-row table.

In one run, on 127.0.0.1:

1. generates a 1,000,000-row CSV (subsidy-like: id, INSEE code, category, amount, date, text);
2. loads it into Beffroi (``beffroi ingest --publish`` into a public dataset of a fresh demo
   instance) and into Datasette (``sqlite-utils insert --csv --detect-types``, then an index
   on the filtered column), both through their own command lines;
3. serves each in turn (``beffroi serve``; ``datasette serve``) and drives it with 8
   concurrent clients (one persistent HTTP/1.1 connection each, one request in flight per
   connection) for a fixed time per scenario: first page of 100 rows, a filtered page of
   100 rows, a group-by aggregate; then times a full CSV export of the 1M rows.

The clients are ``wrk`` (8 connections, 1 thread, ``--latency``; installed with apt-get when
absent and the bench runs as root), which takes far less CPU than Python clients on a small
machine shared with the server; else (``--client python``, or no wrk) 8 Python threads.

The peer, Datasette 0.65.1 with sqlite-utils, lives in its own virtual environment,
``bench/.venv-datasette`` (created on first use).

Usage: python bench/serve.py [--rows 1000000] [--seconds 10] [--clients 8] [--skip-peer]
                             [--client auto|wrk|python]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import psutil
from _instance import BEFFROI, clean_env, demo_instance

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO / "bench" / ".venv-datasette"
PEER_PACKAGES = ["datasette==0.65.1", "sqlite-utils==4.2.1"]
SLUG = "bench-subventions"
CODES = ["56121", "56098", "56078", "56162", "56083", "56007", "56036", "56095"] + [
    f"{29000 + i:05d}" for i in range(32)
]
COMMUNE = "56121"  # Lorient: 1 row in 40 of the generated file

SCENARIOS = (
    "first_page",
    "filtered_page",
    "filtered_page_uncached",
    "group_by",
    "group_by_uncached",
)
VARIANTS = 20_000  # distinct filters of group_by_uncached: no answer is asked twice


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_200(url: str, timeout: float = 60.0) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    msg = f"no 200 from {url} within {timeout} s"
    raise RuntimeError(msg)


def generate(path: Path, rows: int, codes: list[str] = CODES) -> None:
    """The CSV, written by DuckDB (deterministic: derived from the row number)."""
    listed = ", ".join(f"'{c}'" for c in codes)
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT i AS id,
                   list_extract([{listed}], (i % {len(codes)})::INT + 1) AS commune,
                   'categorie-' || (i % 12) AS categorie,
                   round(((i * 7919) % 100000) / 7.0, 2) AS montant,
                   DATE '2015-01-01' + ((i * 13) % 3650)::INT AS date_decision,
                   'Subvention n° ' || i || ' – association ' || (i % 997) AS objet
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""  # noqa: S608 - constants only
    )
    con.close()


def uncached_filters() -> list[tuple[int, str]]:
    """(page size, commune) pairs, each asked once: no answer can come from a cache."""
    return [(limit, code) for limit in range(50, 151) for code in CODES]


def run(cmd: list[str], **kwargs: Any) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=clean_env(), stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def ensure_peer() -> Path:
    bin_dir = PEER_VENV / "bin"
    if not (bin_dir / "datasette").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [
                str(bin_dir / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *PEER_PACKAGES,
            ],
            check=True,
        )
    return bin_dir


class Load:
    """``clients`` threads, each with one keep-alive connection, for ``seconds``."""

    def __init__(self, port: int, paths: list[str], clients: int, seconds: float) -> None:
        self.port = port
        self.paths = paths
        self.clients = clients
        self.seconds = seconds
        self.latencies: list[float] = []
        self.errors = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._next = 1  # the warm-up asked paths[0]

    def _client(self, index: int, stop_at: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        mine: list[float] = []
        errors = 0
        received = 0
        del index
        while time.perf_counter() < stop_at:
            with self._lock:  # one shared sequence: no two requests share a path by chance
                path = self.paths[self._next % len(self.paths)]
                self._next += 1
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    errors += 1
                received += len(body)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                continue
            mine.append(time.perf_counter() - start)
        conn.close()
        with self._lock:
            self.latencies += mine
            self.errors += errors
            self.bytes += received

    def run(self) -> dict[str, float]:
        _warm_up(self.port, self.paths[0])
        stop_at = time.perf_counter() + self.seconds
        threads = [
            threading.Thread(target=self._client, args=(i, stop_at)) for i in range(self.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "req_per_s": len(ordered) / elapsed,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "mean_kb": self.bytes / max(1, len(ordered)) / 1024,
            "client": "python",
        }


def find_wrk(install: bool = True) -> str | None:
    """The ``wrk`` executable; installed with apt-get when absent and running as root."""
    found = shutil.which("wrk")
    if found is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found = shutil.which("wrk")
    return found


_WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"bytes\\": %%d, "
    .. "\\"errors\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


class WrkLoad:
    """``wrk`` with ``clients`` connections on one thread for ``seconds``, cycling through
    ``paths`` (one shared sequence: no two requests share a path by chance)."""

    def __init__(self, wrk: str, port: int, paths: list[str], clients: int, seconds: float) -> None:
        self.wrk = wrk
        self.port = port
        self.paths = paths
        self.clients = clients
        self.seconds = seconds

    def run(self) -> dict[str, float]:
        _warm_up(self.port, self.paths[0])
        rest = self.paths[1:] or self.paths
        listed = ",\n".join(json.dumps(p) for p in rest)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(_WRK_SCRIPT % {"paths": listed})
        try:
            done = subprocess.run(
                [
                    self.wrk,
                    "-t1",
                    f"-c{self.clients}",
                    f"-d{max(1, round(self.seconds))}s",
                    "--timeout",
                    "30s",
                    "--latency",
                    "-s",
                    script.name,
                    f"http://127.0.0.1:{self.port}",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            Path(script.name).unlink()
        line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
        found = json.loads(line.removeprefix("BENCH_JSON "))
        requests = max(1, int(found["requests"]))
        return {
            "requests": found["requests"],
            "errors": found["errors"],
            "req_per_s": found["requests"] / (found["duration_us"] / 1e6),
            "p50_ms": found["p50_us"] / 1000,
            "p99_ms": found["p99_us"] / 1000,
            "mean_kb": found["bytes"] / requests / 1024,
            "client": "wrk",
        }


def _warm_up(port: int, path: str) -> None:
    """One request (caches, first connection build); an error stops the bench."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        msg = f"{path}: HTTP {response.status}"
        raise RuntimeError(msg)


def export(port: int, path: str) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    total = 0
    lines = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        msg = f"{path}: HTTP {response.status}"
        raise RuntimeError(msg)
    return {
        "seconds": elapsed,
        "mb": total / 1e6,
        "mb_per_s": total / 1e6 / elapsed,
        "lines": lines,
    }


def serve_and_measure(
    cmd: list[str], port: int, health: str, paths: dict[str, list[str]], export_path: str, args: Any
) -> dict[str, Any]:
    proc = subprocess.Popen(
        cmd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_200(f"http://127.0.0.1:{port}{health}")
        results: dict[str, Any] = {}
        for name in SCENARIOS:
            if args.wrk:
                load = WrkLoad(args.wrk, port, paths[name], args.clients, args.seconds)
                results[name] = load.run()
            else:
                results[name] = Load(port, paths[name], args.clients, args.seconds).run()
            print(f"  {name}: {results[name]}", flush=True)
        results["export_csv"] = export(port, export_path)
        print(f"  export_csv: {results['export_csv']}", flush=True)
        results["rss_mb"] = (
            sum(
                p.memory_info().rss
                for p in [
                    psutil.Process(proc.pid),
                    *psutil.Process(proc.pid).children(recursive=True),
                ]
            )
            / 1e6
        )
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-beffroi", action="store_true")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk (installed when absent, as root), Python threads, or wrk "
        "when available (auto)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON results (default: bench/results/serve.json; give "
        "another file for trial runs)",
    )
    args = parser.parse_args()
    args.wrk = None if args.client == "python" else find_wrk()
    if args.client == "wrk" and args.wrk is None:
        parser.error("wrk not found (apt-get install wrk), or pass --client python")
    return args


def main() -> None:
    args = parse_args()

    work, data_dir = demo_instance("beffroi-bench-serve-")
    csv_path = work / "subventions.csv"
    generate(csv_path, args.rows)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "rows": args.rows,
        "csv_mb": csv_path.stat().st_size / 1e6,
        "clients": args.clients,
        "seconds": args.seconds,
        "load_client": "wrk" if args.wrk else "python",
    }
    print(f"Machine: {results['machine']}; CSV {results['csv_mb']:.0f} MB", flush=True)

    if not args.skip_beffroi:
        base = [BEFFROI, "--data-dir", str(data_dir)]
        run(
            [
                *base,
                "dataset",
                "create",
                "Subventions (banc d'essai)",
                "--slug",
                SLUG,
                "--publisher",
                "service-sig",
            ]
        )
        load_s = run([*base, "ingest", str(csv_path), "--dataset", SLUG, "--publish"])
        port = free_port()
        records = f"/api/v1/datasets/{SLUG}/records"
        grouped = f"{records}?group_by=categorie&agg=count&agg=sum:montant"
        paths = {
            "first_page": [f"{records}?limit=100"],
            "filtered_page": [f"{records}?commune={COMMUNE}&limit=100"],
            "filtered_page_uncached": [
                f"{records}?commune={code}&limit={limit}" for limit, code in uncached_filters()
            ],
            "group_by": [grouped],
            "group_by_uncached": [f"{grouped}&montant__gte={v}" for v in range(VARIANTS)],
        }
        print("Beffroi", flush=True)
        results["beffroi"] = serve_and_measure(
            [*base, "serve", "--port", str(port)],
            port,
            "/health",
            paths,
            f"/api/v1/datasets/{SLUG}/export.csv",
            args,
        )
        results["beffroi"]["load_s"] = load_s

    if not args.skip_peer:
        bin_dir = ensure_peer()
        db = work / "peer.db"
        load_s = run(
            [
                str(bin_dir / "sqlite-utils"),
                "insert",
                str(db),
                "rows",
                str(csv_path),
                "--csv",
            ]
        )
        load_s += run([str(bin_dir / "sqlite-utils"), "create-index", str(db), "rows", "commune"])
        port = free_port()
        group_sql = (
            "select categorie, count(*) as count, sum(montant) as sum_montant "
            "from rows group by categorie order by categorie"
        )
        paths = {
            "first_page": ["/peer/rows.json?_size=100&_shape=objects"],
            "filtered_page": [f"/peer/rows.json?commune={COMMUNE}&_size=100&_shape=objects"],
            "filtered_page_uncached": [
                f"/peer/rows.json?commune={code}&_size={limit}&_shape=objects"
                for limit, code in uncached_filters()
            ],
            "group_by": ["/peer.json?_shape=objects&sql=" + urllib.request.quote(group_sql)],
            "group_by_uncached": [
                "/peer.json?_shape=objects&sql="
                + urllib.request.quote(
                    group_sql.replace("from rows", f"from rows where montant >= {v}")
                )
                for v in range(VARIANTS)
            ],
        }
        print("Datasette", flush=True)
        results["datasette"] = serve_and_measure(
            [
                str(bin_dir / "datasette"),
                "serve",
                str(db),
                "--port",
                str(port),
                "--setting",
                "sql_time_limit_ms",
                "20000",
                "--setting",
                "num_sql_threads",
                "3",
                "--setting",
                "suggest_facets",
                "off",
            ],
            port,
            "/-/versions.json",
            paths,
            "/peer/rows.csv?_stream=on&_size=max",
            args,
        )
        results["datasette"]["load_s"] = load_s

    out = args.out or REPO / "bench" / "results" / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| figure | Beffroi | Datasette (peer) |")
    print("|---|---|---|")
    mine = results.get("beffroi", {})
    theirs = results.get("datasette", {})
    for name in SCENARIOS:
        for key in ("req_per_s", "p50_ms", "p99_ms"):
            a = mine.get(name, {}).get(key)
            b = theirs.get(name, {}).get(key)
            print(f"| {name} {key} | {a and round(a, 1)} | {b and round(b, 1)} |")
    for key in ("seconds", "mb", "mb_per_s"):
        a = mine.get("export_csv", {}).get(key)
        b = theirs.get("export_csv", {}).get(key)
        print(f"| export_csv {key} | {a and round(a, 1)} | {b and round(b, 1)} |")


if __name__ == "__main__":
    main()
