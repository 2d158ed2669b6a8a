"""Ingestion speed: `beffroi ingest` against pandas and PostgreSQL COPY, in the same run.

Generates a 1,000,000-row CSV shaped like the SCDL *subventions* schema in two variants:

* ``clean``: UTF-8, ``,`` delimiter, ``.`` decimal mark, ISO dates;
* ``excel-fr``: "French Excel" — Windows-1252 (``€ ’ œ`` in the text), ``;`` delimiter,
  decimal comma, dd/mm/yyyy dates.

Then times, for each variant:

1. ``beffroi ingest FILE --dataset … --publish`` (read + sniff + type + profile + one Delta
   commit + catalogue version), as a subprocess, with its peak RSS;
2. pandas ``read_csv`` (with the right encoding/separator/decimal/dates) + ``to_parquet``;
3. PostgreSQL ``COPY`` into an untyped ``text`` table (the path CKAN's DataPusher/XLoader
   takes), through psycopg, server at ``BEFFROI_TEST_POSTGRES_URL``.

Usage: python bench/ingest.py [--rows 1000000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from _instance import BEFFROI, clean_env, demo_instance, peer_python

REPO = Path(__file__).resolve().parents[1]
COLUMNS = [
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
]
OBJECTS = [
    "Subvention de fonctionnement – saison 2024",
    "Aide à l'équipement œuvres sociales",
    "Soutien aux fêtes de l’été",
    "Projet « jeunesse & sport » 2 500 € max",
]


def siret(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(13)]
    for check in range(10):
        candidate = [*digits, check]
        total = 0
        for i, d in enumerate(reversed(candidate)):
            v = d * 2 if i % 2 else d
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return "".join(map(str, candidate))
    raise AssertionError


def generate(path: Path, rows: int, *, french: bool) -> None:
    rng = random.Random(42)
    sep = ";" if french else ","
    attribuant = siret(rng)
    beneficiaries = [siret(rng) for _ in range(5000)]
    with path.open("w", encoding="cp1252" if french else "utf-8", newline="") as out:
        out.write(sep.join(COLUMNS) + "\r\n")
        for i in range(rows):
            day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2015, 2025)
            date = f"{day:02d}/{month:02d}/{year}" if french else f"{year}-{month:02d}-{day:02d}"
            amount = rng.randint(100, 500_000) / 100
            montant = f"{amount:.2f}".replace(".", ",") if french else f"{amount:.2f}"
            pct = f"{rng.random():.2f}"
            pct = pct.replace(".", ",") if french else pct
            objet = rng.choice(OBJECTS)
            if sep in objet or '"' in objet:
                objet = '"' + objet.replace('"', '""') + '"'
            row = [
                "COMMUNE DE DÉMO",
                attribuant,
                date,
                f"DEL-{year}-{i % 997}",
                f"Association n°{i % 5000}",
                rng.choice(beneficiaries),
                f"W{rng.randrange(10**9):09d}",
                objet,
                montant,
                "aide en numéraire",
                "unique",
                date,
                "",
                "non",
                pct,
                "",
            ]
            out.write(sep.join(row) + "\r\n")


def peak_rss_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants, summed (MB)."""
    import psutil

    try:
        top = psutil.Process(root)
        members = [top, *top.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total / (1 << 20)


def time_beffroi(path: Path, data_dir: Path, env: dict[str, str]) -> dict[str, float]:
    """``beffroi ingest`` as a subprocess: wall, CPU (with the catalogue process it forks),
    and peak RSS both as /usr/bin/time reports it (the largest single process) and summed over
    the process tree (the command and its catalogue process), sampled every 20 ms."""
    beffroi = str(Path(sys.prefix) / "bin" / "beffroi")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            "/usr/bin/time",
            "-f",
            "%M %U %S",
            beffroi,
            "--data-dir",
            str(data_dir),
            "ingest",
            str(path),
            "--dataset",
            "bench-subventions",
            "--publish",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_tree = 0.0
    while proc.poll() is None:
        peak_tree = max(peak_tree, _tree_rss_mb(proc.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(stderr[-2000:])
    return {"seconds": elapsed, **_usage(stderr), "peak_rss_tree_mb": peak_tree}


PANDAS_SCRIPT = """
import sys, time, pandas as pd
path, french, out = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
kw = dict(sep=";", encoding="cp1252", decimal=",", dayfirst=True) if french else dict(sep=",")
t = time.perf_counter()
df = pd.read_csv(path, dtype={"idAttribuant": str, "idBeneficiaire": str}, **kw,
                 parse_dates=["dateConvention"], date_format="%d/%m/%Y" if french else "%Y-%m-%d")
df.to_parquet(out)
print(time.perf_counter() - t)
"""


PANDAS_PEER = ("pandas==3.1.1", "pyarrow==26.0.1")


def time_pandas(path: Path, french: bool, work: Path) -> dict[str, float]:
    python = peer_python("pandas", *PANDAS_PEER)
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M %U %S",
            str(python),
            "-c",
            PANDAS_SCRIPT,
            str(path),
            "1" if french else "0",
            str(work / "pandas.parquet"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return {"seconds": elapsed, **_usage(proc.stderr)}


def _usage(stderr: str) -> dict[str, float]:
    """Peak RSS and CPU seconds from ``/usr/bin/time -f "%M %U %S"``'s last line."""
    rss_kb, user, system = stderr.strip().splitlines()[-1].split()
    return {"peak_rss_mb": int(rss_kb) / 1024, "cpu_s": float(user) + float(system)}


def time_copy(path: Path, french: bool) -> dict[str, float]:
    import psycopg

    url = os.environ.get(
        "BEFFROI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ).replace("postgresql+psycopg://", "postgresql://")
    cols = ", ".join(f'"{c}" text' for c in COLUMNS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_subventions")
        conn.execute(f"CREATE TABLE bench_subventions ({cols})")
        encoding = "WIN1252" if french else "UTF8"
        delimiter = ";" if french else ","
        start = time.perf_counter()
        with (
            conn.cursor().copy(
                f"COPY bench_subventions FROM STDIN WITH (FORMAT csv, HEADER true, "
                f"DELIMITER '{delimiter}', ENCODING '{encoding}')"
            ) as copy,
            path.open("rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - start
        count = conn.execute("SELECT count(*) FROM bench_subventions").fetchone()
        conn.execute("DROP TABLE bench_subventions")
    assert count is not None
    return {"seconds": elapsed, "rows": float(count[0])}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median wall time (its CPU and memory with it), plus the fastest time."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return {**ordered[len(ordered) // 2], "best_seconds": ordered[0]["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (median kept)")
    args = parser.parse_args()
    work, data_dir = demo_instance("beffroi-bench-ingest-")
    env = clean_env()
    beffroi = BEFFROI
    subprocess.run(
        [
            beffroi,
            "--data-dir",
            str(data_dir),
            "dataset",
            "create",
            "Subventions (banc d'essai)",
            "--slug",
            "bench-subventions",
            "--publisher",
            "lorient-agglomeration",
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "rows": args.rows,
    }
    for variant, french in (("clean", False), ("excel-fr", True)):
        path = work / f"subventions-{variant}.csv"
        generate(path, args.rows, french=french)
        size_mb = path.stat().st_size / 1e6
        print(f"{variant}: {size_mb:.0f} MB", flush=True)
        runs: dict[str, list[dict[str, float]]] = {"beffroi": [], "pandas": [], "copy": []}
        for _ in range(args.runs):  # interleaved: a busy moment of the machine hits all three
            runs["beffroi"].append(time_beffroi(path, data_dir, env))
            runs["pandas"].append(time_pandas(path, french, work))
            runs["copy"].append(time_copy(path, french))
        results[variant] = {
            "size_mb": size_mb,
            "runs": args.runs,
            "beffroi": median_run(runs["beffroi"]),
            "pandas": median_run(runs["pandas"]),
            "postgres_copy": median_run(runs["copy"]),
        }
        print(json.dumps(results[variant]), flush=True)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        "| variant | Beffroi ingest | pandas read_csv+to_parquet | PostgreSQL COPY (text) "
        "| Beffroi / COPY |"
    )
    print("|---|---|---|---|---|")
    for variant in ("clean", "excel-fr"):
        r = results[variant]
        assert isinstance(r, dict)
        b, p, c = r["beffroi"], r["pandas"], r["postgres_copy"]
        print(
            f"| {variant} ({r['size_mb']:.0f} MB) | {b['seconds']:.2f} s (CPU {b['cpu_s']:.1f} s), "
            f"{b['peak_rss_tree_mb']:.0f} MB peak (both processes) | "
            f"{p['seconds']:.2f} s (CPU {p['cpu_s']:.1f} s), "
            f"{p['peak_rss_mb']:.0f} MB peak | {c['seconds']:.2f} s | "
            f"{b['seconds'] / c['seconds']:.2f}x |"
        )


if __name__ == "__main__":
    main()
