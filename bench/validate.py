"""Validation speed: `beffroi validate` against frictionless-py, validata-table and a raw
DuckDB typed scan (the floor), in the same run.

Generates the SCDL *subventions*-shaped CSV of ``bench/ingest.py`` (clean variant) with about
0.5 % invalid rows of assorted kinds (bad date, decimal comma, unknown enum value, bad
boolean, bad RNA pattern, empty required cell, extra cell, missing cell, blank row), and its
Table Schema (SCDL subventions 2.x, from the shared data). Then times, each as a subprocess
with its own peak RSS:

1. ``beffroi validate FILE --schema schema.json --format json`` (custom checks off, as
   frictionless has none; and again with the SIRET custom checks on);
2. frictionless-py ``validate`` (``limit_errors`` raised so that every error is counted), on
   ``--frictionless-rows`` rows (extrapolated linearly when smaller than the file);
3. validata-table (its Python API, in its own venv ``bench/.venv-validata``), same rows;
4. DuckDB ``SELECT count(*) FROM read_csv(FILE)`` with typed columns.

Usage: python bench/validate.py [--rows 1000000] [--frictionless-rows 1000000] [--ten-million]

Every tool first runs once untimed (page cache, bytecode; the peers on a 1,000-row head of
the file). Beffroi and the scan then run ``--repeat`` times (at least 3), interleaved; their
entries give the best run (``seconds``, ``cpu_seconds``…), the medians (``seconds_median``,
``cpu_seconds_median``) and every run (``runs``); ratios are given best to best and median to
median.

Quick checks of a change (Beffroi and the DuckDB scan only, results kept out of
``bench/results``): ``python bench/validate.py --rows 200000 --no-peers --output
/tmp/validate.json``. Times are wall; ``cpu_seconds`` (user + system of the process) is the
figure to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _instance import peer_python
from ingest import COLUMNS, generate  # the ingestion benchmark's generator (bench/ on path)

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"
BEFFROI = REPO / ".venv" / "bin" / "beffroi"
#: validata-table pins an old Flask: it gets a virtual environment of its own, made here.
VALIDATA_REQUIREMENTS = ("validata-table==0.12.5",)
SHARED = REPO.parent / "shared" / "data"
SCHEMA = SHARED / "schemas" / "scdl-subventions" / "schema.json"
RESULTS = REPO / "bench" / "results" / "validate.json"


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, char in enumerate(reversed(digits + "0")):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def _valid_siret(number: str) -> str:
    """A SIRET valid for python-stdnum (SIREN and SIRET Luhn keys) made from ``number``."""
    siren = number[:8] + _luhn_digit(number[:8])
    body = siren + number[9:13]
    return body + _luhn_digit(body)


def corrupt(source: Path, target: Path, every: int = 200) -> int:
    """Copy ``source`` with one row in ``every`` made invalid, kinds in turn (and SIRETs
    made valid for the SIREN key too, as the SIRET custom check requires)."""
    kinds = [
        lambda c: c.__setitem__(2, "31/12/2020"),  # dateConvention not ISO
        lambda c: c.__setitem__(8, "12,50"),  # montant with a decimal comma
        lambda c: c.__setitem__(9, "aide en nature (prêt)"),  # nature not in the enum
        lambda c: c.__setitem__(13, "peut-être"),  # notificationUE not a boolean
        lambda c: c.__setitem__(6, "W12"),  # rnaBeneficiaire pattern
        lambda c: c.__setitem__(0, ""),  # nomAttribuant required
        lambda c: c.append("en trop"),  # extra cell
        lambda c: c.pop(),  # missing cell
        lambda c: c.__setitem__(slice(None), [""] * len(c)),  # blank row
    ]
    bad = 0
    sirets: dict[str, str] = {}
    with (
        source.open(encoding="utf-8", newline="") as inp,
        target.open("w", encoding="utf-8") as out,
    ):
        out.write(inp.readline())
        for number, line in enumerate(inp):
            cells = line.rstrip("\r\n").split(",")
            if len(cells) == len(COLUMNS):  # rows without a quoted comma
                for index in (1, 5):  # idAttribuant, idBeneficiaire
                    if cells[index] not in sirets:
                        sirets[cells[index]] = _valid_siret(cells[index])
                    cells[index] = sirets[cells[index]]
                if number % every == every // 2:
                    kinds[bad % len(kinds)](cells)
                    bad += 1
                line = ",".join(cells) + "\r\n"  # noqa: PLW2901 - the row, rewritten
            out.write(line)
    return bad


def timed(command: list[str]) -> dict[str, object]:
    """Like :func:`run`, with the peak RSS read from ``/usr/bin/time``-free ``wait4``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = process.stdout.read() if process.stdout else b""
    errors = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        # CPU time too: on a shared machine it is far less disturbed by the other processes.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
        "returncode": os.waitstatus_to_exitcode(status),
        "stdout": chunks,
        "stderr": errors,
    }


def beffroi(path: Path, *, custom: bool) -> dict[str, object]:
    command = [
        str(BEFFROI),
        "validate",
        str(path),
        "--schema",
        str(SCHEMA),
        "--format",
        "json",
        "--max-errors",
        "0",
    ]
    if not custom:
        command.append("--no-custom-checks")
    result = timed(command)
    report = json.loads(result.pop("stdout") or b"{}")
    result.pop("stderr")
    result["counts"] = report.get("counts")
    result["rows"] = report.get("stats", {}).get("rows")
    # The validation itself, without the CLI's start-up (imports of every command module).
    result["engine_seconds"] = report.get("stats", {}).get("seconds")
    return result


FRICTIONLESS = """
import json, sys, collections
from frictionless import Resource, Schema, system
with system.use_context(trusted=True):
    schema = Schema.from_descriptor(json.load(open(sys.argv[2])))
    report = Resource(sys.argv[1], schema=schema).validate(limit_errors=10**9)
counts = collections.Counter(e["type"] for t in report.to_dict()["tasks"] for e in t["errors"])
print(json.dumps({"valid": report.valid, "counts": counts}))
"""


def frictionless(path: Path) -> dict[str, object]:
    result = timed([str(PYTHON), "-c", FRICTIONLESS, str(path), str(SCHEMA)])
    out = result.pop("stdout")
    err = result.pop("stderr")
    result["counts"] = json.loads(out)["counts"] if out else None
    if not out:
        result["error"] = err.decode()[-500:]
    return result


VALIDATA_SCRIPT = """
import json, sys, collections
import frictionless
import validata_core
# Validata stops at frictionless' default 1,000 errors: count them all, like the others.
validate = frictionless.validate
frictionless.validate = lambda *args, **kwargs: validate(*args, limit_errors=10**9, **kwargs)
report = validata_core.validate(sys.argv[1], sys.argv[2])
counts = collections.Counter(e["type"] for e in report.to_dict()["errors"])
print(json.dumps({"valid": report.valid, "counts": counts}))
"""


def validata(path: Path) -> dict[str, object]:
    """validata-table 0.12.5 (its ``validata`` script is broken: it imports a module the
    wheel does not ship), through its Python API, in its own venv."""
    try:
        python = peer_python("validata", *VALIDATA_REQUIREMENTS)
    except subprocess.CalledProcessError as exc:
        return {"error": f"validata-table could not be installed: {exc}"}
    result = timed([str(python), "-c", VALIDATA_SCRIPT, str(path), str(SCHEMA)])
    out = result.pop("stdout")
    err = result.pop("stderr")
    result["counts"] = json.loads(out)["counts"] if out else None
    if not out:
        result["error"] = err.decode(errors="replace")[-500:]
    return result


DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")  # stdout is the row count
types = {"dateConvention": "DATE", "montant": "DOUBLE", "pourcentageSubvention": "DOUBLE"}
print(con.execute("SELECT count(*) FROM read_csv(?, header=true, all_varchar=false, "
      "ignore_errors=true, null_padding=true, types=?)", [sys.argv[1], types]).fetchone()[0])
"""


def duckdb_scan(path: Path) -> dict[str, object]:
    result = timed([str(PYTHON), "-c", DUCKDB, str(path)])
    result["rows"] = int(result.pop("stdout") or 0)
    result.pop("stderr")
    return result


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """The best run's figures (wall, CPU, RSS…), the medians, and every run."""
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    result = dict(ordered[0])
    result["seconds_median"] = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    result["cpu_seconds_best"] = min(float(r["cpu_seconds"]) for r in runs)  # type: ignore[arg-type]
    result["cpu_seconds_median"] = statistics.median(float(r["cpu_seconds"]) for r in runs)  # type: ignore[arg-type]
    if "engine_seconds" in result:
        engine = [float(r["engine_seconds"]) for r in runs if r.get("engine_seconds") is not None]  # type: ignore[arg-type]
        if engine:
            result["engine_seconds_median"] = statistics.median(engine)
    result["runs"] = [{key: value for key, value in r.items() if key != "counts"} for r in runs]
    return result


def head(source: Path, target: Path, rows: int) -> None:
    with source.open("rb") as inp, target.open("wb") as out:
        for number, line in enumerate(inp):
            if number > rows:
                break
            out.write(line)


def main() -> None:  # noqa: PLR0912, PLR0915 - one step after the other
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--frictionless-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--validata-rows",
        type=int,
        default=100_000,
        help="validata-table refuses files over 100,000 rows (VALIDATA_MAX_ROWS)",
    )
    parser.add_argument("--ten-million", action="store_true", help="also 10M rows (RSS)")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip frictionless and validata (quick runs)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs of Beffroi and the scan (at least 3, after a warm-up): best and median",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"results file (default: {RESULTS})"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "beffroi-bench-validate",
        help="where the generated files are kept between runs",
    )
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    clean = work / f"subventions-{args.rows}.clean.csv"
    path = work / f"subventions-{args.rows}.csv"
    if not path.exists():
        generate(clean, args.rows, french=False)
        corrupt(clean, path)
        clean.unlink()
    samples = {}
    for peer, count in (("frictionless", args.frictionless_rows), ("validata", args.validata_rows)):
        samples[peer] = path
        if count < args.rows:
            samples[peer] = work / f"subventions-{count}.csv"
            head(path, samples[peer], count)
    factors = {
        "frictionless": args.rows / min(args.rows, args.frictionless_rows),
        "validata": args.rows / min(args.rows, args.validata_rows),
    }
    results: dict[str, object] = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}"
        ),
        "rows": args.rows,
        "file_mb": round(path.stat().st_size / 1e6, 1),
    }

    # Every tool runs once untimed first (page cache, bytecode, lazy imports); the fast ones
    # then run ``--repeat`` times each, interleaved (scan, beffroi, beffroi with custom
    # checks, scan…), and report their best and median runs. The JSON keeps every run.
    fast: dict[str, Callable[[], dict[str, object]]] = {
        "duckdb_scan": lambda: duckdb_scan(path),
        "beffroi": lambda: beffroi(path, custom=False),
        "beffroi_custom_checks": lambda: beffroi(path, custom=True),
    }
    for run in fast.values():
        run()
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in fast}
    for _ in range(max(3, args.repeat)):
        for name, run in fast.items():
            runs[name].append(run())
    for name, measured in runs.items():
        results[name] = summary(measured)
    for peer, run_peer, count in (
        ("frictionless", frictionless, args.frictionless_rows),
        ("validata", validata, args.validata_rows),
    ):
        if args.no_peers:
            continue
        warm = work / "subventions-1000.csv"
        if not warm.exists():
            head(path, warm, 1000)
        run_peer(warm)  # untimed: imports, bytecode (the big file is in the page cache)
        outcome = run_peer(samples[peer])
        outcome["rows_measured"] = min(args.rows, count)
        results[peer] = outcome
    if args.ten_million:
        big = work / "subventions-10000000.csv"
        if not big.exists():
            with big.open("wb") as out:
                lines = path.read_bytes().split(b"\n", 1)
                out.write(lines[0] + b"\n")
                for _ in range(10):
                    out.write(lines[1])
        results["beffroi_10m"] = beffroi(big, custom=False)
    b = results["beffroi"]["seconds"]  # type: ignore[index]
    b_median = results["beffroi"]["seconds_median"]  # type: ignore[index]
    for peer in ("frictionless", "validata"):
        peer_result = results.get(peer)
        if isinstance(peer_result, dict) and "seconds" in peer_result:
            factor = factors[peer]
            peer_result["seconds_extrapolated"] = round(peer_result["seconds"] * factor, 1)
            peer_result["speedup"] = round(peer_result["seconds"] * factor / b, 1)
            peer_result["speedup_vs_median"] = round(peer_result["seconds"] * factor / b_median, 1)
    scan = results["duckdb_scan"]
    results["vs_duckdb_scan"] = round(b / scan["seconds"], 2)  # type: ignore[index]
    results["vs_duckdb_scan_median"] = round(b_median / scan["seconds_median"], 2)  # type: ignore[index]
    cpu = results["beffroi"]["cpu_seconds"]  # type: ignore[index]
    for peer in ("frictionless", "validata", "duckdb_scan"):
        peer_result = results.get(peer)
        if isinstance(peer_result, dict) and "cpu_seconds" in peer_result:
            factor = factors.get(peer, 1.0)
            peer_result["cpu_ratio_vs_beffroi"] = round(
                peer_result["cpu_seconds"] * factor / cpu, 2
            )
    results["load_average"] = os.getloadavg()
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(json.dumps(results, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
