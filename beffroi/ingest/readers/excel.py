"""Spreadsheets (XLSX, XLSM, XLSB, XLS, ODS) through python-calamine, as text columns.

Cells are handed over as the text a user sees: ``12`` rather than ``12.0`` for integral
numbers, ISO dates (``2024-03-12``, ``2024-03-12T10:30:00``), ``true``/``false``; text cells stay
text, so a code typed as ``01053`` keeps its zero. Empty cells are null.

Sheet: the named one (``ReadOptions.sheet``: name, or 1-based number), else the first visible
worksheet holding a table (Numbers' "export summary" sheet and sheets with a single cell are
passed over, with a note).

Header: title rows and blank rows above the table are skipped (the header is the first row
filling at least half of the table's width and reading as labels). Two-row headers are merged
into one name per column ("Population 2020") when the workbook says so — merged cells starting
on the header row that span several columns or rows — or, for ODS (no merge information),
when the header row has gaps right after filled cells and the row below fills them with
labels. Columns without a name and without any value are dropped.

Columns mixing cells stored as numbers or dates with cells typed as text get one spelling
(see :func:`plan_column`, each change noted in ``dialect.notes``): text numbers beside numbers
(``1 234,50``, ``1 000 €``, ``12,5 %`` → ``1234.50``, ``1000``, ``0.125`` when the column's
numbers are fractions), text dates and Excel day numbers beside dates (``03/02/2024``, 45325 →
``2024-02-03``, day first), and codes typed as numbers in code columns zero-padded (INSEE
1053 → ``01053``; postal codes, départements, or the width of the codes written with zeros).
A column holding any other text is left as it is; typing (:mod:`beffroi.ingest.infer`) then
reads every column from this text.

ZIP containers (XLSX, ODS) are checked before opening: an uncompressed total above
:data:`ZIP_MAX_UNCOMPRESSED`, or a compression ratio above :data:`ZIP_MAX_RATIO`, is a zip bomb.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pyarrow as pa
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, PasswordError

from beffroi.errors import InvalidFileError
from beffroi.ingest.infer import NULL_TOKENS
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.names import name_tokens
from beffroi.ingest.readers._common import (
    BaseSource,
    cell_text,
    clean_name,
    human_bytes,
    human_bytes_en,
    naming_notes,
    string_batch,
    unique_names,
)
from beffroi.ingest.sniff import invalid, looks_like_header

ZIP_MAX_UNCOMPRESSED = 2 << 30
"""Largest uncompressed content accepted in an XLSX/ODS container (2 GiB)."""

ZIP_MAX_RATIO = 200
"""Largest compression ratio accepted for an XLSX/ODS container above :data:`ZIP_RATIO_FLOOR`."""

ZIP_RATIO_FLOOR = 32 << 20
"""Below this uncompressed total the ratio is not checked (small files compress a lot)."""

PROBE_MEMORY = 2 << 30
"""Address-space limit of the child process that first parses a legacy XLS workbook."""

PROBE_SECONDS = 120

PROBE_MAX_BYTES = 256 << 20
"""XLS files (at most 65,536 rows by format) larger than this are refused outright."""

HEADER_SCAN_ROWS = 200
"""Rows examined to find the header."""

# Numbers' "export summary" sheet, with a typographic or a straight apostrophe.
_SUMMARY_SHEETS = {"résumé de l\u2019exportation", "résumé de l'exportation", "export summary"}
_ZIP_FORMATS = {"xlsx", "xlsm", "xlsb", "ods"}


def check_zip(path: Path, fmt: str) -> None:
    """Refuse corrupt ZIP containers and zip bombs before any decompression."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except Exception as error:  # noqa: BLE001 - zipfile raises many kinds on damaged archives
        raise _corrupt(path, fmt, str(error)) from None
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    ratio = total / max(1, packed)
    if total > ZIP_MAX_UNCOMPRESSED or (total > ZIP_RATIO_FLOOR and ratio > ZIP_MAX_RATIO):
        raise invalid(
            f"Classeur refusé : une fois décompressé il occuperait {human_bytes(total)} "
            f"(taux de compression {ratio:.0f}:1) — il ressemble à une « bombe zip ».",
            f"Envoyez un classeur de moins de {human_bytes(ZIP_MAX_UNCOMPRESSED)} une fois "
            "décompressé, ou exportez les données en CSV.",
            path,
            message_en=f"Workbook refused: once unpacked it would take {human_bytes_en(total)} "
            f"(compression ratio {ratio:.0f}:1) — it looks like a 'zip bomb'.",
            hint_en=f"Send a workbook under {human_bytes_en(ZIP_MAX_UNCOMPRESSED)} once "
            "unpacked, or export the data as CSV.",
            value=total,
            ratio=round(ratio, 1),
            limit=ZIP_MAX_UNCOMPRESSED,
        )


def _corrupt(path: Path, fmt: str, reason: str, reason_en: str | None = None) -> Exception:
    return invalid(
        f"Classeur {fmt.upper()} illisible : il est tronqué ou endommagé ({reason}).",
        "Ouvrez-le dans Excel ou LibreOffice et enregistrez-le à nouveau, ou exportez-le en CSV.",
        path,
        message_en=f"Unreadable {fmt.upper()} workbook: it is truncated or damaged "
        f"({reason_en or reason}).",
        hint_en="Open it in Excel or LibreOffice and save it again, or export it as CSV.",
        reason=reason,
    )


def probe_legacy(path: Path, fmt: str) -> None:
    """Parse an OLE2 (XLS) workbook once in a child process with bounded memory.

    Calamine's OLE2 reader trusts sizes written in the file: a damaged XLS can make it
    allocate gigabytes and abort the whole process (a Rust allocation failure cannot be
    caught). The child takes that risk; the worker only opens files the child survived.
    """
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({PROBE_MEMORY}, {PROBE_MEMORY}))\n"
        "from python_calamine import CalamineWorkbook\n"
        "book = CalamineWorkbook.from_path(sys.argv[1])\n"
        "for name in book.sheet_names:\n"
        "    for _ in book.get_sheet_by_name(name).iter_rows(): pass\n"
    )
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, fixed code, the path as argv
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _corrupt(
            path,
            fmt,
            f"analyse interrompue après {PROBE_SECONDS} s",
            f"parsing stopped after {PROBE_SECONDS} s",
        ) from None
    if done.returncode < 0 or b"memory allocation" in done.stderr:
        raise _corrupt(
            path, fmt, "structure interne incohérente", "inconsistent internal structure"
        )
    # A Python exception in the child (password, format error) recurs here, as an exception.


def open_excel(path: Path, options: ReadOptions, size: int, fmt: str) -> ExcelSource:
    """Open a workbook and locate its table; rows are converted lazily by ``batches()``."""
    if fmt in _ZIP_FORMATS:
        check_zip(path, fmt)
    elif fmt == "xls":
        if size > PROBE_MAX_BYTES:
            raise invalid(
                f"Classeur XLS trop volumineux ({human_bytes(size)}) pour le format Excel 97-2003.",
                "Enregistrez-le au format XLSX ou exportez les données en CSV.",
                path,
                message_en=f"XLS workbook too large ({human_bytes_en(size)}) for the Excel "
                "97-2003 format.",
                hint_en="Save it as XLSX or export the data as CSV.",
                value=size,
                limit=PROBE_MAX_BYTES,
            )
        probe_legacy(path, fmt)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet, notes = _choose_sheet(path, workbook, options.sheet)
        sample = _text_rows(sheet, HEADER_SCAN_ROWS)
        return ExcelSource(path, size, fmt, sheet, sample, notes, options)
    except PasswordError:
        raise invalid(
            "Le classeur est protégé par un mot de passe.",
            "Retirez la protection (Fichier > Informations > Protéger le classeur) ou exportez "
            "les données en CSV.",
            path,
            message_en="The workbook is password-protected.",
            hint_en="Remove the protection (File > Info > Protect Workbook) or export the data "
            "as CSV.",
        ) from None
    except BaseException as error:  # noqa: BLE001 - Rust panics are BaseException; others re-raised
        raise _translated(error, path, fmt) from None


def _translated(error: BaseException, path: Path, fmt: str) -> BaseException:
    """Calamine's errors — and its Rust panics on mangled files, which pyo3 raises as a
    ``BaseException`` — as an :class:`InvalidFileError`; anything else unchanged."""
    if isinstance(error, InvalidFileError):
        return error
    known = (CalamineError, OSError, ValueError)  # calamine raises OSError on bad checksums
    if isinstance(error, known) or type(error).__name__ == "PanicException":
        return _corrupt(path, fmt, str(error))
    return error


def _choose_sheet(
    path: Path, workbook: CalamineWorkbook, wanted: str | None
) -> tuple[CalamineSheet, list[str]]:
    names = list(workbook.sheet_names)
    if wanted is not None:
        match = _match_sheet(names, wanted)
        if match is None:
            raise invalid(
                f"Feuille « {wanted} » introuvable dans le classeur.",
                f"Feuilles disponibles : {', '.join(names)} (--sheet NOM ou --sheet NUMÉRO).",
                path,
                message_en=f"Sheet '{wanted}' not found in the workbook.",
                hint_en=f"Available sheets: {', '.join(names)} (--sheet NAME or --sheet NUMBER).",
                value=wanted,
                sheets=names,
            )
        return workbook.get_sheet_by_name(match), []
    visible = [
        meta.name
        for meta in workbook.sheets_metadata
        if str(meta.typ).endswith("WorkSheet") and str(meta.visible).endswith(".Visible")
    ] or names
    if not visible:
        raise invalid(
            "Le classeur ne contient aucune feuille.",
            "Vérifiez le fichier.",
            path,
            message_en="The workbook has no sheet.",
            hint_en="Check the file.",
        )
    skipped: list[str] = []
    for name in visible:
        sheet = workbook.get_sheet_by_name(name)
        if name.casefold() not in _SUMMARY_SHEETS and _holds_table(sheet):
            notes = []
            if skipped:
                notes.append(f"feuille(s) sans tableau ignorée(s) : {', '.join(skipped)}")
            if len(names) > 1:
                notes.append(
                    f"feuille « {name} » lue ; autres feuilles : "
                    f"{', '.join(n for n in names if n != name)} (--sheet pour en choisir une)"
                )
            return sheet, notes
        skipped.append(name)
    for name in visible:  # no sheet looks like a table: take the first one with a value
        sheet = workbook.get_sheet_by_name(name)
        if any(cell != "" and cell is not None for row in sheet.iter_rows() for cell in row):
            return sheet, []
    raise invalid(
        "Le classeur ne contient aucune donnée (feuilles vides).",
        "Vérifiez que le bon fichier a été envoyé.",
        path,
        message_en="The workbook holds no data (empty sheets).",
        hint_en="Check that the right file was sent.",
        sheets=names,
    )


def _match_sheet(names: list[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    folded = {" ".join(name.split()).casefold(): name for name in names}
    key = " ".join(wanted.split()).casefold()
    if key in folded:
        return folded[key]
    if wanted.strip().isdigit() and 1 <= int(wanted) <= len(names):
        return names[int(wanted) - 1]
    return None


def _holds_table(sheet: CalamineSheet) -> bool:
    """At least one row with two values, or two rows with a value."""
    filled_rows = 0
    for index, row in enumerate(sheet.iter_rows()):
        filled = sum(1 for cell in row if cell != "" and cell is not None)
        if filled >= 2:
            return True
        filled_rows += filled > 0
        if filled_rows >= 2:
            return True
        if index > HEADER_SCAN_ROWS:
            break
    return False


def _text_rows(sheet: CalamineSheet, limit: int | None = None) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for row in sheet.iter_rows():
        rows.append([cell_text(cell) for cell in row])
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _filled(row: Sequence[str | None]) -> int:
    return sum(1 for cell in row if cell is not None and cell.strip())


def _last_filled(row: Sequence[str | None]) -> int:
    for index in range(len(row) - 1, -1, -1):
        cell = row[index]
        if cell is not None and cell.strip():
            return index + 1
    return 0


class ExcelSource(BaseSource):
    """One sheet of a workbook, read as ``pa.string()`` columns."""

    def __init__(
        self,
        path: Path,
        size: int,
        fmt: str,
        sheet: CalamineSheet,
        sample: list[list[str | None]],
        notes: list[str],
        options: ReadOptions,
    ) -> None:
        self._sheet = sheet
        self._options = options
        merged = _merged_ranges(sheet)
        header_index, header_end, raw, layout_notes = _find_header(
            sample, merged, options.header_row
        )
        self._header_index = header_index  # 0-based row of the (first) header row
        self._data_start = header_end + 1 if header_index is not None else header_end
        self._raw_header = raw
        self._single_header_row = header_index is not None and header_end == header_index
        width = len(raw)
        stats = self._scan_columns(width)
        self._columns = [i for i in range(width) if raw[i] or stats[i].used]
        dropped = width - len(self._columns)
        kept_raw = [raw[i] for i in self._columns]
        names = unique_names(kept_raw)
        notes = notes + layout_notes + naming_notes(kept_raw, names)
        if dropped:
            notes.append(f"{dropped} colonne(s) sans nom ni valeur ignorée(s)")
        self._converters: list[Callable[[Any], str | None]] = []
        for index, name in zip(self._columns, names, strict=True):
            converter, note = plan_column(name, stats[index])
            self._converters.append(converter or cell_text)
            if note:
                notes.append(note)
        self._notes = notes
        dialect = Dialect(
            format=fmt,
            sheet=sheet.name,
            header_row=header_index + 1 if header_index is not None else None,
            notes=list(notes),
        )
        super().__init__(path, dialect, names, size)

    def _rows(self) -> Iterator[list[Any]]:
        try:
            yield from self._sheet.iter_rows()
        except (GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - Rust panics are BaseException; re-raised
            raise _translated(error, self.path, self.dialect.format) from None

    def _scan_columns(self, width: int) -> list[ColumnCells]:
        """Which columns hold values, and of which kinds: one pass over the data rows for
        the native cells, a second one for the text cells of the columns that mix both."""
        stats = [ColumnCells(clean_name(self._raw_header[i])) for i in range(width)]
        for chunk in self._chunks():
            _scan_native(chunk, stats)
        mixed = [i for i, cells in enumerate(stats) if cells.has_text and cells.has_native]
        if mixed:
            for chunk in self._chunks():
                _scan_texts(chunk, stats, mixed)
        return stats

    def _chunks(self) -> Iterator[list[list[Any]]]:
        chunk: list[list[Any]] = []
        for index, row in enumerate(self._rows()):
            if index < self._data_start:
                continue
            chunk.append(row)
            if len(chunk) >= _SCAN_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, ``batch_rows`` at a time."""
        columns = self._columns
        converters = self._converters
        rows: list[list[str | None]] = []
        empty = repeated = total = 0
        count = 0
        for index, row in enumerate(self._rows()):
            if index < self._data_start:
                continue
            count += 1
            texts = [
                convert(row[i]) if i < len(row) else None
                for i, convert in zip(columns, converters, strict=True)
            ]
            if all(cell is None or not cell.strip() for cell in texts):
                empty += 1
                continue
            if self._is_header_again(row):
                repeated += 1
                continue
            rows.append(texts)
            if len(rows) >= self._options.batch_rows:
                total += len(rows)
                yield string_batch(_columns_of(rows, len(columns)), self.column_names)
                rows = []
                self._bytes_read = int(self.bytes_total * min(1.0, index / self._height()))
        if rows:
            yield string_batch(_columns_of(rows, len(columns)), self.column_names)
        self._bytes_read = self.bytes_total
        notes = list(self._notes)
        if repeated:
            notes.append(f"{repeated} ligne(s) d'en-tête répétée(s) supprimée(s)")
        if empty:
            notes.append(f"{empty} ligne(s) vide(s) ignorée(s)")
        self.dialect.notes = notes

    def _is_header_again(self, row: list[Any]) -> bool:
        header = self._raw_header
        if self._single_header_row is False or not header or not header[0]:
            return False
        if clean_name(row[0] if row else None) != header[0]:
            return False
        return [clean_name(row[i] if i < len(row) else None) for i in range(len(header))] == header

    def _height(self) -> int:
        return max(1, int(getattr(self._sheet, "total_height", 0) or self._sheet.height))


def _columns_of(rows: list[list[str | None]], width: int) -> list[list[str | None]]:
    return [[row[i] for row in rows] for i in range(width)]


def _merged_ranges(sheet: CalamineSheet) -> list[tuple[int, int, int, int]]:
    """Merged cells as (first row, first column, last row, last column), 0-based."""
    ranges: Any = getattr(sheet, "merged_cell_ranges", None)
    if not ranges:
        return []
    return [(start[0], start[1], end[0], end[1]) for start, end in ranges]


def _find_header(
    rows: list[list[str | None]],
    merged: list[tuple[int, int, int, int]],
    forced: int | None,
) -> tuple[int | None, int, list[str], list[str]]:
    """(header row, last header row, names, notes); rows are 0-based."""
    notes: list[str] = []
    widths = [_last_filled(row) for row in rows if _filled(row)]
    if not widths:
        return None, 0, [], ["feuille vide"]
    width = max(Counter(widths).most_common(1)[0][0], 1)
    span = max(widths)
    if forced is not None and forced > 0:
        index: int | None = forced - 1
        if index is not None and index >= len(rows):
            index = len(rows) - 1
    else:
        need = width if width <= 2 else max(2, (width + 1) // 2)
        candidates = [
            i
            for i, row in enumerate(rows)
            if _filled(row) >= need and not _is_title(i, merged, width)
        ]
        first = (
            candidates[0] if candidates else next(i for i, row in enumerate(rows) if _filled(row))
        )
        below = [_pad(row, span) for row in rows[first + 1 : first + 101] if _filled(row)]
        if forced == 0 or not looks_like_header(_pad(rows[first], span), below):
            if forced != 0:
                notes.append("aucune ligne d'en-tête détectée : colonnes nommées colonne_N")
            if first:
                notes.append(f"{first} ligne(s) ignorée(s) avant les données")
            return None, first, [""] * span, notes
        index = first
    assert index is not None  # noqa: S101 - narrowed above
    if index:
        notes.append(f"{index} ligne(s) ignorée(s) avant l'en-tête")
    last = _header_end(rows, index, merged, span)
    header_rows = [_pad(rows[i], span) for i in range(index, last + 1)]
    if last > index:
        filled = _fill_merged(header_rows, index, merged, span)
        names = [_join([row[c] for row in filled]) for c in range(span)]
        notes.append(f"en-tête sur {last - index + 1} lignes : noms combinés ligne à ligne")
    else:
        names = [clean_name(cell) for cell in header_rows[0]]
    return index, last, names, notes


def _pad(row: list[str | None], width: int) -> list[str]:
    return [(row[i] or "") if i < len(row) else "" for i in range(width)]


def _is_title(row: int, merged: list[tuple[int, int, int, int]], width: int) -> bool:
    """A row whose text sits in one cell merged across (most of) the table: a title."""
    return any(
        r1 == row and (c2 - c1 + 1) >= max(2, 0.8 * width) and r2 == r1 for r1, c1, r2, c2 in merged
    )


def _header_end(
    rows: list[list[str | None]],
    index: int,
    merged: list[tuple[int, int, int, int]],
    width: int,
) -> int:
    """Last row of the header (the header row itself unless it is a two-row header).

    With merge information (XLSX, XLS): merged cells starting on the header row extend it
    down to their last row, and a cell merged across some columns (not a full-width title)
    means the next row holds the sub-labels. Without (ODS): the next row holds sub-labels when
    it fills exactly the header's gaps and leaves some of its labelled columns empty.
    """
    if index + 1 >= len(rows):
        return index
    if merged:
        last = index
        changed = True
        while changed:
            changed = False
            for r1, _, r2, _ in merged:
                if index <= r1 <= last and r2 > last:
                    last, changed = r2, True
        if last > index:
            return min(last, len(rows) - 1)
        below = _pad(rows[index + 1], width)
        for r1, c1, r2, c2 in merged:
            spans = r1 == r2 == index and c2 > c1 and (c2 - c1 + 1) < max(2, 0.8 * width)
            if spans and all(below[c].strip() for c in range(c1, min(c2, width - 1) + 1)):
                return index + 1 if _sub_labels(below) else index
        return index
    return index + 1 if _complements(rows, index, width) else index


_YEAR = re.compile(r"(19|20)\d\d")


def _sub_labels(row: list[str]) -> bool:
    """Cells that can be sub-labels: text, or years ("Population" over "2019", "2020")."""
    kinds = [_kind_of(cell) for cell in row if cell.strip()]
    return bool(kinds) and all(kind == "label" for kind in kinds)


def _kind_of(cell: str) -> str:
    text = cell.strip()
    if _YEAR.fullmatch(text) or not re.fullmatch(r"[-+]?[\d\s.,:/%]+", text):
        return "label"
    return "value"


def _complements(rows: list[list[str | None]], index: int, width: int) -> bool:
    header, below = _pad(rows[index], width), _pad(rows[index + 1], width)
    used = _last_filled(header)
    gaps = [c for c in range(used) if not header[c].strip()]
    if not gaps or not all(below[c].strip() for c in gaps):
        return False
    leaves_empty = any(header[c].strip() and not below[c].strip() for c in range(used))
    return leaves_empty and _sub_labels(below)


def _fill_merged(
    header_rows: list[list[str]],
    index: int,
    merged: list[tuple[int, int, int, int]],
    width: int,
) -> list[list[str]]:
    filled = [list(row) for row in header_rows]
    last = index + len(header_rows) - 1
    if merged:
        for r1, c1, r2, c2 in merged:
            if r1 > last or r2 < index:
                continue
            value = filled[r1 - index][c1] if r1 >= index else ""
            for r in range(max(r1, index), min(r2, last) + 1):
                for c in range(c1, min(c2, width - 1) + 1):
                    filled[r - index][c] = value
        return filled
    top = filled[0]  # no merge information (ODS): fill the first row forward over its gaps
    for c in range(1, width):
        if not top[c].strip() and filled[1][c].strip():
            top[c] = top[c - 1]
    return filled


def _join(parts: Sequence[str]) -> str:
    out: list[str] = []
    for part in parts:
        text = clean_name(part)
        if text and (not out or out[-1] != text):
            out.append(text)
    return " ".join(out)


# --------------------------------------------------------------------------------------------
# Columns mixing native cells and text cells
#
# Typing (``beffroi.ingest.infer``) reads each column from its text, with one reading per
# column. A spreadsheet column often mixes cells Excel stored as numbers or dates with cells
# typed as text: ``1234.5`` beside ``"1 234,50"``, a date beside ``"03/02/2024"``, an INSEE
# code 1053 (its zero lost) beside ``"01053"``. Rendered one by one, such a column holds two
# spellings and ends up as text. So the reader looks at every data cell of a column once and,
# when the column mixes kinds, hands over one spelling: the text cells in the native cells'
# form (``1234.50``, ``2024-02-03``) or, for a code column, the numbers zero-padded.

_MAX_DISTINCT_TEXTS = 50_000
"""Distinct text cells remembered per column; beyond, the column is left as it is."""

_SCAN_ROWS = 8192
"""Rows turned into columns at a time by the scan of a sheet."""

_MAX_MATTERING = 64
"""Longer text cells are plain text (and regular expressions never see long cells)."""

_SERIAL_MIN, _SERIAL_MAX = 10_958, 73_050
"""Excel day numbers read as dates in a date column: 1930-01-01 to 2099-12-31."""

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - spreadsheet dates are naive

_NULL_TEXTS = frozenset(token.casefold() for token in NULL_TOKENS)

# Code columns: header words → width of the code (the first family whose words appear wins).
_CODE_FAMILIES: tuple[tuple[str, frozenset[str], int, tuple[int, int]], ...] = (
    ("code postal", frozenset({"cp", "postal", "codepostal", "zip", "zipcode"}), 5, (1000, 99999)),
    (
        "code commune",
        frozenset({"insee", "codgeo", "depcom", "codcom", "cog", "codeinsee", "inseecom"}),
        5,
        (1000, 99999),
    ),
    (
        "code département",
        frozenset({"dep", "dept", "departement", "coddep", "numdep", "codedep"}),
        2,
        (1, 99),
    ),
    ("code commune", frozenset({"commune", "communes", "com"}), 5, (1000, 99999)),
)
_QUANTITY_WORDS = frozenset(
    {"nb", "nbre", "nombre", "population", "pop", "total", "somme", "montant", "surface"}
)
_DATE_WORDS = frozenset(
    {"date", "dates", "jour", "le", "debut", "fin", "echeance", "naissance", "maj", "depuis"}
)
_COMMUNE_CODE = re.compile(r"\d{5}|2[AB]\d{3}", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")

_SPACES = " \u00a0\u202f\u2009"
_MINUS = "\u2212"
_NUMBER_TEXT = re.compile(
    r"(?P<pre>€|EUR)?\s*(?P<sign>[+\-\u2212]?)\s*(?P<num>[\d.,' \u00a0\u202f\u2009]*\d"
    r"[\d.,' \u00a0\u202f\u2009]*)\s*(?P<post>€|EUR|%)?",
    re.IGNORECASE,
)
# (decimal mark, thousands separator other than spaces), in the order typing tries them.
_NUMBER_READINGS = ((".", ""), (",", ""), (",", "."), (".", ","), (".", "'"))
_DATE_TEXT = re.compile(
    r"(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
)
_ISO_TEXT = re.compile(
    r"(?P<year>\d{4})-(?P<b>\d{1,2})-(?P<a>\d{1,2})"
    r"(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
)


def _may_matter(text: str) -> bool:
    """Whether a text cell can be a number, a date or a commune code (else it is plain text)."""
    return len(text) <= _MAX_MATTERING and bool(
        _NUMBER_TEXT.fullmatch(text)
        or _DATE_TEXT.fullmatch(text)
        or _ISO_TEXT.fullmatch(text)
        or _COMMUNE_CODE.fullmatch(text)
    )


class ColumnCells:
    """What the data cells of one column are: numbers, dates, text. Counts are of distinct
    values (per chunk of :data:`_SCAN_ROWS` rows): enough to compare kinds, not a row count."""

    __slots__ = (
        "dates",
        "has_text",
        "integral",
        "largest",
        "name",
        "numbers",
        "others",
        "plain",
        "smallest",
        "texts",
        "too_many_texts",
        "used",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.used = False
        self.has_text = False
        self.numbers = 0
        self.integral = True
        self.smallest = float("inf")
        self.largest = float("-inf")
        self.dates = 0
        self.others = 0
        self.texts: set[str] = set()
        self.plain = False
        self.too_many_texts = False

    @property
    def has_native(self) -> bool:
        """Whether some cell is stored as a number, a date or another non-text value."""
        return bool(self.numbers or self.dates or self.others)

    def add_native(self, distinct: set[Any]) -> None:
        """Count distinct non-empty cells of a chunk (their text cells only flagged)."""
        self.used = True
        kinds = set(map(type, distinct))
        if str in kinds:
            self.has_text = True
            kinds.discard(str)
        if not kinds:
            return
        if kinds <= _NUMBER_TYPES:  # the common case: numbers (and texts), nothing else
            numbers: Any = distinct if not self.has_text else _only(distinct, _NUMBER_TYPES)
        else:
            numbers = _only(distinct, _NUMBER_TYPES) if kinds & _NUMBER_TYPES else ()
            dates = len(_only(distinct, _DATE_TYPES)) if kinds & _DATE_TYPES else 0
            self.dates += dates
            self.others += len(_only(distinct, kinds - _NUMBER_TYPES - _DATE_TYPES))
        if numbers:
            self.numbers += len(numbers)
            if self.integral:
                self.integral = all(map(float.is_integer, map(float, numbers)))
            self.smallest = min(self.smallest, min(numbers))  # noqa: PLW3301 - C loop
            self.largest = max(self.largest, max(numbers))  # noqa: PLW3301 - C loop

    def add_text(self, cell: str) -> None:
        """Remember one distinct text cell (unless the column already proved plain text)."""
        text = cell.strip()
        if text in self.texts or not text:
            return
        if text.casefold() in _NULL_TEXTS or clean_name(text) == self.name:
            return  # null tokens and repeated headers say nothing about the kind
        if not _may_matter(text):
            self.plain = True  # a text that is no number, date or code: kept as text
        elif len(self.texts) < _MAX_DISTINCT_TEXTS:
            self.texts.add(text)
        else:
            self.too_many_texts = True


_NUMBER_TYPES = frozenset({float, int})  # exact types: bool is an int, but no number here
_DATE_TYPES = frozenset({dt.date, dt.datetime})


def _only(values: set[Any], kinds: frozenset[type] | set[type]) -> list[Any]:
    return [v for v in values if type(v) in kinds]


def _distinct_columns(chunk: list[list[Any]]) -> Iterator[set[Any]]:
    """Each column of a chunk of rows as its set of distinct non-empty values (the
    transposition and the sets are built in C: Python sees each distinct value once)."""
    for values in zip_longest(*chunk, fillvalue=""):
        distinct = set(values)
        distinct.discard("")
        distinct.discard(None)
        yield distinct


def _scan_native(chunk: list[list[Any]], stats: list[ColumnCells]) -> None:
    for cells, distinct in zip(stats, _distinct_columns(chunk), strict=False):
        if distinct:
            cells.add_native(distinct)


def _scan_texts(chunk: list[list[Any]], stats: list[ColumnCells], mixed: list[int]) -> None:
    columns = list(zip_longest(*chunk, fillvalue=""))
    for index in mixed:
        cells = stats[index]
        if cells.plain or cells.too_many_texts or index >= len(columns):
            continue
        for cell in set(columns[index]):
            if isinstance(cell, str) and not cells.plain:
                cells.add_text(cell)


Converter = Callable[[Any], "str | None"]


def plan_column(name: str, cells: ColumnCells) -> tuple[Converter | None, str | None]:
    """How to render a column's cells so that they share one spelling (``None``: as they
    are), with a note for the dialect."""
    if cells.too_many_texts or cells.others:
        return None, None
    tokens = set(name_tokens(name))
    code = _code_width(tokens, cells)
    if code is not None:
        width, label = code
        return _padding(width), (
            f"colonne « {name} » ({label}) : codes saisis comme nombres complétés par des "
            f"zéros en tête ({width} caractères)"
        )
    if cells.plain:
        return None, None  # some cell is plain text: the column is text, spellings and all
    dates = _date_plan(name, tokens, cells)
    if dates is not None:
        return dates
    if cells.numbers and cells.texts and not cells.dates:
        return _number_plan(name, cells)
    return None, None


def _code_width(tokens: set[str], cells: ColumnCells) -> tuple[int, str] | None:
    """(width, family) when the column is a code column whose numbers lost leading zeros."""
    if not cells.numbers or not cells.integral or cells.dates or cells.smallest < 0:
        return None
    digit_texts = [text for text in cells.texts if _DIGITS.fullmatch(text)]
    lengths = {len(text) for text in digit_texts}
    if not tokens & _QUANTITY_WORDS:
        for label, words, width, (low, high) in _CODE_FAMILIES:
            named = tokens & words or any(t.startswith("code") and t[4:] in words for t in tokens)
            if named and low <= cells.smallest and cells.largest <= high:
                if lengths <= {width} and len(str(int(cells.smallest))) < width:
                    return width, label
                break
    if cells.plain or tokens & _QUANTITY_WORDS:
        return None
    # No telling header: text cells written with their zeros give the width.
    if len(lengths) == 1 and any(text.startswith("0") for text in digit_texts):
        width = lengths.pop()
        if width >= 3 and len(str(int(cells.largest))) <= width:
            others = [text for text in cells.texts if not _DIGITS.fullmatch(text)]
            if all(_COMMUNE_CODE.fullmatch(text) for text in others) and (width == 5 or not others):
                return width, "code"
    # Corsican codes (2A004) or zero-led ones beside the numbers: commune codes.
    communes = all(_COMMUNE_CODE.fullmatch(t) for t in cells.texts) and any(
        t[0] == "0" or not t.isdigit() for t in cells.texts
    )
    if cells.texts and communes and cells.smallest >= 1000 and cells.largest <= 99999:
        return 5, "code commune"
    return None


def _padding(width: int) -> Converter:
    def render(cell: Any) -> str | None:
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            return str(int(cell)).zfill(width)
        return cell_text(cell)

    return render


def _date_plan(
    name: str, tokens: set[str], cells: ColumnCells
) -> tuple[Converter | None, str | None] | None:
    """Text dates and day numbers as ISO dates when the column is a date column."""
    if not cells.texts and not cells.dates:
        return None
    parsed = _parse_dates(cells.texts) if cells.texts else {}
    if parsed is None:
        return None  # some text is no date
    evidence = cells.dates + len(parsed)
    if not evidence or (cells.numbers and not (tokens & _DATE_WORDS or evidence >= cells.numbers)):
        return None
    if cells.numbers and not (cells.smallest >= _SERIAL_MIN and cells.largest <= _SERIAL_MAX):
        return None
    kinds = (cells.dates > 0) + (len(parsed) > 0) + (cells.numbers > 0)
    if kinds < 2:
        return None  # one kind only: the cells already share one spelling

    def render(cell: Any) -> str | None:
        if isinstance(cell, str):
            text = cell.strip()
            return parsed.get(text, cell_text(cell))
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            return _serial_text(float(cell))
        return cell_text(cell)

    parts = []
    if parsed:
        parts.append(f"{len(parsed)} date(s) saisie(s) en texte")
    if cells.numbers:
        parts.append(f"{cells.numbers} numéro(s) de jour Excel")
    note = f"colonne « {name} » : {' et '.join(parts)} lues comme dates (AAAA-MM-JJ)"
    return render, note


def _parse_dates(texts: set[str]) -> dict[str, str] | None:
    """Each text as an ISO date (or date-time), or ``None`` when one is no date. Day first
    (French), unless a second component above 12 and none in first place proves month first."""
    matches: dict[str, tuple[re.Match[str], bool]] = {}
    for text in texts:
        iso_match = _ISO_TEXT.fullmatch(text)
        match = iso_match or _DATE_TEXT.fullmatch(text)
        if match is None:
            return None
        matches[text] = (match, iso_match is not None)
    loose = [m for m, iso in matches.values() if not iso]
    month_first = any(int(m["b"]) > 12 for m in loose) and not any(int(m["a"]) > 12 for m in loose)
    out: dict[str, str] = {}
    for text, (match, iso) in matches.items():
        day, month = (
            (match["b"], match["a"]) if month_first and not iso else (match["a"], match["b"])
        )
        year = int(match["year"])
        if len(match["year"]) == 2:
            year += 1900 if year >= 69 else 2000
        try:
            value = dt.datetime(  # noqa: DTZ001 - spreadsheet dates are naive
                year,
                int(month),
                int(day),
                int(match["h"] or 0),
                int(match["mi"] or 0),
                int(match["s"] or 0),
            )
        except ValueError:
            return None  # 31/02/2024: no date
        out[text] = value.isoformat() if match["h"] else value.date().isoformat()
    return out


def _serial_text(serial: float) -> str:
    value = _EXCEL_EPOCH + dt.timedelta(days=serial)
    if serial.is_integer():
        return value.date().isoformat()
    return value.replace(microsecond=0).isoformat()


def _number_plan(name: str, cells: ColumnCells) -> tuple[Converter | None, str | None]:
    """Numbers typed as text (``1 234,50``, ``12,5 %``, ``1 234 €``) in the native numbers'
    spelling, when every text of the column reads as a number in one way."""
    found: list[tuple[str, str, str, str]] = []  # text, sign, digits, unit
    for text in cells.texts:
        match = _NUMBER_TEXT.fullmatch(text)
        if match is None or (match["pre"] and match["post"]):
            return None, None
        unit = (match["pre"] or match["post"] or "").upper()
        found.append((text, match["sign"], match["num"].strip(), unit))
    reading = _number_reading([digits for _, _, digits, _ in found])
    if reading is None:
        return None, None
    mark, group = reading
    # Excel stores "12,5 %" as 0.125; when the column's numbers are fractions, so do we.
    fractions = max(abs(cells.smallest), abs(cells.largest)) <= 1
    mapping: dict[str, str] = {}
    for text, sign, digits, unit in found:
        plain = digits
        for char in group + _SPACES:
            plain = plain.replace(char, "")
        plain = plain.replace(mark, ".") if mark != "." else plain
        value = Decimal(plain)
        if unit == "%" and fractions:
            value = value.scaleb(-2)
        mapping[text] = ("-" if sign in {"-", _MINUS} else "") + format(value, "f")

    def render(cell: Any) -> str | None:
        if isinstance(cell, str):
            return mapping.get(cell.strip(), cell_text(cell))
        return cell_text(cell)

    units = {unit for *_, unit in found if unit}
    note = f"colonne « {name} » : {len(mapping)} nombre(s) saisi(s) en texte lus comme nombres"
    if units:
        note += f" (symbole {'/'.join(sorted(units))} retiré)"
    return render, note


def _number_reading(texts: list[str]) -> tuple[str, str] | None:
    """The first (decimal mark, separator) under which every text is a number."""
    for mark, group in _NUMBER_READINGS:
        groups = re.escape(group + _SPACES)
        integer = rf"(?:\d{{1,3}}(?:[{groups}]\d{{3}})+|\d+)"
        pattern = re.compile(rf"(?:{integer}(?:{re.escape(mark)}\d*)?|{re.escape(mark)}\d+)")
        if all(pattern.fullmatch(text) for text in texts):
            return mark, group
    return None
