"""Exports of a records query (or a whole version) as files, streamed with bounded memory.

Formats: ``csv`` (UTF-8, ``,``), ``csv-fr`` (« Excel FR »: Windows-1252, ``;``, decimal
comma, dates as dd/mm/yyyy), ``json`` (an array of objects), ``ndjson`` (one object per
line), ``parquet`` and ``xlsx``. Rows are read from DuckDB in record batches and written
batch by batch: text formats go straight to the client; Parquet and XLSX (whose layout
needs the end of the data to write their index) go through a temporary file first.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Final
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from beffroi.errors import InvalidInputError
from beffroi.query.engine import Column, quote
from beffroi.query.records import NESTED, field_type

CHUNK: Final = 1024 * 1024
XLSX_MAX_ROWS: Final = 1_048_575  # Excel's limit, minus the header row


@dataclass(frozen=True, slots=True)
class Format:
    """An export format."""

    name: str
    extension: str
    media_type: str


FORMATS: Final = {
    "csv": Format("csv", "csv", "text/csv; charset=utf-8"),
    "csv-fr": Format("csv-fr", "csv", "text/csv; charset=windows-1252"),
    "json": Format("json", "json", "application/json"),
    "ndjson": Format("ndjson", "ndjson", "application/x-ndjson"),
    "parquet": Format("parquet", "parquet", "application/vnd.apache.parquet"),
    "geojson": Format("geojson", "geojson", "application/geo+json"),
    "xlsx": Format(
        "xlsx",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}


def export_format(name: str, *, excel_fr: bool = False) -> Format:
    """The format called ``name`` (``csv`` + ``excel_fr`` is ``csv-fr``), or a 422."""
    if name == "csv" and excel_fr:
        name = "csv-fr"
    found = FORMATS.get(name)
    if found is None:
        raise InvalidInputError(
            f"Format d'export inconnu : {name!r}",
            hint=f"formats : {', '.join(FORMATS)} (export.csv?excel_fr=1 pour Excel FR)",
        )
    return found


def projection(columns: Iterable[Column], fmt: Format) -> str:
    """The SELECT list that shapes each column for the format (all names are quoted)."""
    parts: list[str] = []
    for column in columns:
        name = quote(column.name)
        kind = field_type(column.type)
        if fmt.name in {"json", "ndjson", "parquet"}:
            parts.append(name)  # typed formats keep the column as is
        elif NESTED.search(column.type):
            parts.append(f"CAST(to_json({name}) AS VARCHAR) AS {name}")
        elif fmt.name == "csv-fr" and kind == "number":
            parts.append(f"replace(CAST({name} AS VARCHAR), '.', ',') AS {name}")
        elif fmt.name == "csv-fr" and kind == "date":
            parts.append(f"strftime({name}, '%d/%m/%Y') AS {name}")
        elif fmt.name == "csv-fr" and kind == "datetime":
            parts.append(f"strftime({name}, '%d/%m/%Y %H:%M:%S') AS {name}")
        elif fmt.name == "xlsx" and kind not in {"integer", "number", "boolean"}:
            parts.append(f"CAST({name} AS VARCHAR) AS {name}")
        else:
            parts.append(name)
    return ", ".join(parts) or "NULL AS empty"


def json_projection(sql: str) -> str:
    """Rows of ``sql`` as JSON object text, built by DuckDB (fast, ISO dates)."""
    return f"SELECT CAST(to_json(t) AS VARCHAR) AS j FROM ({sql}) t"  # noqa: S608 - built SQL


def write(fmt: Format, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """The file's bytes, chunk by chunk."""
    if fmt.name in {"csv", "csv-fr"}:
        return _csv(schema, batches, french=fmt.name == "csv-fr")
    if fmt.name == "json":
        return _json(batches, array=True)
    if fmt.name == "ndjson":
        return _json(batches, array=False)
    if fmt.name == "parquet":
        return _parquet(schema, batches)
    if fmt.name == "geojson":  # records of a geographic dataset (beffroi.query.geojson)
        from beffroi.query import geojson  # noqa: PLC0415 - only for this format

        return geojson.write(batches)
    return _xlsx(schema, batches)


def _csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch], *, french: bool) -> Iterator[bytes]:
    delimiter = ";" if french else ","
    header = io.StringIO()
    csv.writer(header, delimiter=delimiter, lineterminator="\n").writerow(schema.names)
    buffer = io.BytesIO(header.getvalue().encode("utf-8"))
    buffer.seek(0, io.SEEK_END)
    options = pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="needed")
    with pacsv.CSVWriter(buffer, schema, write_options=options) as writer:
        for batch in batches:
            writer.write_batch(batch)
            if buffer.tell() >= CHUNK:
                yield _encode(buffer, french=french)
    if buffer.tell():
        yield _encode(buffer, french=french)


def _encode(buffer: io.BytesIO, *, french: bool) -> bytes:
    data = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    if not french:
        return data
    # Rows are whole in each chunk, so no character is cut; what cp1252 lacks becomes "?".
    return data.decode("utf-8").encode("cp1252", errors="replace")


def _json(batches: Iterator[pa.RecordBatch], *, array: bool) -> Iterator[bytes]:
    first = True
    if array:
        yield b"["
    for batch in batches:
        lines = [str(line) for line in batch.column(0).to_pylist()]
        if not lines:
            continue
        separator = "," if array else "\n"
        lead = "" if first or not array else ","
        tail = "" if array else "\n"
        first = False
        yield (lead + separator.join(lines) + tail).encode("utf-8")
    if array:
        yield b"]"


def _spooled() -> IO[bytes]:
    return tempfile.TemporaryFile(prefix="beffroi-export-")


def _drain(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def _parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    handle = _spooled()
    try:
        with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)
    except BaseException:
        handle.close()
        raise
    return _drain(handle)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _cell(reference: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        return f'<c r="{reference}"><v>{value}</v></c>'
    text = _xml_text(str(value))
    return f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _xml_text(text: str) -> str:
    # XML 1.0 forbids most control characters: drop them (Excel would refuse the file).
    cleaned = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
    return escape(cleaned)[:32767]


_XML: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_OOXML: Final = "http://schemas.openxmlformats.org"
_PKG: Final = f"{_OOXML}/package/2006"
_DOC_RELS: Final = f"{_OOXML}/officeDocument/2006/relationships"
_SHEET_ML: Final = f"{_OOXML}/spreadsheetml/2006/main"
_MIME: Final = "application/vnd.openxmlformats"
_CONTENT_TYPES: Final = (
    f'{_XML}<Types xmlns="{_PKG}/content-types">'
    f'<Default Extension="rels" ContentType="{_MIME}-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    f'ContentType="{_MIME}-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    f'ContentType="{_MIME}-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS: Final = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK: Final = (
    f'{_XML}<workbook xmlns="{_SHEET_ML}" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name="donnees" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS: Final = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def _check_rows(number: int) -> None:
    if number > XLSX_MAX_ROWS + 1:
        raise InvalidInputError(
            "Trop de lignes pour un classeur Excel (1 048 575 au plus)",
            hint="exportez en CSV ou en Parquet, ou filtrez les lignes",
        )


def _xlsx(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """A minimal Office Open XML workbook (one sheet, inline strings), written row by row."""
    handle = _spooled()
    try:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
            archive.writestr("_rels/.rels", _ROOT_RELS)
            archive.writestr("xl/workbook.xml", _WORKBOOK)
            archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
            letters = [_column_letter(i) for i in range(len(schema.names))]
            with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(f'{_XML}<worksheet xmlns="{_SHEET_ML}"><sheetData>'.encode())
                header = "".join(
                    _cell(f"{c}1", n) for c, n in zip(letters, schema.names, strict=True)
                )
                sheet.write(f'<row r="1">{header}</row>'.encode())
                number = 1
                for batch in batches:
                    parts: list[str] = []
                    for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                        number += 1
                        _check_rows(number)
                        cells = "".join(
                            _cell(f"{c}{number}", v) for c, v in zip(letters, row, strict=True)
                        )
                        parts.append(f'<row r="{number}">{cells}</row>')
                    sheet.write("".join(parts).encode("utf-8"))
                sheet.write(b"</sheetData></worksheet>")
    except BaseException:
        handle.close()
        raise
    return _drain(handle)
