"""Run frictionless-py and Beffroi on the same file and schema; compare what they report.

frictionless is given the dialect Beffroi detected (delimiter, header line, encoding), so the
comparison is about validation, not about sniffing (where Beffroi is deliberately smarter:
``docs/validation.md``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from beffroi.ingest.model import ReadOptions
from beffroi.validate import Options, parse_schema, validate
from beffroi.validate.table import open_raw

Key = tuple[str, int | None, str | None]


def _dialect(path: Path, read: ReadOptions) -> tuple[dict[str, Any], str | None]:
    from frictionless import Control, Dialect, formats

    table = open_raw(path, read)
    controls: list[Control] = []
    if table.dialect.format == "csv":
        controls.append(
            formats.CsvControl(
                delimiter=table.dialect.delimiter or "\x1f",
                quote_char=table.dialect.quotechar or '"',
            )
        )
    if table.dialect.format in {"xlsx", "xls"} and table.dialect.sheet:
        controls.append(formats.ExcelControl(sheet=table.dialect.sheet))
    dialect = Dialect(header_rows=[table.header_row], controls=controls)
    codec = None
    if table.dialect.format == "csv":
        codec = {"utf-8-sig": "utf-8-sig"}.get(str(table.dialect.encoding), table.dialect.encoding)
    return {"dialect": dialect}, codec


def _resource(path: Path, read: ReadOptions, **extra: Any) -> Any:
    from frictionless import Resource

    options, encoding = _dialect(path, read)
    if encoding:
        options["encoding"] = encoding
    return Resource(str(path), **options, **extra)


def inferred_schema(path: Path, read: ReadOptions = ReadOptions()) -> dict[str, Any]:  # noqa: B008
    """The schema frictionless infers for a file (what it validates against by default)."""
    from frictionless import system

    with system.use_context(trusted=True):
        resource = _resource(path, read)
        resource.infer()
        descriptor: dict[str, Any] = resource.schema.to_descriptor()
    return descriptor


def frictionless_errors(
    path: Path,
    descriptor: dict[str, Any],
    read: ReadOptions = ReadOptions(),  # noqa: B008
) -> tuple[bool, Counter[Key]]:
    """frictionless' verdict and (type, rowNumber, fieldName) of its errors."""
    from frictionless import Schema, system

    with system.use_context(trusted=True):
        resource = _resource(path, read, schema=Schema.from_descriptor(descriptor))
        report = resource.validate(limit_errors=1_000_000)
    found: Counter[Key] = Counter()
    for task in report.to_dict()["tasks"]:
        for error in task["errors"]:
            found[_key(error["type"], error.get("rowNumber"), error.get("fieldName"))] += 1
    return report.valid, found


def beffroi_errors(
    path: Path,
    descriptor: dict[str, Any],
    read: ReadOptions = ReadOptions(),  # noqa: B008
) -> tuple[bool, Counter[Key]]:
    """Beffroi's verdict and errors, keyed the same way (custom checks off: frictionless has
    none)."""
    schema = parse_schema(json.loads(json.dumps(descriptor)))
    report = validate(path, schema, Options(max_errors=1_000_000, custom_checks=False, read=read))
    found: Counter[Key] = Counter()
    for error in report.errors:
        found[_key(error.code, error.row, error.field)] += 1
    return report.valid, found


def compare(
    path: Path,
    descriptor: dict[str, Any] | None = None,
    read: ReadOptions = ReadOptions(),  # noqa: B008
) -> tuple[bool, Counter[Key], bool, Counter[Key]]:
    """Both verdicts and error counters (schema inferred by frictionless when not given)."""
    if descriptor is None:
        descriptor = inferred_schema(path, read)
    fv, fe = frictionless_errors(path, descriptor, read)
    bv, be = beffroi_errors(path, descriptor, read)
    return fv, fe, bv, be


def _key(code: str, row: int | None, field: str | None) -> Key:
    if code in {"blank-row", "extra-cell", "extra-label", "primary-key", "duplicate-row"}:
        field = None  # frictionless names no field (or "") for these
    return code, row, field or None


def package_resolver(base: Path, resources: dict[str, dict[str, Any]]) -> Any:
    """Foreign keys to the other resources of a data package: their cells, by field name."""
    import pyarrow as pa

    def resolve(name: str, fields: Any) -> pa.Table | None:
        resource = resources.get(name)
        if resource is None:
            return None
        table = open_raw(base / resource["path"])
        batches = list(table.batches())
        columns = {}
        for field in fields:
            index = table.labels.index(field)
            values = [v for batch in batches for v in batch.column(index).to_pylist()]
            columns[field] = pa.array(values, pa.string())
        return pa.table(columns)

    return resolve


def compare_package(
    descriptor_path: Path,
) -> dict[str, tuple[bool, Counter[Key], bool, Counter[Key]]]:
    """Per resource of a data package: frictionless' and Beffroi's verdicts and errors."""
    import yaml
    from frictionless import Package, system

    text = descriptor_path.read_text(encoding="utf-8")
    descriptor = yaml.safe_load(text) if descriptor_path.suffix == ".yaml" else json.loads(text)
    base = descriptor_path.parent
    with system.use_context(trusted=True):
        report = Package(str(descriptor_path)).validate(limit_errors=1_000_000)
    theirs: dict[str, tuple[bool, Counter[Key]]] = {}
    for task in report.to_dict()["tasks"]:
        found: Counter[Key] = Counter()
        for error in task["errors"]:
            found[_key(error["type"], error.get("rowNumber"), error.get("fieldName"))] += 1
        theirs[task["name"]] = (task["valid"], found)
    resources = {r["name"]: r for r in descriptor["resources"]}
    out = {}
    for name, resource in resources.items():
        schema_descriptor = resource.get("schema") or inferred_schema(base / resource["path"])
        schema = parse_schema(schema_descriptor)
        for foreign in schema.foreign_keys:
            if foreign.reference == name:
                foreign.reference = ""  # a reference to itself
        report_b = validate(
            base / resource["path"],
            schema,
            Options(
                max_errors=1_000_000,
                custom_checks=False,
                resolver=package_resolver(base, resources),
            ),
        )
        mine: Counter[Key] = Counter()
        for error in report_b.errors:
            mine[_key(error.code, error.row, error.field)] += 1
        valid, found = theirs[name]
        out[name] = (valid, found, report_b.valid, mine)
    return out
