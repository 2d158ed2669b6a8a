"""Computing the five demo indicators: Beffroi (query engine sandbox, lineage, storage) beside
pandas (the same aggregates on the same Parquet files, nothing stored), in the same run.

Usage: ``.venv/bin/python bench/indicators.py [--runs 5]`` — writes
``bench/results/indicators.json``. Both sides are timed in-process (no interpreter start):
Beffroi's figure is one ``compute`` per indicator, each in a rolled-back transaction (source
check, SQL guard, DuckDB, normalisation, values and lineage written); pandas reads the
published versions' Parquet files and computes the same per-commune values. The totals of
both sides are compared, so a wrong peer cannot look fast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from _instance import demo_instance, peer_python
from deltalake import DeltaTable
from sqlalchemy import select

from beffroi import reference
from beffroi.catalog.db import engine_for, session_factory
from beffroi.catalog.models import Dataset, Indicator
from beffroi.indicators import compute as comp
from beffroi.indicators.demo import EPCI_SIREN
from beffroi.settings import load_settings

RESULTS = Path(__file__).resolve().parent / "results" / "indicators.json"

PEER_SCRIPT = r"""
import json, sys, time
import pandas as pd
spec = json.loads(sys.argv[1])
pop = spec["populations"]; members = set(pop); sirens = spec["sirens"]; epci_pop = spec["epci"]
def run():
    out = {}
    read = lambda slug: pd.concat([pd.read_parquet(f) for f in spec["files"][slug]])
    w = read("consommation-eau-potable-par-commune")
    w = w[w.code_insee.isin(members)]
    month = w.mois.astype("datetime64[s]").dt.strftime("%Y-%m")
    g = w.groupby([w.code_insee, month]).volume_m3.sum()
    out["consommation-eau-par-habitant"] = sum(v / pop[c] for (c, _), v in g.items())
    b = read("bornes-recharge-vehicules-electriques")
    b = b[b.code_insee_commune.isin(members)]
    y = b.date_mise_en_service.astype("datetime64[s]").dt.year
    g = b.groupby([b.code_insee_commune, y]).size().unstack(fill_value=0).cumsum(axis=1)
    total = 0.0
    for c, row in g.iterrows():
        started = False
        for n in row:
            started = started or n > 0
            if started:
                total += n * 1000 / pop[c]
    out["points-recharge-pour-1000-habitants"] = total
    s = read("stationnement-cyclable")
    s = s[s.code_com.isin(members)]
    out["places-stationnement-velo"] = float(s.groupby("code_com").capacite.sum().sum())
    v = read("subventions-associations")
    v = v.assign(commune=v.idAttribuant.str[:9].map(sirens))
    v = v[v.commune.notna()]
    g = v.groupby([v.commune, v.dateConvention.astype("datetime64[s]").dt.year]).montant.sum()
    out["subventions-associations-par-habitant"] = sum(x / pop[c] for (c, _), x in g.items())
    d = read("budget-primitif-agglomeration")
    d = d[(d.BGT_SECTION == "I") & (d.BGT_CODRD == "D") & d.BGT_NATURE.str.startswith("2")]
    yearly = d.groupby("BGT_ANNEE").BGT_MTPREV.sum() / epci_pop
    out["depenses-equipement-par-habitant"] = float(yearly.sum())
    return out
times = []
for _ in range(spec["runs"]):
    t = time.perf_counter(); result = run(); times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "totals": result}))
"""


def _files(data_dir: Path, dataset: Dataset) -> list[str]:
    version = dataset.published_version
    assert version is not None
    table = DeltaTable(str(data_dir / "tables" / dataset.store_key), version=version.store_version)
    return [uri.removeprefix("file://") for uri in table.file_uris()]


def main() -> None:
    """Run both sides and write the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _work, data_dir = demo_instance("bench-indicators-")
    settings = load_settings(data_dir=data_dir)
    factory = session_factory(engine_for(settings))
    ours: dict[str, list[float]] = {}
    totals: dict[str, float] = {}
    with factory() as session:
        indicators = list(session.scalars(select(Indicator).order_by(Indicator.code)))
        for listed in indicators:
            ours[listed.code] = []
            for _ in range(args.runs):
                indicator = session.get(Indicator, listed.id) or listed
                started = time.perf_counter()
                run = comp.compute(session, settings, indicator, trigger="bench")
                ours[indicator.code].append(time.perf_counter() - started)
                assert run.status == "succeeded", run.error
                totals[indicator.code] = sum(
                    v.value or 0.0 for v in comp.values_of(session, run) if v.commune is not None
                ) or sum(v.value or 0.0 for v in comp.values_of(session, run))
                session.rollback()
        files = {
            d.slug: _files(data_dir, d)
            for d in session.scalars(
                select(Dataset).where(Dataset.published_version_id.is_not(None))
            )
        }
    members = reference.epci_members(EPCI_SIREN)
    spec = {
        "runs": args.runs,
        "files": files,
        "populations": {c.code_insee: c.population_municipale for c in members},
        "sirens": {c.siren: c.code_insee for c in members},
        "epci": reference.epci(EPCI_SIREN).population_municipale,
    }
    python = peer_python("pandas", "pandas==3.1.1", "pyarrow==26.0.1")
    answer = subprocess.run(
        [str(python), "-c", PEER_SCRIPT, json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
    )
    peer = json.loads(answer.stdout)
    for code, total in peer["totals"].items():
        agree = abs(total - totals[code]) <= 1e-6 * max(1.0, abs(total))
        assert agree, (code, total, totals[code])
    ours_total = [sum(runs) for runs in zip(*ours.values(), strict=True)]
    result = {
        "runs": args.runs,
        "beffroi_per_indicator_median_s": {k: statistics.median(v) for k, v in ours.items()},
        "beffroi_all_five_median_s": statistics.median(ours_total),
        "pandas_all_five_median_s": statistics.median(peer["times"]),
        "totals_agree": True,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
