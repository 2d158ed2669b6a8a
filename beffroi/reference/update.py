"""``beffroi reference update``: a new vintage of the reference data from downloaded files.

The administrator downloads the official files (offline-friendly: nothing is fetched) into one
directory; each file is recognised by its header, whatever its name:

* INSEE COG communes (``v_commune_<year>.csv``: ``TYPECOM,COM,REG,DEP,…,LIBELLE``) — required;
* INSEE « mouvements de communes » (``MOD,DATE_EFF,…,COM_AV,…,COM_AP``);
* DGCL BANATIC EPCI composition (``epcicom-<year>.xlsx`` or its CSV: ``siren``,
  ``raison_sociale``, ``nature_juridique``, ``mode_financ``, ``insee``, ``siren_membre``…);
* La Poste base officielle des codes postaux (``Code_commune_INSEE;…;Code_postal``, UTF-8 or
  Windows-1252);
* optionally INSEE populations légales (``COM``/``CODCOM``, ``PMUN``), a SIREN ↔ INSEE table
  (``siren,insee``), INSEE départements and régions.

The vintage (year) is ``--year``, else the year in the COG file's name, else the year of the
latest mouvement. What a file does not bring (postal codes without the La Poste file, SIREN and
EPCI without the composition, populations…) is carried over, by INSEE code, from the newest
earlier vintage (the data directory's, else the one shipped with Beffroi).

The vintage is written to ``<data dir>/reference/<year>/`` in the shipped files' format
(``communes.csv.gz``, ``epci.csv.gz``, ``departements.csv.gz``, ``regions.csv.gz``,
``commune_changes.csv.gz``, ``manifest.json``), atomically (a temporary directory renamed
into place). Earlier vintages are kept; the query engine serves the newest as ``ref.communes``
(a data-directory vintage wins over the shipped one of the same year) and every vintage in
``ref.communes_vintages`` (see :mod:`beffroi.query.reference`).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from beffroi.access import Action, Actor, require
from beffroi.errors import InvalidInputError
from beffroi.reference import cog
from beffroi.reference.changes import COLUMNS as CHANGE_COLUMNS

COMMUNE_COLUMNS: Final = (
    "code_insee",
    "name",
    "typecom",
    "departement",
    "region",
    "arrondissement",
    "siren",
    "epci_siren",
    "population_municipale",
    "postal_codes",
)
EPCI_COLUMNS: Final = (
    "siren",
    "name",
    "nature",
    "financing",
    "seat_departement",
    "member_count",
    "population_municipale",
)
DEPARTEMENT_COLUMNS: Final = ("code", "region", "name", "chef_lieu")
REGION_COLUMNS: Final = ("code", "name", "chef_lieu")
MANIFEST: Final = "manifest.json"
SHIPPED_FILES: Final = {
    "communes": "communes.csv.gz",
    "epci": "epci.csv.gz",
    "departements": "departements.csv.gz",
    "regions": "regions.csv.gz",
    "commune_changes": "commune_changes.csv.gz",
}
NATURES: Final = frozenset({"CC", "CA", "CU", "METRO", "MET69"})
_CODE: Final = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_SPACES: Final = re.compile(r"[\s\-]+")
_YEAR: Final = re.compile(r"(?<!\d)(19[4-9]\d|20\d\d)(?!\d)")
ProgressCallback = Callable[[str, int, int], None]
"""``(step, done, total)``: one call per step of the update."""


@dataclass(frozen=True, slots=True)
class Sources:
    """The recognised files of a download directory (None: not given)."""

    communes: Path
    changes: Path | None = None
    epci: Path | None = None
    postal: Path | None = None
    population: tuple[Path, ...] = ()
    sirens: Path | None = None
    departements: Path | None = None
    regions: Path | None = None
    ignored: tuple[Path, ...] = ()


@dataclass(slots=True)
class UpdateSummary:
    """What an update wrote and what changed since the previous vintage."""

    year: int
    previous: int | None
    previous_source: str | None
    target: Path
    communes: int
    epci: int
    sources: dict[str, str]
    carried_over: list[str]
    added: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    removed: list[tuple[str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # (code, before, after)
    epci_moves: int = 0  # communes whose EPCI changed
    postal_changes: int = 0  # communes whose postal codes changed
    new_changes: int = 0  # mouvements not in the previous vintage
    replaced: bool = False  # this year was already in the data directory

    def lines(self) -> list[str]:
        """A French summary, one line per item."""
        before = f"{self.previous} ({self.previous_source})" if self.previous else "aucun"
        text = [
            f"Millésime {self.year} écrit dans {self.target}"
            + (" (remplace le précédent de la même année)" if self.replaced else ""),
            f"Comparé au millésime {before} :",
            f"  {self.communes} communes et arrondissements, {self.epci} EPCI",
            (
                f"  {len(self.added)} commune(s) ajoutée(s), {len(self.removed)} "
                f"supprimée(s), {len(self.renamed)} renommée(s)"
            ),
            (
                f"  {self.epci_moves} commune(s) changent d'EPCI, {self.postal_changes} de "
                "codes postaux"
            ),
            f"  {self.new_changes} mouvement(s) de communes nouveaux",
        ]
        for code, name in self.added[:10]:
            text.append(f"  + {code} {name}")
        for code, name in self.removed[:10]:
            text.append(f"  - {code} {name}")
        for code, old, new in self.renamed[:10]:
            text.append(f"  ~ {code} {old} → {new}")
        if self.carried_over:
            text.append("Repris du millésime précédent : " + ", ".join(self.carried_over))
        return text


# -- reading ---------------------------------------------------------------------------------


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # older La Poste copies
    return text.removeprefix("\ufeff")


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = _text(path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [
        {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in reader
    ]


def _xlsx_rows(path: Path) -> list[dict[str, str]]:
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 - only for BANATIC files

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    if not sheet:
        return []
    header = [str(h).strip() for h in sheet[0]]
    return [{h: _cell(v) for h, v in zip(header, row, strict=False)} for row in sheet[1:]]


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _header(path: Path) -> set[str]:
    if path.suffix.lower() in {".xlsx", ".xls", ".ods"}:
        from python_calamine import CalamineWorkbook  # noqa: PLC0415

        try:
            rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(nrows=1)
        except Exception:  # noqa: BLE001 - an unreadable workbook is just not recognised
            return set()
        return {_key(str(h)) for h in rows[0]} if rows else set()
    with path.open("rb") as handle:
        first = handle.readline(65_536)
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError:
        line = first.decode("cp1252", errors="replace")
    line = line.removeprefix("\ufeff").strip()
    delimiter = ";" if line.count(";") > line.count(",") else ","
    return {_key(h) for h in line.split(delimiter)}


def _kind(header: set[str]) -> str | None:  # noqa: PLR0911 - one answer per kind of file
    if {"mod", "date_eff", "com_av", "com_ap"} <= header:
        return "changes"
    if {"typecom", "com", "dep", "reg", "libelle"} <= header:
        return "communes"
    if {"siren", "insee", "siren_membre", "nature_juridique"} <= header:
        return "epci"
    if {"code_commune_insee", "code_postal"} <= header:
        return "postal"
    if "pmun" in header and ("com" in header or "codcom" in header):
        return "population"
    if {"siren", "insee"} <= header:
        return "sirens"
    if {"dep", "reg", "cheflieu", "libelle"} <= header and not header & {"arr", "com"}:
        return "departements"
    if {"reg", "cheflieu", "libelle"} <= header and not header & {"dep", "arr", "com"}:
        return "regions"
    return None


def find_sources(directory: Path) -> Sources:
    """The reference files of ``directory`` (searched recursively), recognised by header."""
    if not directory.is_dir():
        raise InvalidInputError(
            f"Dossier introuvable : {directory}",
            hint="donnez le dossier où sont les fichiers téléchargés (--from DOSSIER)",
            message_en=f"Directory not found: {directory}",
            hint_en="give the directory holding the downloaded files (--from DIR)",
        )
    found: defaultdict[str, list[Path]] = defaultdict(list)
    ignored: list[Path] = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in {".csv", ".txt", ".xlsx"}:
            continue
        kind = _kind(_header(path))
        if kind is None:
            ignored.append(path)
        else:
            found[kind].append(path)
    for kind, paths in found.items():
        if len(paths) > 1 and kind != "population":
            listed = ", ".join(str(p) for p in paths)
            raise InvalidInputError(
                f"Plusieurs fichiers du même type ({kind}) : {listed}",
                hint="laissez un seul fichier de chaque type dans le dossier",
                message_en=f"Several files of the same kind ({kind}): {listed}",
                hint_en="keep one file of each kind in the directory",
            )
    if not found.get("communes"):
        raise InvalidInputError(
            f"Aucun fichier des communes du COG dans {directory}",
            hint="téléchargez le fichier « communes » du Code officiel géographique de l'INSEE "
            "(v_commune_<année>.csv : colonnes TYPECOM, COM, REG, DEP, …, LIBELLE)",
            message_en=f"No COG communes file in {directory}",
            hint_en="download INSEE's COG « communes » file (v_commune_<year>.csv)",
        )

    def one(kind: str) -> Path | None:
        paths = found.get(kind)
        return paths[0] if paths else None

    return Sources(
        communes=found["communes"][0],
        changes=one("changes"),
        epci=one("epci"),
        postal=one("postal"),
        population=tuple(found.get("population", ())),
        sirens=one("sirens"),
        departements=one("departements"),
        regions=one("regions"),
        ignored=tuple(ignored),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    if path.suffix.lower() == ".xlsx":
        return _xlsx_rows(path)
    return _csv_rows(path)


def _key(name: str) -> str:
    """A header normalised: lower case, spaces and dashes as ``_`` (La Poste's files have
    both ``Code_commune_INSEE`` and ``code commune INSEE``)."""
    return _SPACES.sub("_", name.strip().strip('"').lower())


def _lower(rows: Iterable[Mapping[str, str]]) -> Iterator[dict[str, str]]:
    for row in rows:
        yield {_key(k): v for k, v in row.items()}


# -- vintages --------------------------------------------------------------------------------


def vintages_root(data_dir: Path) -> Path:
    """Where the data directory keeps its reference vintages."""
    return Path(data_dir) / "reference"


def vintages(data_dir: Path) -> dict[int, Path]:
    """The data directory's vintages, by year."""
    root = vintages_root(data_dir)
    if not root.is_dir():
        return {}
    return {
        int(path.name): path
        for path in root.iterdir()
        if path.name.isdigit() and (path / MANIFEST).is_file()
    }


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of one gzipped CSV file of a vintage (or of the shipped data)."""
    with (
        path.open("rb") as raw,
        gzip.GzipFile(fileobj=raw) as unzipped,
        io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as handle,
    ):
        return list(csv.DictReader(handle))


def shipped_path(name: str) -> Path:
    """A shipped reference file (``communes.csv.gz``…)."""
    from importlib import resources  # noqa: PLC0415

    return Path(str(resources.files("beffroi.reference").joinpath("data", name)))


def latest(
    data_dir: Path, *, at_most: int | None = None, skip_data_year: int | None = None
) -> tuple[int, str, Path | None]:
    """The newest vintage (optionally of year ``at_most`` or before, leaving out the data
    directory's ``skip_data_year``): year, ``data`` or ``shipped``, and its directory (None
    for the shipped data). A data-directory vintage wins a tie with the shipped one."""
    shipped = cog.VINTAGE["cog"]
    candidates: list[tuple[int, int, str, Path | None]] = [
        (y, 1, "data", p) for y, p in vintages(data_dir).items() if y != skip_data_year
    ]
    candidates.append((shipped, 0, "shipped", None))
    if at_most is not None:
        candidates = [c for c in candidates if c[0] <= at_most] or [(shipped, 0, "shipped", None)]
    year, _rank, source, path = max(candidates, key=lambda c: (c[0], c[1]))
    return year, source, path


def _vintage_file(directory: Path | None, name: str) -> Path:
    if directory is not None and (directory / name).is_file():
        return directory / name
    return shipped_path(name)


# -- building --------------------------------------------------------------------------------


def _year(sources: Sources, year: int | None, changes: list[list[str]]) -> int:
    if year is not None:
        return year
    match = _YEAR.findall(sources.communes.name)
    if match:
        return int(match[-1])
    if changes:
        return max(int(row[1][:4]) for row in changes)
    raise InvalidInputError(
        "Millésime inconnu : ni --year, ni année dans le nom du fichier des communes, ni "
        "fichier des mouvements",
        hint="précisez --year (ex. --year 2027)",
        message_en="Unknown vintage: no --year, no year in the communes file name, no "
        "mouvements file",
        hint_en="give --year (e.g. --year 2027)",
    )


def _changes(path: Path) -> list[list[str]]:
    rows = []
    for row in _lower(_csv_rows(path)):
        rows.append([row.get(name, "") for name in CHANGE_COLUMNS])
    rows.sort(key=lambda r: (r[1], int(r[0] or 0), r[3], r[6], r[2], r[5]))
    return rows


def _epcis(path: Path) -> tuple[list[list[str]], dict[str, str], dict[str, str]]:
    """EPCI rows (population left empty), commune → EPCI SIREN, commune → commune SIREN."""
    members: defaultdict[str, list[str]] = defaultdict(list)
    info: dict[str, dict[str, str]] = {}
    epci_of: dict[str, str] = {}
    siren_of: dict[str, str] = {}
    for row in _lower(_rows(path)):
        siren = row.get("siren", "").zfill(9)
        code = row.get("insee", "").zfill(5)
        nature = row.get("nature_juridique", "").upper()
        if not siren.strip("0") or not _CODE.match(code) or nature not in NATURES:
            continue
        info.setdefault(siren, row)
        members[siren].append(code)
        epci_of[code] = siren
        if row.get("siren_membre"):
            siren_of[code] = row["siren_membre"].zfill(9)
    rows: list[list[str]] = []
    for siren, row in sorted(info.items()):
        codes = members[siren]
        rows.append(
            [
                siren,
                row.get("raison_sociale", ""),
                row.get("nature_juridique", "").upper(),
                row.get("mode_financ", "").upper(),
                row.get("dept", "") or row.get("dep_siege", ""),
                str(len(codes)),
                "",
            ]
        )
    return rows, epci_of, siren_of


def _population(paths: Iterable[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in paths:
        for row in _lower(_csv_rows(path)):
            code = row.get("com", "")
            if not _CODE.match(code):  # Mayotte's file: département 976, commune 601 → 97601
                code = row.get("dep", "")[:2] + row.get("codcom", "").zfill(3)
            pmun = row.get("pmun", "").replace(" ", "")
            if _CODE.match(code) and pmun.isdigit():
                found[code] = pmun
    return found


def _postal(path: Path) -> dict[str, list[str]]:
    found: defaultdict[str, set[str]] = defaultdict(set)
    for row in _lower(_csv_rows(path)):
        code = row.get("code_commune_insee", "").zfill(5)
        digits = row.get("code_postal", "").replace(" ", "")
        if not digits.isdigit():
            continue
        postal = digits.lstrip("0").zfill(5)  # « 5700 » and « 042620 » are seen in real copies
        if _CODE.match(code) and len(postal) == 5:
            found[code].add(postal)
    return {code: sorted(codes) for code, codes in found.items()}


def _write(path: Path, columns: Iterable[str], rows: Iterable[Iterable[str]]) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(rows)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as zipped,
    ):
        zipped.write(text.getvalue().encode("utf-8"))


def update(  # noqa: PLR0912, PLR0915 - one pass over each kind of file, in order
    data_dir: Path,
    source_dir: Path,
    *,
    actor: Actor,
    year: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> UpdateSummary:
    """Build the vintage of ``source_dir``'s files into the data directory; see the module.

    Only a platform administrator (or the local operator) may: the reference data is every
    organisation's join key.
    """
    require(actor, Action.REFERENCE_UPDATE)
    steps = 7
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(name, done, steps)

    sources = find_sources(source_dir)
    step("fichiers reconnus")
    changes = _changes(sources.changes) if sources.changes else []
    vintage = _year(sources, year, changes)
    if not 1943 <= vintage <= dt.datetime.now(dt.UTC).year + 1:
        raise InvalidInputError(
            f"Millésime invalide : {vintage}",
            hint="une année de 1943 à l'an prochain",
            message_en=f"Invalid vintage: {vintage}",
            hint_en="a year from 1943 to next year",
        )
    # Compared with (and carried over from) the newest vintage up to this year, leaving out
    # the data directory's own copy of this year when it is being replaced.
    previous_year, previous_source, previous_dir = latest(
        data_dir, at_most=vintage, skip_data_year=vintage
    )
    before = {
        r["code_insee"]: r
        for r in read_table(_vintage_file(previous_dir, SHIPPED_FILES["communes"]))
    }
    step("millésime précédent lu")
    cog_rows = [
        r for r in _lower(_csv_rows(sources.communes)) if r.get("typecom") in {"COM", "ARM"}
    ]
    if not cog_rows:
        raise InvalidInputError(
            f"Aucune commune (TYPECOM COM ou ARM) dans {sources.communes}",
            hint="vérifiez que c'est bien le fichier des communes du COG",
        )
    population = _population(sources.population)
    epci_rows: list[list[str]] = []
    epci_of: dict[str, str] = {}
    siren_of: dict[str, str] = {}
    if sources.epci:
        epci_rows, epci_of, siren_of = _epcis(sources.epci)
    if sources.sirens:
        for row in _lower(_rows(sources.sirens)):
            code, siren = row.get("insee", "").zfill(5), row.get("siren", "").zfill(9)
            if _CODE.match(code) and siren.isdigit():
                siren_of.setdefault(code, siren)
    step("EPCI et populations lus")
    postal = _postal(sources.postal) if sources.postal else {}
    step("codes postaux lus")
    carried: set[str] = set()
    communes: list[list[str]] = []
    children: defaultdict[str, list[int]] = defaultdict(list)
    for row in cog_rows:
        code = row.get("com", "")
        old = before.get(code, {})
        typecom = row["typecom"]
        siren = siren_of.get(code) or ("" if sources.epci else old.get("siren", ""))
        epci = epci_of.get(code, "") if sources.epci else old.get("epci_siren", "")
        if typecom == "ARM":
            siren = epci = ""
            children[row.get("comparent", "")].append(len(communes))
        pop = population.get(code) if sources.population else old.get("population_municipale")
        codes = postal.get(code) if sources.postal else None
        if not sources.epci:
            carried.add("SIREN et EPCI des communes")
        if not sources.population:
            carried.add("populations")
        if not sources.postal:
            carried.add("codes postaux")
        communes.append(
            [
                code,
                row.get("libelle", ""),
                typecom,
                row.get("dep", ""),
                row.get("reg", ""),
                row.get("arr", ""),
                siren,
                epci,
                pop or "",
                " ".join(codes) if codes is not None else old.get("postal_codes", ""),
            ]
        )
    # Paris, Lyon, Marseille: population and postal codes are published per arrondissement.
    for parent, indexes in children.items():
        for commune in communes:
            if commune[0] == parent and commune[2] == "COM":
                arms = [communes[i] for i in indexes]
                if not commune[8] and all(a[8] for a in arms):
                    commune[8] = str(sum(int(a[8]) for a in arms))
                if not commune[9]:
                    commune[9] = " ".join(sorted({p for a in arms for p in a[9].split()}))
    communes.sort(key=lambda r: r[0])
    if sources.epci:  # an EPCI's population: its members' (known only once all are)
        members: defaultdict[str, list[str]] = defaultdict(list)
        for commune in communes:
            if commune[2] == "COM" and commune[7]:
                members[commune[7]].append(commune[8])
        for epci_row in epci_rows:
            pops = members.get(epci_row[0], [])
            epci_row[6] = str(sum(int(p) for p in pops)) if pops and all(pops) else ""
    step("communes assemblées")
    if not epci_rows:
        epci_rows = [
            [r[c] for c in EPCI_COLUMNS]
            for r in read_table(_vintage_file(previous_dir, SHIPPED_FILES["epci"]))
        ]
        carried.add("EPCI")
    departements = (
        [
            [r.get("dep", ""), r.get("reg", ""), r.get("libelle", ""), r.get("cheflieu", "")]
            for r in _lower(_csv_rows(sources.departements))
        ]
        if sources.departements
        else None
    )
    regions = (
        [
            [r.get("reg", ""), r.get("libelle", ""), r.get("cheflieu", "")]
            for r in _lower(_csv_rows(sources.regions))
        ]
        if sources.regions
        else None
    )
    previous_changes = read_table(_vintage_file(previous_dir, SHIPPED_FILES["commune_changes"]))
    old_keys = {tuple(r[c] for c in CHANGE_COLUMNS) for r in previous_changes}
    root = vintages_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / str(vintage)
    staging = root / f".{vintage}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _write(staging / SHIPPED_FILES["communes"], COMMUNE_COLUMNS, communes)
        _write(staging / SHIPPED_FILES["epci"], EPCI_COLUMNS, epci_rows)
        if departements is not None:
            _write(staging / SHIPPED_FILES["departements"], DEPARTEMENT_COLUMNS, departements)
        if regions is not None:
            _write(staging / SHIPPED_FILES["regions"], REGION_COLUMNS, regions)
        if changes:
            _write(staging / SHIPPED_FILES["commune_changes"], CHANGE_COLUMNS, changes)
        source_names = {
            kind: str(getattr(sources, kind))
            for kind in (
                "communes",
                "changes",
                "epci",
                "postal",
                "sirens",
                "departements",
                "regions",
            )
            if getattr(sources, kind) is not None
        }
        if sources.population:
            source_names["population"] = ", ".join(str(p) for p in sources.population)
        manifest = {
            "year": vintage,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sources": source_names,
            "communes": len(communes),
            "epci": len(epci_rows),
            "carried_over": sorted(carried),
            "previous": previous_year,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        step("fichiers écrits")
        replaced = target.exists()
        if replaced:
            retired = root / f".{vintage}.old"
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    after = {r[0]: r for r in communes}
    summary = UpdateSummary(
        year=vintage,
        previous=previous_year,
        previous_source=previous_source,
        target=target,
        communes=len(communes),
        epci=len(epci_rows),
        sources=source_names,
        carried_over=sorted(carried),
        added=[(c, after[c][1]) for c in sorted(after.keys() - before.keys())],
        removed=[(c, before[c]["name"]) for c in sorted(before.keys() - after.keys())],
        renamed=[
            (c, before[c]["name"], after[c][1])
            for c in sorted(after.keys() & before.keys())
            if before[c]["name"] != after[c][1]
        ],
        epci_moves=sum(
            1
            for c in after.keys() & before.keys()
            if after[c][2] == "COM" and before[c]["epci_siren"] != after[c][7]
        ),
        postal_changes=sum(
            1 for c in after.keys() & before.keys() if before[c]["postal_codes"] != after[c][9]
        ),
        new_changes=sum(1 for r in changes if tuple(r) not in old_keys),
        replaced=replaced,
    )
    step("résumé")
    return summary
