"""Validation reports: a frictionless-like JSON structure and a plain-French text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beffroi.validate.catalogue import ERRORS


@dataclass(slots=True)
class ValidationError:
    """One error found in a file."""

    code: str
    row: int | None = None
    field: str | None = None
    number: int | None = None  # 1-based column position
    cell: str | None = None
    label: str | None = None
    note: str | None = None
    note_en: str | None = None
    fix: str | None = None
    constraint: str | None = None
    reference: str | None = None

    def values(self) -> dict[str, Any]:
        """What message templates may use."""
        return {
            "row": self.row,
            "field": self.field,
            "number": self.number,
            "cell": self.cell,
            "label": self.label,
            "note": self.note,
            "note_en": self.note_en or self.note,
            "fix": self.fix,
            "reference": self.reference,
        }

    def message(self, lang: str = "fr") -> str:
        """The error in words."""
        return ERRORS[self.code].render(self.values(), lang=lang)

    def hint(self) -> str:
        """How to fix it."""
        return ERRORS[self.code].hint.format_map(_Safe(self.values()))

    def as_dict(self) -> dict[str, Any]:
        """The frictionless-like form (``type``, ``rowNumber``, ``fieldName``…)."""
        error = ERRORS[self.code]
        out: dict[str, Any] = {
            "type": self.code,
            "title": error.title,
            "rowNumber": self.row,
            "fieldName": self.field,
            "fieldNumber": self.number,
            "cell": self.cell,
            "label": self.label,
            "constraint": self.constraint,
            "message": self.message("fr"),
            "messageEn": self.message("en"),
            "hint": self.hint(),
        }
        return {k: v for k, v in out.items() if v is not None}


class _Safe(dict[str, Any]):
    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__({k: "" if v is None else v for k, v in values.items()})

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(slots=True)
class InvalidRows:
    """The rows of a file with at least one error, as written, with their errors."""

    header: list[str]  # « ligne », the file's labels (and extra columns), « erreurs »
    rows: list[list[str]] = field(default_factory=list)  # the first ones
    count: int = 0  # all of them
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "header": self.header,
            "rows": self.rows,
            "count": self.count,
            "truncated": self.truncated,
        }


@dataclass(slots=True)
class Report:
    """The outcome of validating one file against one schema."""

    valid: bool
    schema: dict[str, Any]
    dialect: dict[str, Any]
    labels: list[str]
    stats: dict[str, Any]
    counts: dict[str, int]
    counts_by_field: dict[str, dict[str, int]]
    errors: list[ValidationError]
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    path: str | None = None
    first_by_field: dict[str, list[ValidationError]] = field(default_factory=dict)
    invalid_rows: InvalidRows | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, frictionless-like: ``valid``, ``stats``, ``errors`` (plus counts)."""
        out: dict[str, Any] = {
            "valid": self.valid,
            "path": self.path,
            "schema": self.schema,
            "dialect": self.dialect,
            "labels": self.labels,
            "stats": self.stats,
            "counts": self.counts,
            "countsByField": self.counts_by_field,
            "truncated": self.truncated,
            "warnings": self.warnings,
            "errors": [error.as_dict() for error in self.errors],
        }
        if self.first_by_field:
            out["firstErrorsByField"] = {
                name: [error.as_dict() for error in errors]
                for name, errors in self.first_by_field.items()
            }
        if self.invalid_rows is not None:
            out["invalidRows"] = self.invalid_rows.as_dict()
        return out

    def summary(self) -> dict[str, Any]:
        """Verdict and counts (what a dataset version keeps)."""
        return {
            "valid": self.valid,
            "schema": self.schema.get("name") or self.schema.get("source"),
            "schema_version": self.schema.get("version"),
            "rows": self.stats.get("rows"),
            "errors": self.stats.get("errors"),
            "counts": self.counts,
        }

    def text(self, *, per_column: int = 5) -> str:  # noqa: PLR0912 - one section each
        """The report in plain French, for a terminal or an email."""
        rows = self.stats.get("rows", 0)
        name = self.schema.get("title") or self.schema.get("name") or self.schema.get("source")
        lines = []
        if self.valid:
            lines.append(
                f"✔ Fichier conforme au schéma « {name} » : {_n(rows)} ligne(s), aucune erreur."
            )
        else:
            total = self.stats.get("errors", 0)
            lines.append(
                f"✘ Fichier non conforme au schéma « {name} » : {_n(total)} erreur(s) sur "
                f"{_n(rows)} ligne(s)."
            )
        for warning in self.warnings:
            lines.append(f"  ⚠ {warning}")
        if self.valid:
            return "\n".join(lines) + "\n"
        lines.append("")
        lines.append("Erreurs par type :")
        for code, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            lines.append(f"  • {ERRORS[code].title} ({code}) : {_n(count)}")
        header = [e for e in self.errors if ERRORS[e.code].scope == "header" or e.row is None]
        if header:
            lines += ["", "En-tête :"]
            for error in header:
                lines.append(f"  • {error.message()}")
                lines.append(f"    → {error.hint()}")
        groups: dict[str, list[ValidationError]] = {}
        for error in self.errors:
            if error.row is not None:
                groups.setdefault(error.field or "", []).append(error)
        for column, errors in groups.items():
            counted = sum(self.counts_by_field.get(column, {}).values()) or len(errors)
            title = f"Colonne « {column} »" if column else "Lignes"
            lines += ["", f"{title} : {_n(counted)} erreur(s)"]
            for error in errors[:per_column]:
                lines.append(f"  • {error.message()}")
            hints = dict.fromkeys(e.hint() for e in errors[:per_column])
            for hint in hints:
                lines.append(f"    → {hint}")
            if counted > per_column:
                lines.append(f"    … et {_n(counted - min(per_column, len(errors)))} autre(s)")
        if self.truncated:
            lines += [
                "",
                "(Seules les premières erreurs sont détaillées ; les totaux sont complets.)",
            ]
        return "\n".join(lines) + "\n"


def _n(value: Any) -> str:
    """French digit grouping (narrow no-break space)."""
    try:
        return f"{int(value):,}".replace(",", "\u202f")
    except (TypeError, ValueError):
        return str(value)
