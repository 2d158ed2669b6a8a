"""``beffroi reference update`` on the real INSEE, DGCL and La Poste files: the vintage it
writes, the summary of changes, earlier vintages kept, and the query engine's preference for
the data directory's newest vintage."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from beffroi.access import Actor
from beffroi.catalog.db import engine_for, session_factory
from beffroi.cli import cli
from beffroi.query.service import run_sql
from beffroi.reference.update import read_table, shipped_path
from tests.conftest import SHARED_DATA, make_settings

REFERENCE = SHARED_DATA / "reference"
COG = REFERENCE / "insee-cog" / "communes.csv"
MOVES = REFERENCE / "insee-cog" / "mouvements-communes.csv"
POSTE_2014 = SHARED_DATA / "messy" / "laposte-codes-postaux-2014-10.csv"


def invoke(data_dir: Path, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == expect, (result.output, result.exception)
    return result.output


def sql(data_dir: Path, query: str) -> list[dict[str, object]]:
    settings = make_settings(data_dir)
    factory = session_factory(engine_for(settings))
    with factory() as session:
        return run_sql(session, Actor.anonymous(surface="api"), settings, query).rows


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    data_dir = tmp_path / "instance"
    invoke(data_dir, "init")
    return data_dir


def cog_rows() -> list[dict[str, str]]:
    with COG.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def older_vintage(target: Path, year: int) -> dict[str, str]:
    """A COG commune file of 1 January ``year`` rebuilt from the real COG 2026 by undoing,
    newest first, INSEE's mouvements since then (renamings, mergers, creations, code
    changes); returns its codes and names."""
    with MOVES.open(encoding="utf-8", newline="") as handle:
        moves = [m for m in csv.DictReader(handle) if m["DATE_EFF"] > f"{year}-01-01"]
    rows = cog_rows()
    header = list(rows[0])
    state = {r["COM"]: dict(r) for r in rows if r["TYPECOM"] in {"COM", "ARM"}}
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for move in moves:
        groups.setdefault((move["DATE_EFF"], move["MOD"], move["COM_AP"]), []).append(move)
    for (_date, mod, after), pairs in sorted(groups.items(), reverse=True):
        befores = {m["COM_AV"]: m for m in pairs if m["TYPECOM_AV"] == "COM"}
        if mod == "10":
            for code, move in befores.items():
                if code in state:
                    state[code]["LIBELLE"] = move["LIBELLE_AV"]
            continue
        if not befores or all(m["TYPECOM_AP"] != "COM" for m in pairs):
            continue  # associated or delegated communes only: not in the list
        model = state.get(after, {})
        if after not in befores:
            state.pop(after, None)
        for code, move in befores.items():
            state.setdefault(
                code,
                {
                    **dict.fromkeys(header, ""),
                    "TYPECOM": "COM",
                    "COM": code,
                    "REG": model.get("REG", ""),
                    "DEP": model.get("DEP", ""),
                    "ARR": model.get("ARR", ""),
                    "LIBELLE": move["LIBELLE_AV"],
                },
            )
    target.mkdir()
    with (target / f"v_commune_{year}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(sorted(state.values(), key=lambda r: r["COM"]))
    return {code: row["LIBELLE"] for code, row in state.items()}


def test_update_from_the_real_files_rebuilds_the_shipped_vintage(instance: Path) -> None:
    output = invoke(instance, "reference", "update", "--from", str(REFERENCE))
    assert "Millésime 2026" in output
    assert "0 commune(s) ajoutée(s), 0 supprimée(s), 0 renommée(s)" in output
    assert "0 commune(s) changent d'EPCI, 0 de codes postaux" in output
    written = instance / "reference" / "2026"
    # Same rows as the files shipped with Beffroi (built by scripts/build_reference.py).
    for name in ("departements.csv.gz", "regions.csv.gz"):
        assert read_table(written / name) == read_table(shipped_path(name)), name
    # The communes and EPCI too, except that Mayotte's populations (a file of their own,
    # which the shipped build leaves out) are filled in.
    epcis = read_table(written / "epci.csv.gz")
    shipped_epcis = read_table(shipped_path("epci.csv.gz"))
    assert len(epcis) == len(shipped_epcis) == 1255
    for mine, theirs in zip(epcis, shipped_epcis, strict=True):
        if mine["seat_departement"] == "976":
            assert mine["population_municipale"]
            assert not theirs["population_municipale"]
            mine["population_municipale"] = ""
        assert mine == theirs
    communes = read_table(written / "communes.csv.gz")
    shipped = read_table(shipped_path("communes.csv.gz"))
    assert [r["code_insee"] for r in communes] == [r["code_insee"] for r in shipped]
    for mine, theirs in zip(communes, shipped, strict=True):
        if mine["departement"] == "976":
            assert mine["population_municipale"]
            assert not theirs["population_municipale"]
            mine["population_municipale"] = ""
        assert mine == theirs
    [acoua] = sql(
        instance, "SELECT population_municipale FROM ref.communes WHERE code_insee = '97601'"
    )
    assert acoua == {"population_municipale": 5192}  # donnees_communes_mayotte.csv
    assert read_table(written / "commune_changes.csv.gz") == read_table(
        shipped_path("commune_changes.csv.gz")
    )
    assert sql(instance, "SELECT * FROM ref.vintages") == [
        {"vintage": 2026, "source": "data_dir", "current": True}
    ]
    [lorient] = sql(
        instance,
        "SELECT name, epci_siren, postal_codes, vintage FROM ref.communes "
        "WHERE code_insee = '56121'",
    )
    assert lorient == {
        "name": "Lorient",
        "epci_siren": "200042174",
        "postal_codes": ["56100"],
        "vintage": 2026,
    }
    listed = invoke(instance, "reference", "list")
    assert "2026" in listed
    assert "data_dir" in listed


def test_an_earlier_vintage_is_kept_and_compared(instance: Path, tmp_path: Path) -> None:
    old = older_vintage(tmp_path / "cog-2024", 2024)
    now = {r["COM"]: r["LIBELLE"] for r in cog_rows() if r["TYPECOM"] in {"COM", "ARM"}}
    added, removed = now.keys() - old.keys(), old.keys() - now.keys()
    renamed = {c for c in now.keys() & old.keys() if now[c] != old[c]}
    assert len(removed) > 50  # merged into the communes nouvelles of 2025
    assert renamed
    output = invoke(instance, "reference", "update", "--from", str(tmp_path / "cog-2024"))
    assert "Millésime 2024" in output
    assert "Repris du millésime précédent" in output  # no La Poste, no EPCI file given
    # The shipped 2026 stays the current one; both vintages are queryable.
    assert sql(instance, "SELECT vintage, source, current FROM ref.vintages ORDER BY 1") == [
        {"vintage": 2024, "source": "data_dir", "current": False},
        {"vintage": 2026, "source": "shipped", "current": True},
    ]
    counts = sql(
        instance,
        "SELECT vintage, count(*) AS n FROM ref.communes_vintages GROUP BY 1 ORDER BY 1",
    )
    assert counts == [{"vintage": 2024, "n": len(old)}, {"vintage": 2026, "n": len(now)}]
    merged = sorted(removed)[0]
    assert sql(
        instance,
        f"SELECT vintage, name FROM ref.communes_vintages WHERE code_insee = '{merged}'",  # noqa: S608
    ) == [{"vintage": 2024, "name": old[merged]}]
    assert sql(instance, "SELECT count(*) AS n FROM ref.communes") == [{"n": len(now)}]
    # Then 2025: compared with 2024, the newest vintage up to 2025.
    newer = older_vintage(tmp_path / "cog-2025", 2025)
    added, removed = newer.keys() - old.keys(), old.keys() - newer.keys()
    renamed = {c for c in newer.keys() & old.keys() if newer[c] != old[c]}
    assert removed
    assert renamed
    output = invoke(instance, "reference", "update", "--from", str(tmp_path / "cog-2025"))
    assert "Comparé au millésime 2024 (data)" in output
    line = (
        f"{len(added)} commune(s) ajoutée(s), {len(removed)} supprimée(s), "
        f"{len(renamed)} renommée(s)"
    )
    assert line in output, output
    assert f"- {merged} {old[merged]}" in output
    assert sorted(p.name for p in (instance / "reference").iterdir()) == ["2024", "2025"]
    assert sql(instance, "SELECT vintage FROM ref.vintages WHERE current") == [{"vintage": 2026}]


def test_the_data_directory_vintage_wins_over_the_shipped_one(
    instance: Path, tmp_path: Path
) -> None:
    # A 2026 vintage with La Poste's 2014 file (Windows-1252, ';', padded fields).
    source = tmp_path / "downloads"
    source.mkdir()
    (source / "v_commune_2026.csv").write_bytes(COG.read_bytes())
    (source / "laposte-2014.csv").write_bytes(POSTE_2014.read_bytes())
    output = invoke(instance, "reference", "update", "--from", str(source))
    text = POSTE_2014.read_bytes().decode("cp1252")
    old: dict[str, set[str]] = {}
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        if row and row[0].strip().isalnum() and row[2].strip().isdigit():
            old.setdefault(row[0].strip(), set()).add(f"{int(row[2]):05d}")
    shipped = {r["code_insee"]: r for r in read_table(shipped_path("communes.csv.gz"))}
    differing = sorted(
        code
        for code, row in shipped.items()
        if row["typecom"] == "COM" and code in old and set(row["postal_codes"].split()) != old[code]
    )
    assert differing
    code = differing[0]
    [found] = sql(
        instance,
        f"SELECT postal_codes FROM ref.communes WHERE code_insee = '{code}'",  # noqa: S608
    )
    assert set(found["postal_codes"]) == old[code]  # type: ignore[call-overload]
    changed = sum(
        1 for c, row in shipped.items() if c in old and set(row["postal_codes"].split()) != old[c]
    )
    assert f"{changed} de codes postaux" in output


def test_errors_are_clear(instance: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    output = invoke(instance, "reference", "update", "--from", str(empty), expect=1)
    assert "Aucun fichier des communes du COG" in output
    assert "v_commune_" in output
    output = invoke(instance, "reference", "update", "--from", str(tmp_path / "nope"), expect=2)
    twice = tmp_path / "twice"
    twice.mkdir()
    for name in ("a.csv", "b.csv"):
        (twice / name).write_bytes(COG.read_bytes())
    output = invoke(instance, "reference", "update", "--from", str(twice), expect=1)
    assert "Plusieurs fichiers" in output
    no_year = tmp_path / "no-year"
    no_year.mkdir()
    (no_year / "communes.csv").write_bytes(COG.read_bytes())
    output = invoke(instance, "reference", "update", "--from", str(no_year), expect=1)
    assert "--year" in output
    assert not (instance / "reference").exists() or not any((instance / "reference").iterdir())
