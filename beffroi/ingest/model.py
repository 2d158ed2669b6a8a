"""Shapes shared by every reader and by typing: options in, a streamed table out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from beffroi.errors import InvalidInputError

if TYPE_CHECKING:  # only in annotations: the CLI forks before pyarrow starts its threads
    import pyarrow as pa

DEFAULT_BATCH_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What the user may force; ``None`` means "detect it"."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int | None = None  # 1-based line (CSV) / row (sheets) of the header
    format: str | None = None  # "csv", "xlsx", "ods", "json", "ndjson", "geojson", "parquet"
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_bytes: int | None = None  # refuse larger inputs (zip bombs, runaway uploads)
    widths: tuple[int, ...] | None = None  # fixed-width files: column widths, in characters


@dataclass(slots=True)
class Dialect:
    """What was detected (or forced) to read the file; shown to the user, kept per version."""

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    header_row: int | None = None
    line_terminator: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "3 junk lines skipped above header"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) not in (None, [])}


class TableSource(Protocol):
    """An opened file, read lazily as Arrow record batches (bounded memory).

    Text formats (CSV, spreadsheets) yield ``pa.string()`` columns holding the raw cell text
    (empty cells as null); self-describing formats (Parquet, JSON numbers/booleans) may yield
    typed columns. Column names are unique, stripped, never empty (``colonne_3`` when blank).
    """

    path: Path
    dialect: Dialect
    column_names: list[str]
    bytes_total: int

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, in order, ``ReadOptions.batch_rows`` at a time."""
        ...

    def bytes_read(self) -> int:
        """Progress: bytes of the input consumed so far."""
        ...


def parse_widths(value: str | None) -> tuple[int, ...] | None:
    """``"5,4,38"`` → ``(5, 4, 38)``: fixed-width column widths, each a positive integer."""
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise InvalidInputError(
            f"Largeurs de colonnes invalides : {value!r}",
            hint="des nombres entiers positifs séparés par des virgules, ex. --widths 5,4,8,38",
            message_en=f"Invalid column widths: {value!r}",
            hint_en="positive whole numbers separated by commas, e.g. --widths 5,4,8,38",
        )
    return tuple(int(part) for part in parts)
