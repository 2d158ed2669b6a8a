"""Readers: any supported file in, a :class:`~beffroi.ingest.model.TableSource` out.

:func:`open_table` picks the reader from ``ReadOptions.format``, else from the file's content
(magic bytes, first characters), else from its extension — extensions lie ("export.xls" that
is really CSV or HTML is common), content does not. All readers share one shape: open sniffs
and validates what it can up front (bad input fails here, with an
:class:`~beffroi.errors.InvalidFileError`), then ``batches()`` streams Arrow record batches.
"""

from __future__ import annotations

from pathlib import Path

from beffroi.ingest.model import ReadOptions, TableSource
from beffroi.ingest.readers._common import check_size
from beffroi.ingest.sniff import binary_kind, detect_format, invalid, kind_en

FORMATS = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "tab": "csv",
    "fwf": "fwf",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "xlsb": "xlsb",
    "xls": "xls",
    "ods": "ods",
    "json": "json",
    "ndjson": "ndjson",
    "jsonl": "ndjson",
    "geojson": "geojson",
    "geojsonl": "ndjson",
    "geojsonseq": "ndjson",
    "parquet": "parquet",
    "pq": "parquet",
}
"""Accepted ``ReadOptions.format`` values (and extensions) → reader."""

HEAD_BYTES = 64 << 10


def open_table(path: Path, options: ReadOptions = ReadOptions()) -> TableSource:  # noqa: B008 - frozen
    """Open a tabular file for streaming; raises ``InvalidFileError`` for unreadable input."""
    path = Path(path)
    size = check_size(path, options)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    declared = _declared_format(path, options.format)
    fmt = declared or detect_format(path, head)
    note = None
    if declared is None:
        by_extension = FORMATS.get(path.suffix.lower().lstrip("."))
        if by_extension and by_extension not in {fmt, "csv"} and fmt != "ndjson":
            note = f"extension « {path.suffix} » trompeuse : contenu lu comme {fmt.upper()}"
        _refuse_non_tables(path, head, fmt)
    source = _open(path, options, size, fmt, head)
    if not source.column_names:
        raise invalid(
            "Le fichier ne contient aucune donnée : aucune colonne n'a été trouvée.",
            "Vérifiez que le bon fichier (ou la bonne feuille, avec --sheet) a été envoyé.",
            path,
            message_en="The file holds no data: no column was found.",
            hint_en="Check that the right file (or the right sheet, with --sheet) was sent.",
        )
    if note:
        source.dialect.notes.insert(0, note)
    return source


def _declared_format(path: Path, value: str | None) -> str | None:
    if value is None:
        return None
    fmt = FORMATS.get(value.lower().lstrip("."))
    if fmt is None:
        raise invalid(
            f"Format inconnu : « {value} ».",
            f"Formats acceptés : {', '.join(sorted(set(FORMATS)))}.",
            path,
            message_en=f"Unknown format: '{value}'.",
            hint_en=f"Accepted formats: {', '.join(sorted(set(FORMATS)))}.",
            value=value,
        )
    return fmt


def _refuse_non_tables(path: Path, head: bytes, fmt: str) -> None:
    kind = binary_kind(head)
    if kind is None and fmt == "zip":
        kind = "une archive ZIP (qui n'est pas un classeur)"
    if kind is None and fmt == "csv":
        start = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if start.startswith((b"<!doctype html", b"<html", b"<table")):
            kind = "une page HTML"
        elif start.startswith(b"<?xml"):
            kind = "un document XML"
    if kind is not None:
        raise invalid(
            f"Ce fichier n'est pas un tableau lisible : c'est {kind}.",
            "Ouvrez-le dans un tableur et enregistrez-le en CSV ou XLSX, ou décompressez "
            "l'archive et envoyez le fichier qu'elle contient.",
            path,
            message_en=f"This file is not a readable table: it is {kind_en(kind)}.",
            hint_en="Open it in a spreadsheet and save it as CSV or XLSX, or unpack the archive "
            "and send the file inside it.",
            value=head[:16].hex(" "),
        )


def _open(path: Path, options: ReadOptions, size: int, fmt: str, head: bytes) -> TableSource:
    # Readers are imported on demand: calamine, parquet and friends load only when needed.
    if fmt == "csv":
        from beffroi.ingest.readers.csv import open_csv  # noqa: PLC0415

        return open_csv(path, options, size)
    if fmt == "fwf":
        from beffroi.ingest.readers.fwf import open_fwf  # noqa: PLC0415

        return open_fwf(path, options, size, options.widths)
    if fmt in {"xlsx", "xlsb", "xls", "ods"}:
        from beffroi.ingest.readers.excel import open_excel  # noqa: PLC0415

        return open_excel(path, options, size, fmt)
    if fmt == "parquet":
        from beffroi.ingest.readers.parquet import open_parquet  # noqa: PLC0415

        return open_parquet(path, options, size)
    if fmt == "geojson" or (fmt == "ndjson" and _is_feature_sequence(head)):
        from beffroi.ingest.readers.geojson import open_geojson  # noqa: PLC0415

        return open_geojson(path, options, size, fmt)
    from beffroi.ingest.readers.json import open_json  # noqa: PLC0415

    return open_json(path, options, size, fmt)


def _is_feature_sequence(head: bytes) -> bool:
    first = head.lstrip(b"\x1e \t\r\n\xef\xbb\xbf").split(b"\n", 1)[0]
    return b'"Feature"' in first and b'"geometry"' in first


__all__ = ["FORMATS", "open_table"]
