"""What every reader shares: column naming, size checks, batch helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.sniff import invalid

GEOMETRY = "geometry"


def clean_name(value: object) -> str:
    """A header cell as a column name: text, whitespace runs (newlines, NBSP) made one space."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else cell_text(value) or ""
    return " ".join(text.replace("\ufeff", "").split())


def unique_names(raw: Sequence[object], reserved: Iterable[str] = ()) -> list[str]:
    """Stripped, never empty (``colonne_3``), unique (``nom``, ``nom_2``, ``nom_3``) names.

    Uniqueness ignores case (``Nom`` and ``nom`` clash): DuckDB and Delta Lake compare column
    names case-insensitively. ``reserved`` names are taken already (``geometry`` for GeoJSON).
    """
    cleaned = [clean_name(value) or f"colonne_{index}" for index, value in enumerate(raw, 1)]
    taken = {name.casefold() for name in reserved}
    # Names as given keep priority over generated suffixes: "a", "a", "a_2" → a, a_3, a_2.
    given = {name.casefold() for name in cleaned}
    names: list[str] = []
    for name in cleaned:
        key = name.casefold()
        if key not in taken:
            taken.add(key)
            names.append(name)
            continue
        suffix = 2
        while f"{key}_{suffix}" in taken or f"{key}_{suffix}" in given:
            suffix += 1
        taken.add(f"{key}_{suffix}")
        names.append(f"{name}_{suffix}")
    return names


def naming_notes(raw: Sequence[object], names: Sequence[str]) -> list[str]:
    """Notes telling which column names were made up or changed."""
    blank = [name for value, name in zip(raw, names, strict=True) if not clean_name(value)]
    renamed = [
        f"« {clean_name(value)} » → « {name} »"
        for value, name in zip(raw, names, strict=True)
        if clean_name(value) and clean_name(value) != name
    ]
    notes = []
    if blank:
        notes.append(f"en-têtes vides nommés {', '.join(blank[:10])}")
    if renamed:
        notes.append(f"noms de colonnes en double renommés : {', '.join(renamed[:10])}")
    return notes


def check_size(path: Path, options: ReadOptions) -> int:
    """The file's size; refuse missing, empty and oversized files."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise invalid(
            f"Fichier introuvable : {path.name}.",
            "Vérifiez le chemin du fichier.",
            path,
            message_en=f"File not found: {path.name}.",
            hint_en="Check the file's path.",
        ) from None
    if not path.is_file():
        raise invalid(
            f"« {path.name} » n'est pas un fichier.",
            "Indiquez un fichier, pas un dossier.",
            path,
            message_en=f"'{path.name}' is not a file.",
            hint_en="Give a file, not a folder.",
        )
    if size == 0:
        raise invalid(
            "Le fichier est vide (0 octet).",
            "Vérifiez que le bon fichier a été envoyé et que son export s'est terminé.",
            path,
            message_en="The file is empty (0 bytes).",
            hint_en="Check that the right file was sent and that its export finished.",
        )
    if options.max_bytes is not None and size > options.max_bytes:
        raise invalid(
            f"Fichier trop volumineux : {human_bytes(size)} pour une limite de "
            f"{human_bytes(options.max_bytes)}.",
            "Découpez le fichier, ou demandez à l'administrateur de relever la limite.",
            path,
            message_en=f"File too large: {human_bytes_en(size)} for a limit of "
            f"{human_bytes_en(options.max_bytes)}.",
            hint_en="Split the file, or ask the administrator to raise the limit.",
            value=size,
            limit=options.max_bytes,
        )
    return size


def human_bytes(size: int) -> str:
    """``1,5 Mo`` style sizes, for messages."""
    value = float(size)
    for unit in ("octets", "ko", "Mo", "Go"):
        if value < 1024 or unit == "Go":
            text = f"{value:.1f}".replace(".", ",") if unit != "octets" else f"{int(value)}"
            return f"{text} {unit}"
        value /= 1024
    return f"{size} octets"  # pragma: no cover - the loop always returns


def human_bytes_en(size: int) -> str:
    """``1.5 MB`` style sizes, for English messages (same units as :func:`human_bytes`)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            text = f"{value:.1f}" if unit != "bytes" else f"{int(value)}"
            return f"{text} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def split_batch(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    """Zero-copy slices of at most ``rows`` rows."""
    if batch.num_rows <= rows:
        if batch.num_rows:
            yield batch
        return
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def all_null_mask(batch: pa.RecordBatch) -> pa.BooleanArray | None:
    """Rows where every cell is null (``None`` when there is none)."""
    import pyarrow.compute as pc  # noqa: PLC0415 - spare validation's start-up the import

    if batch.num_columns == 0 or batch.num_rows == 0:
        return None
    mask = pc.is_null(batch.column(0))
    if not pc.any(mask).as_py():
        return None
    for column in batch.columns[1:]:
        mask = pc.and_(mask, pc.is_null(column))
    return mask if pc.any(mask).as_py() else None


def string_batch(columns: Sequence[Sequence[str | None]], names: Sequence[str]) -> pa.RecordBatch:
    """A record batch of ``pa.string()`` columns."""
    arrays = [pa.array(values, type=pa.string()) for values in columns]
    return pa.RecordBatch.from_arrays(arrays, schema=string_schema(names))


def string_schema(names: Sequence[str]) -> pa.Schema:
    """A schema of nullable ``pa.string()`` columns."""
    return pa.schema([pa.field(name, pa.string()) for name in names])


def cell_text(value: object) -> str | None:
    """A scalar as the text a user would type: ``3`` not ``3.0``, ``true``, ISO dates."""
    if value is None or value == "":
        return None
    text: str | None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = float_text(value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    elif callable(getattr(value, "isoformat", None)):
        text = str(value.isoformat())  # type: ignore[attr-defined] # date, datetime, time
    else:
        text = str(value)  # int, timedelta…
    return text


def float_text(value: float) -> str | None:
    """``12`` for 12.0, ``0.1`` for 0.1 (15 significant digits, as spreadsheets show them)."""
    if math.isnan(value) or math.isinf(value):
        return None
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = f"{value:.15g}"
    return repr(value) if "e" in text else text


class BaseSource:
    """Fields and progress shared by every reader's table source."""

    def __init__(self, path: Path, dialect: Dialect, column_names: list[str], size: int) -> None:
        self.path = path
        self.dialect = dialect
        self.column_names = column_names
        self.bytes_total = size
        self._bytes_read = 0

    def bytes_read(self) -> int:
        """Progress: bytes of the input consumed so far."""
        return self._bytes_read
