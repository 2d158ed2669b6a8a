"""Table Schema validation: schema model and loading, vectorised checks, error catalogue,
reports (see ``docs/validation.md``).

The engine (DuckDB) is imported on first use of its names, so that ``beffroi.validate.table``
can start reading a file before it (see ``beffroi validate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beffroi.validate.report import Report, ValidationError
from beffroi.validate.schema import Field, Schema, load_schema, parse_schema

if TYPE_CHECKING:
    from beffroi.validate.engine import Options, validate, validate_table

__all__ = [
    "Field",
    "Options",
    "Report",
    "Schema",
    "ValidationError",
    "load_schema",
    "parse_schema",
    "validate",
    "validate_table",
]


def __getattr__(name: str) -> Any:
    if name in {"Options", "validate", "validate_table"}:
        from beffroi.validate import engine  # noqa: PLC0415 - DuckDB, on first use

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
