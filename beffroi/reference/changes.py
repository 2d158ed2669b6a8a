"""INSEE commune changes (« mouvements de communes »): history of mergers, splits, renamings.

The shipped ``data/commune_changes.csv.gz`` is a column subset of INSEE's
``mouvements-communes.csv`` (COG 2026), built by :func:`build_changes_file`. Each row is one
(commune before → commune after) pair of one event; ``mod`` is INSEE's event code (10
renaming, 20 creation, 21 re-establishment, 30 removal, 31 simple merger, 32 commune
nouvelle, 33 association, 34 association → merger, 35 removal of a delegated commune, 41
code change with the département, 50 code change with the chef-lieu, 70-72 changes of
associated/delegated communes).

:func:`successions` turns the history into "code X, used until date D, is today's code Y"
rows: the join key of ``insee_current(code, year)``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from beffroi.errors import ConfigurationError

FILE: Final = "commune_changes.csv.gz"
COLUMNS: Final = (
    "mod",
    "date_eff",
    "typecom_av",
    "com_av",
    "libelle_av",
    "typecom_ap",
    "com_ap",
    "libelle_ap",
)
_SOURCE_COLUMNS: Final = {
    "mod": "MOD",
    "date_eff": "DATE_EFF",
    "typecom_av": "TYPECOM_AV",
    "com_av": "COM_AV",
    "libelle_av": "LIBELLE_AV",
    "typecom_ap": "TYPECOM_AP",
    "com_ap": "COM_AP",
    "libelle_ap": "LIBELLE_AP",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One (before → after) pair of an INSEE commune event."""

    mod: int
    date: dt.date
    typecom_before: str
    code_before: str
    name_before: str
    typecom_after: str
    code_after: str
    name_after: str


@dataclass(frozen=True, slots=True)
class Succession:
    """``code`` stopped being a commune code on ``until``; its territory is ``current`` today.

    ``current`` is None when the commune was split between several communes (no single
    successor).
    """

    code: str
    until: dt.date
    current: str | None


def build_changes_file(source: Path, target: Path) -> int:
    """Write the shipped subset of INSEE's ``mouvements-communes.csv``; returns the rows.

    Rows are sorted (date, event, codes) and gzip's timestamp is zero, so identical sources
    give byte-identical files.
    """
    with source.open(encoding="utf-8", newline="") as handle:
        rows = [
            [row[_SOURCE_COLUMNS[name]].strip() for name in COLUMNS]
            for row in csv.DictReader(handle)
        ]
    rows.sort(key=lambda r: (r[1], int(r[0]), r[3], r[6], r[2], r[5]))
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    with (
        target.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as zipped,
    ):
        zipped.write(text.getvalue().encode("utf-8"))
    return len(rows)


def changes_path() -> Path:
    """The shipped file (a real file: the query engine reads it with DuckDB)."""
    resource = resources.files("beffroi.reference").joinpath("data", FILE)
    path = Path(str(resource))
    if not path.is_file():
        raise ConfigurationError(
            f"Fichier de référence absent : {FILE}",
            hint="réinstallez Beffroi (le paquet doit contenir beffroi/reference/data)",
        )
    return path


def read_changes(path: Path) -> tuple[Change, ...]:
    """The changes of a file in the shipped format (a vintage of the data directory)."""
    return tuple(_read(path))


def _read(path: Path | None = None) -> Iterator[Change]:
    with (
        (path or changes_path()).open("rb") as raw,
        gzip.GzipFile(fileobj=raw) as unzipped,
        io.TextIOWrapper(unzipped, encoding="utf-8", newline="") as text,
    ):
        for row in csv.DictReader(text):
            yield Change(
                mod=int(row["mod"]),
                date=dt.date.fromisoformat(row["date_eff"]),
                typecom_before=row["typecom_av"],
                code_before=row["com_av"],
                name_before=row["libelle_av"],
                typecom_after=row["typecom_ap"],
                code_after=row["com_ap"],
                name_after=row["libelle_ap"],
            )


@cache
def changes() -> tuple[Change, ...]:
    """Every shipped change, oldest first."""
    return tuple(_read())


@cache
def successions() -> tuple[Succession, ...]:
    """For each code that stopped being a commune code: until when, and today's code
    (:func:`successions_of` the shipped changes)."""
    return successions_of(changes())


def successions_of(moves: Iterable[Change]) -> tuple[Succession, ...]:
    """For each code that stopped being a commune code: until when, and today's code.

    At each event date, a commune code that is still a commune (``COM``) afterwards keeps
    its code (renaming, a commune nouvelle taking the code of one of its members, a
    re-establishment carved out of it); otherwise its one ``COM`` successor takes over
    (merger, code change), followed through later events up to today. A code reused after
    being retired is handled because each row applies only before its own date.
    """
    after: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    for change in moves:
        if change.typecom_before == "COM" and change.typecom_after == "COM":
            after[(change.code_before, change.date)].add(change.code_after)
    steps: dict[tuple[str, dt.date], str | None] = {}
    for (code, date), targets in after.items():
        if code in targets:
            continue  # still a commune with the same code
        steps[(code, date)] = next(iter(targets)) if len(targets) == 1 else None
    by_code: dict[str, list[tuple[dt.date, str | None]]] = defaultdict(list)
    for (code, date), target in steps.items():
        by_code[code].append((date, target))
    for events in by_code.values():
        events.sort(key=lambda e: e[0])

    def follow(code: str, since: dt.date, depth: int = 0) -> str | None:
        # The first retirement of ``code`` from ``since`` on (the date it became this code:
        # INSEE chains same-day events, e.g. a code change then a merger), then recursively;
        # 50 steps is far more than any real chain.
        for date, target in by_code.get(code, ()):
            if date >= since:
                if target is None or depth > 50:
                    return None
                return follow(target, date, depth + 1)
        return code

    found = [
        Succession(code=code, until=date, current=None if target is None else follow(target, date))
        for code, events in by_code.items()
        for date, target in events
    ]
    found.sort(key=lambda s: (s.code, s.until))
    return tuple(found)


__all__ = [
    "Change",
    "Succession",
    "build_changes_file",
    "changes",
    "changes_path",
    "read_changes",
    "successions",
    "successions_of",
]
