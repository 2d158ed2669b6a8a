"""Table Schema validation: schema model and loading, vectorised checks, error catalogue,
reports (see ``docs/validation.md``)."""

from beffroi.validate.engine import Options, validate
from beffroi.validate.report import Report, ValidationError
from beffroi.validate.schema import Field, Schema, load_schema, parse_schema

__all__ = [
    "Field",
    "Options",
    "Report",
    "Schema",
    "ValidationError",
    "load_schema",
    "parse_schema",
    "validate",
]
