"""Startup figures of `beffroi serve`, side by side with Datasette serving the same catalogue.

Measures, on this machine, in one run:
* cold start: process spawn → first HTTP 200 on the health URL (median of N runs);
* idle RSS after start (one health request, then 2 s idle), and after the home page
  (which loads the shipped commune reference);
* install size of the virtual environment.

The peer, Datasette (a Python data-publishing server), is installed in its own virtual
environment under the temporary directory and serves the same SQLite catalogue file.

Usage: python bench/startup.py [--runs 5] [--skip-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from _instance import BEFFROI, clean_env, demo_instance

REPO = Path(__file__).resolve().parents[1]
PEER_VERSION = "datasette==0.65.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_200(url: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.005)
    msg = f"no 200 from {url} within {timeout} s"
    raise RuntimeError(msg)


def tree_rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 1e6


def dir_size_mb(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 1e6


def measure(
    cmd: list[str], health: str, extra_url: str | None, runs: int, env: dict[str, str]
) -> dict[str, float]:
    starts: list[float] = []
    idle: list[float] = []
    after_page: list[float] = []
    for _ in range(runs):
        port = free_port()
        full = [part.replace("{port}", str(port)) for part in cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            t1 = wait_200(f"http://127.0.0.1:{port}{health}")
            starts.append((t1 - t0) * 1000)
            time.sleep(2)
            idle.append(tree_rss_mb(proc.pid))
            if extra_url:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{extra_url}", timeout=10).read()
                time.sleep(0.5)
                after_page.append(tree_rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result = {
        "cold_start_ms_median": statistics.median(starts),
        "cold_start_ms_min": min(starts),
        "idle_rss_mb_median": statistics.median(idle),
    }
    if after_page:
        result["rss_after_home_mb_median"] = statistics.median(after_page)
    return result


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--skip-install", action="store_true", help="do not measure a fresh runtime install"
    )
    args = parser.parse_args()

    venv = Path(sys.prefix)
    beffroi = BEFFROI
    work, data_dir = demo_instance("beffroi-bench-")
    env = clean_env()

    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "python": platform.python_version(),
    }
    print(f"Machine: {results['machine']}", flush=True)
    beffroi_cmd = [beffroi, "--data-dir", str(data_dir), "serve", "--port", "{port}"]
    results["beffroi"] = measure(beffroi_cmd, "/health", "/", args.runs, env)
    results["beffroi"]["venv_mb"] = dir_size_mb(venv)  # type: ignore[index]

    if not args.skip_install:
        runtime = work / "runtime-venv"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(runtime)], check=True)
        subprocess.run(
            [
                str(runtime / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-c",
                str(REPO / "constraints.txt"),
                str(REPO),
            ],
            check=True,
        )
        site = next((runtime / "lib").glob("python3*/site-packages"))
        duckdb_mb = sum(dir_size_mb(p) for p in site.glob("*duckdb*") if p.is_dir()) + sum(
            p.stat().st_size / 1e6 for p in site.glob("_duckdb*.so")
        )
        results["beffroi"]["runtime_install_s"] = time.perf_counter() - t0  # type: ignore[index]
        results["beffroi"]["runtime_venv_mb"] = dir_size_mb(runtime)  # type: ignore[index]
        results["beffroi"]["runtime_duckdb_mb"] = duckdb_mb  # type: ignore[index]

    if not args.skip_peer:
        peer_venv = work / "peer-venv"
        subprocess.run([sys.executable, "-m", "venv", str(peer_venv)], check=True)
        subprocess.run(
            [
                str(peer_venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PEER_VERSION,
            ],
            check=True,
        )
        db = str(data_dir / "catalog.sqlite3")
        peer_cmd = [str(peer_venv / "bin" / "datasette"), "serve", db, "--port", "{port}"]
        results["datasette"] = measure(
            peer_cmd, "/-/versions.json", "/catalog/dataset", args.runs, env
        )
        results["datasette"]["venv_mb"] = dir_size_mb(peer_venv)  # type: ignore[index]
        results["datasette"]["runtime_venv_mb"] = results["datasette"]["venv_mb"]  # type: ignore[index]

    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "startup.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| figure | Beffroi | Datasette (peer) |")
    print("|---|---|---|")
    peer = results.get("datasette", {})
    for key in (
        "cold_start_ms_median",
        "cold_start_ms_min",
        "idle_rss_mb_median",
        "rss_after_home_mb_median",
        "venv_mb",
        "runtime_venv_mb",
        "runtime_duckdb_mb",
        "runtime_install_s",
    ):
        mine = results["beffroi"].get(key)  # type: ignore[attr-defined]
        theirs = peer.get(key) if isinstance(peer, dict) else None
        print(f"| {key} | {_fmt(mine)} | {_fmt(theirs)} |")


if __name__ == "__main__":
    main()
