"""Run a compiled schema over a raw table: header checks, one vectorised query per batch,
then the whole-table checks (unique, primary key, foreign keys) in DuckDB."""

# ruff: noqa: S608 - the SQL is generated from the schema: every value is a literal escaped by
# sql_string(), every identifier is generated here (c0, u3, fk1…), never taken from the input.

from __future__ import annotations

import contextlib
import csv
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from beffroi.ingest.model import ReadOptions
from beffroi.validate.compile import FieldSql, compile_field, literal, re2, sql_string
from beffroi.validate.french import (
    CUSTOM_CHECKS,
    NEEDS_REFERENCE,
    CustomCheck,
    reference_table,
    reference_tables,
)
from beffroi.validate.patterns import fixed_date, fixed_pattern
from beffroi.validate.report import InvalidRows, Report, ValidationError
from beffroi.validate.schema import Field, ForeignKey, Schema
from beffroi.validate.table import RawTable, open_raw

DEFAULT_MAX_ERRORS = 1000
"""Errors kept in detail in a report (all of them are counted)."""

CONSTRAINT_ORDER = (
    "required",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
)

BULK_CHECKS = True
"""Text and boolean columns checked on the Arrow arrays (``False``: all in DuckDB's SQL, as
a test compares)."""

ReferenceResolver = Callable[[str, Sequence[str]], pa.Table | None]
"""Values of ``fields`` of a foreign key's referenced table (a dataset slug, ``ref:…``)."""


@dataclass(slots=True)
class Options:
    """What to check."""

    max_errors: int = DEFAULT_MAX_ERRORS
    custom_checks: bool = True  # the schema's custom_checks (SIRET, INSEE…), like Validata
    duplicate_rows: bool = False  # frictionless' optional duplicate-row check
    read: ReadOptions = field(default_factory=ReadOptions)
    resolver: ReferenceResolver | None = None
    memory_limit: str = "256MB"
    invalid_rows: Path | None = None  # write the rows with errors there (CSV)
    invalid_rows_bom: bool = False  # … with a UTF-8 BOM, for Excel
    keep_invalid_rows: int = 0  # keep the first ones in the report too
    per_field: int = 0  # the first errors of each column, besides the first ``max_errors``


@dataclass(slots=True)
class _Column:
    index: int  # 0-based position in the file
    label: str
    field: Field
    sql: FieldSql
    missing: str
    fabricated: bool


def validate(path: Path, schema: Schema, options: Options | None = None) -> Report:
    """Validate the file at ``path`` against ``schema``."""
    options = options or Options()
    started = time.perf_counter()
    return validate_table(open_raw(Path(path), options.read), schema, options, started=started)


def validate_table(
    table: RawTable, schema: Schema, options: Options, *, started: float | None = None
) -> Report:
    """Validate an opened file (its reading may have started: :meth:`RawTable.prefetch`);
    ``started`` is when the run began (``time.perf_counter()``), for the report's seconds."""
    started = time.perf_counter() if started is None else started
    try:
        report = Validator(table, schema, options).run()
    finally:
        table.close()
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report


class Validator:
    """One validation run."""

    def __init__(self, table: RawTable, schema: Schema, options: Options) -> None:
        self.table = table
        self.schema = schema
        self.options = options
        self.warnings = list(schema.warnings)
        self.header_errors: list[ValidationError] = []
        self.columns = self._match_columns()
        self.checks = self._custom_checks()
        # Columns computed on each Arrow batch before DuckDB: name → (function, cell index).
        self._vectors: dict[str, tuple[Callable[[Any], Any], int]] = {}
        for check, column, _ in self.checks:
            if check.vector is not None:
                name = self._prepared(check, column, "")
                self._vectors.setdefault(name, (check.vector, column.index))
        self._tmp = tempfile.TemporaryDirectory(prefix="beffroi-validate-")
        self.con = duckdb.connect(
            config={
                "memory_limit": options.memory_limit,
                "temp_directory": self._tmp.name,
                "threads": 2,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        )
        self._patterns: dict[str, str] = {}
        # Failing cells computed on the Arrow arrays (NumPy), OR-ed into the row's ``_f``;
        # each gets the chunk and its columns' missing cells (computed once per chunk).
        self._row_checks: list[Callable[[pa.Table, Callable[[int], np.ndarray]], np.ndarray]] = []
        self._blank_check = False
        self._missing_checks = [self._missing_in_bulk(column) for column in self.columns]
        if any(check.code in NEEDS_REFERENCE for check, _, _ in self.checks):
            for name, values in reference_tables().items():
                self.con.register(f"{name}_arrow", pa.table({"code": values}))
                self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
                self.con.unregister(f"{name}_arrow")

    # ------------------------------------------------------------------------------------
    # header

    def _match_columns(self) -> list[_Column]:
        labels = self.table.labels
        schema = self.schema
        by_name = schema.fields_match != "exact"
        fields = schema.fields
        columns: list[_Column] = []
        used: set[str] = set()
        names = {item.name: item for item in fields}
        for index, label in enumerate(labels):
            item = (
                names.get(label.strip())
                if by_name
                else (fields[index] if index < len(fields) else None)
            )
            fabricated = item is None
            if item is None:
                name = label or f"field{index + 1}"
                while name in used:
                    name += "_"
                item = Field(name=name, type="any")
            used.add(item.name)
            column = f'"c{index}"'
            missing_values = ("",) if fabricated else schema.field_missing_values(item)
            missing = f"({column} IS NULL" + (
                f" OR {column} IN ({', '.join(sql_string(v) for v in missing_values)}))"
                if missing_values
                else ")"
            )
            columns.append(
                _Column(index, label, item, compile_field(item, column), missing, fabricated)
            )
        self._header_errors(labels, by_name)
        return columns

    def _header_errors(self, labels: list[str], by_name: bool) -> None:  # noqa: PLR0912
        schema = self.schema
        fields = schema.fields
        add = self.header_errors.append
        tolerate_extra = schema.fields_match in {"subset", "partial"}
        tolerate_missing = schema.fields_match in {"superset", "partial"}
        if not labels:
            add(ValidationError("blank-header", row=None))
            return
        names = {item.name for item in fields}
        if not tolerate_extra:
            for number, label in enumerate(labels, 1):
                extra = label not in names if by_name else number > len(fields)
                if extra:
                    add(ValidationError("extra-label", label=label, number=number))
        if by_name:
            missing = [item for item in fields if item.name not in set(labels)]
        else:
            missing = fields[len(labels) :]
        if tolerate_missing:
            missing = [f for f in missing if f.required or f.name in schema.primary_key]
        for offset, item in enumerate(missing):
            add(ValidationError("missing-label", field=item.name, number=len(labels) + offset + 1))
        if by_name:
            return
        for number, (item, label) in enumerate(zip(fields, labels, strict=False), 1):
            if not label:
                add(ValidationError("blank-label", field=item.name, number=number))
                continue
            earlier = [str(i) for i, seen in enumerate(labels[: number - 1], 1) if seen == label]
            if earlier:
                add(
                    ValidationError(
                        "duplicate-label",
                        field=item.name,
                        label=label,
                        number=number,
                        note=f"colonne(s) n° {', '.join(earlier)}",
                    )
                )
                continue
            if label.strip() != item.name:
                add(ValidationError("incorrect-label", field=item.name, label=label, number=number))

    def _custom_checks(self) -> list[tuple[CustomCheck, _Column, dict[str, Any]]]:
        found: list[tuple[CustomCheck, _Column, dict[str, Any]]] = []
        if not self.options.custom_checks:
            return found
        by_name = {column.field.name: column for column in self.columns if not column.fabricated}
        requested = [(c.get("name"), c.get("params") or {}) for c in self.schema.custom_checks] + [
            (name, {"column": column.field.name})
            for column in self.columns
            for name in column.field.custom_checks
        ]
        for name, params in requested:
            check = CUSTOM_CHECKS.get(str(name).replace("_", "-"))
            if check is None:
                self.warnings.append(f"contrôle personnalisé « {name} » non pris en charge, ignoré")
                continue
            column = by_name.get(str(params.get("column", "")))
            if column is None:
                continue  # the column is absent: a missing-label error says so
            found.append((check, column, dict(params)))
        return found

    # ------------------------------------------------------------------------------------
    # cells

    def _pattern(self, item: Field, column: _Column) -> str:
        """A ``pattern`` constraint as SQL, in RE2 when DuckDB can compile it."""
        pattern = str(item.constraints["pattern"])
        translated = re2(pattern)
        try:
            self.con.execute("SELECT regexp_full_match('', ?)", [translated]).fetchall()
        except duckdb.Error:
            name = f"py_pattern_{len(self._patterns)}"
            self._python_pattern(name, pattern)
            self._patterns[name] = pattern
            return f"{name}({column.sql.column})"
        name = f"_q{column.index}"
        if name in self._vectors:
            return name
        vector = fixed_pattern(translated)
        if vector is not None:  # RE2's verdict, computed on the Arrow buffers
            self._vectors[name] = (vector, column.index)
            return name
        return f"regexp_full_match({column.sql.column}, {sql_string(translated)})"

    def _python_pattern(self, name: str, pattern: str) -> None:
        import re  # noqa: PLC0415

        import pyarrow.compute as pc  # noqa: PLC0415

        compiled = re.compile(f"^(?:{pattern})$")

        def matches(values: Any) -> Any:
            # Patterns RE2 cannot run (look-arounds, back-references): Python's re, on the
            # distinct values of the batch only.
            unique = pc.unique(values)
            verdicts = pa.array(
                [None if v is None else bool(compiled.match(v)) for v in unique.to_pylist()],
                pa.bool_(),
            )
            return pc.take(verdicts, pc.index_in(values, unique))

        create: Any = self.con.create_function  # the stubs want an enum for type=
        create(name, matches, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("BOOLEAN"), type="arrow")

    def _cell_errors(self, column: _Column) -> list[tuple[str, str, str]]:
        """(condition, code, note key) of every cell check of a column, in report order."""
        sql = column.sql
        item = column.field
        j = column.index
        miss = f"_m{j}"
        out: list[tuple[str, str, str]] = []
        if sql.valid != "TRUE":
            out.append((f"(NOT {miss} AND NOT _v{j})", "type-error", "type"))
        ok = f"_v{j}"
        constraints = item.constraints
        for name in CONSTRAINT_ORDER:
            if name not in constraints or constraints[name] is None:
                continue
            value = constraints[name]
            if name == "required":
                if value:
                    out.append((miss, "constraint-error", "required"))
                continue
            test = self._constraint(name, value, item, column)
            if test is not None:
                out.append((f"({ok} AND NOT COALESCE({test}, FALSE))", "constraint-error", name))
        return out

    def _constraint(  # noqa: PLR0911 - one return per constraint
        self, name: str, value: Any, item: Field, column: _Column
    ) -> str | None:
        sql = column.sql
        c = sql.column
        if name in {"minLength", "maxLength"}:
            if not isinstance(value, int):
                return None
            if item.type == "array":
                size = f"json_array_length({c})"
            elif item.type == "object":
                size = f"len(json_keys({c}))"
            else:
                size = f"length({c})"
            return f"{size} {'>=' if name == 'minLength' else '<='} {value}"
        if name == "pattern":
            return self._pattern(item, column)
        if name == "enum":
            if item.type in {"integer", "number", "boolean", "year"}:
                values = [literal(item, v, sql) for v in value]
                target = f"_x{column.index}"
            else:
                values = [sql_string(v if isinstance(v, str) else str(v)) for v in value]
                target = c
            if not values:
                return "FALSE"
            return f"{target} IN ({', '.join(values)})"
        operator = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[name]
        bound = f"_x{column.index} {operator} {literal(item, value, sql)}"
        if item.type == "number":  # NaN is within no bound (DuckDB orders it last)
            return f"(NOT isnan(_x{column.index}) AND {bound})"
        return bound

    @staticmethod
    def _prepared(check: CustomCheck, column: _Column, raw: str) -> str:
        """The column a check's per-cell preparation is computed in (or the raw cell)."""
        if check.prepare is None and check.vector is None:
            return raw
        return f"_p{column.index}_{check.code.replace('-', '_')}"

    def _with_vectors(self, chunk: pa.Table) -> pa.Table:
        """The chunk with the per-cell values computed on Arrow arrays (custom checks'
        ``vector``, fixed-width patterns), one column each. On the checking thread: the
        reading thread is the slower one."""
        for name, (vector, index) in self._vectors.items():
            chunk = chunk.append_column(name, vector(chunk.column(f"c{index}")))
        if self._row_checks or self._blank_check:
            absent: dict[int, np.ndarray] = {}

            def missing(index: int) -> np.ndarray:
                if index not in absent:
                    absent[index] = self._missing_checks[index](chunk.column(f"c{index}"))
                return absent[index]

            failing = np.zeros(chunk.num_rows, dtype=bool)
            for check in self._row_checks:
                failing |= check(chunk, missing)
            if self._blank_check:
                blank = np.ones(chunk.num_rows, dtype=bool)
                for column in self.columns:
                    blank &= missing(column.index)
                failing |= blank
            chunk = chunk.append_column("_f", pa.array(failing))
        return chunk

    def _typed_sql(self, source: str = "batch") -> str:
        """The rows of ``source`` with, per column j: ``_m{j}`` missing, ``_v{j}`` present and
        of the right type, ``_x{j}`` the typed value — each computed once per cell."""
        first = ["*"]
        second = ["*"]
        for check, column, _ in self.checks:
            if check.prepare is not None:
                name = self._prepared(check, column, "")
                if f" AS {name}" not in " ".join(first):
                    first.append(f"{check.prepare(column.sql.column)} AS {name}")
        for column in self.columns:
            j = column.index
            first.append(f"{column.missing} AS _m{j}")
            if column.sql.valid == "TRUE":
                first.append(f"NOT {column.missing} AS _v{j}")
            else:
                first.append(
                    f"(NOT {column.missing} AND COALESCE({column.sql.valid}, FALSE)) AS _v{j}"
                )
            second.append(f"CASE WHEN _v{j} THEN {column.sql.value} END AS _x{j}")
        return f"SELECT {', '.join(second)} FROM (SELECT {', '.join(first)} FROM {source})"

    def _valid_in_bulk(self, column: _Column) -> str:
        """The type check of a column's cells for the filter: the SQL, but where a vector
        proves cells valid on the Arrow bytes first (fixed-width dates), for the others only."""
        sql = column.sql
        vector = fixed_date(sql.fixed_date) if sql.fixed_date else None
        if vector is None:
            return sql.valid
        name = f"_t{column.index}"
        self._vectors.setdefault(name, (vector, column.index))
        return f"CASE WHEN {name} THEN TRUE ELSE ({sql.valid}) END"

    def _failing_sql(self, column: _Column) -> tuple[str | None, bool]:
        """When a cell of ``column`` has at least one error (type, constraint, custom check),
        as a filter DuckDB evaluates lazily (an OR stops at the first true term); and whether
        it reads the typed value ``_x{j}`` (computed once per cell below the filter)."""
        item = column.field
        tests: list[str] = []
        for name in CONSTRAINT_ORDER:
            if name == "required" or item.constraints.get(name) is None:
                continue
            test = self._constraint(name, item.constraints[name], item, column)
            if test is not None:
                tests.append(f"({test})")
        checks = []
        if column.sql.valid != "TRUE":
            checks.append(f"({self._valid_in_bulk(column)}) IS NOT TRUE")
        if tests:
            checks.append(f"({' AND '.join(tests)}) IS NOT TRUE")
        for check, col, params in self.checks:
            if col is column:
                prepared = self._prepared(check, column, column.sql.column)
                checks.append(f"({check.sql(prepared, params)}) IS FALSE")
        uses_value = any(f"_x{column.index}" in test for test in tests)
        required = bool(item.constraints.get("required"))
        if not checks:
            return (column.missing if required else None), False
        if required:
            return f"({column.missing} OR {' OR '.join(checks)})", uses_value
        return f"(NOT {column.missing} AND ({' OR '.join(checks)}))", uses_value

    def _failing_in_bulk(self, column: _Column) -> bool:  # noqa: PLR0911 - one per reason
        """Register, when it can be computed exactly on the Arrow arrays, the failing cells of
        a text column (missing when required, ``pattern`` by a fixed-width vector, ``enum``,
        ``minLength``/``maxLength``) or of a boolean one (its true and false values): DuckDB
        then reads neither the column nor the check, only the row's ``_f``. True when so
        registered (or when the column has nothing to check)."""
        item = column.field
        sql = column.sql
        text = item.type in {"string", "any"} and sql.valid == "TRUE"
        if column.fabricated or not (text or sql.allowed is not None):
            return False
        if any(col is column for _, col, _ in self.checks):
            return False
        constraints = item.constraints
        names = [n for n in CONSTRAINT_ORDER if n != "required" and constraints.get(n) is not None]
        if any(n not in {"pattern", "enum", "minLength", "maxLength"} for n in names):
            return False
        if names and not text:
            return False  # a boolean's constraints compare typed values: SQL
        kinds = pa.array(sql.allowed, pa.string()) if sql.allowed is not None else None
        pattern = self._pattern(item, column) if "pattern" in names else None
        if pattern is not None and not pattern.startswith("_q"):
            return False  # a regex: DuckDB's (or Python's) engine
        enum = constraints.get("enum") if "enum" in names else None
        allowed = (
            pa.array([v if isinstance(v, str) else str(v) for v in enum], pa.string())
            if isinstance(enum, list)
            else None
        )
        if "enum" in names and allowed is None:
            return False
        low, high = constraints.get("minLength"), constraints.get("maxLength")
        low = low if isinstance(low, int) and "minLength" in names else None
        high = high if isinstance(high, int) and "maxLength" in names else None
        required = bool(constraints.get("required"))
        checked = (pattern, allowed, low, high, kinds)
        if not required and all(check is None for check in checked):
            return True  # nothing to check
        index = column.index
        name = f"c{index}"

        def failing(chunk: pa.Table, missing: Callable[[int], np.ndarray]) -> np.ndarray:
            values = chunk.column(name)
            absent = missing(index)
            ok = np.ones(len(values), dtype=bool)
            if kinds is not None:
                ok &= _bools(pc.is_in(values, value_set=kinds))
            if pattern is not None:
                ok &= _bools(chunk.column(pattern))
            if allowed is not None:
                ok &= _bools(pc.is_in(values, value_set=allowed))
            if low is not None or high is not None:
                lengths = _text_lengths(values, low, high)
                if low is not None:
                    ok &= lengths >= low
                if high is not None:
                    ok &= lengths <= high
            return absent | ~ok if required else ~absent & ~ok

        self._row_checks.append(failing)
        return True

    def _missing_in_bulk(self, column: _Column) -> Callable[[Any], np.ndarray]:
        """The cells of a column read as missing (null, or one of its missing values), as
        ``column.missing`` says in SQL, computed on the Arrow array."""
        values_missing = (
            ("",) if column.fabricated else self.schema.field_missing_values(column.field)
        )
        others = pa.array([v for v in values_missing if v != ""], pa.string())
        empty = "" in values_missing

        def missing(values: Any) -> np.ndarray:
            absent = np.array(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if empty:
                absent |= pc.fill_null(pc.binary_length(values), 1).to_numpy() == 0
            if len(others):
                absent |= _bools(pc.is_in(values, value_set=others))
            return absent

        return missing

    def _filter_sql(self) -> str:
        """The numbers of the rows of a chunk with at least one error: one pass, one lazy
        boolean expression; the errors themselves are described afterwards, from these rows
        only."""
        width = self.table.width
        failing: list[str] = []
        below = ["*"]
        for column in self.columns:
            if BULK_CHECKS and self._failing_in_bulk(column):
                continue
            condition, uses_value = self._failing_sql(column)
            if condition is not None:
                failing.append(condition)
            if uses_value:
                below.append(f"{column.sql.value} AS _x{column.index}")
        if self._row_checks:
            failing.insert(0, "_f")
        for check, column, _ in self.checks:
            name = self._prepared(check, column, "")
            if check.prepare is not None and not any(b.endswith(f" AS {name}") for b in below):
                # Computed once per cell below the filter (a check may use it many times).
                below.append(f"{check.prepare(column.sql.column)} AS {name}")
        failing.append(f"_n <> {width}")
        if not any(column.field.constraints.get("required") for column in self.columns):
            # A blank row of full width; when a field is required, its test catches it.
            if BULK_CHECKS:
                self._blank_check = True
                if "_f" not in failing:
                    failing.insert(0, "_f")
            else:
                blank = " AND ".join(column.missing for column in self.columns)
                failing.append(f"({blank})")
        source = f"(SELECT {', '.join(below)} FROM batch)" if len(below) > 1 else "batch"
        # Only the row numbers: DuckDB would otherwise convert every cell of the chunk from
        # Arrow; the few failing rows are then taken from the chunk by Arrow itself.
        return f"SELECT _row FROM {source} WHERE {' OR '.join(failing)}"

    def _describe_rows(self, source: str) -> None:
        """Every error of the failing rows ``source`` into ``errors``, :data:`DESCRIBE_ROWS`
        rows at a time (in file order): memory stays bounded however many rows fail."""
        starts = [
            row
            for (row,) in self.con.execute(
                f"SELECT _row FROM (SELECT _row, row_number() OVER (ORDER BY _row) AS i "
                f"FROM {source}) WHERE i % {DESCRIBE_ROWS} = 1 ORDER BY _row"
            ).fetchall()
        ]
        for index, start in enumerate(starts):
            where = f"_row >= {int(start)}"
            if index + 1 < len(starts):
                where += f" AND _row < {int(starts[index + 1])}"
            self._describe_slice(f"(SELECT * FROM {source} WHERE {where})")

    def _describe_slice(self, source: str) -> None:
        """Every error of the failing rows ``source`` into ``errors``: the rows are typed
        once into a small table, then each check is one filter over it."""
        con = self.con
        width = self.table.width
        blank = " AND ".join(f"_m{column.index}" for column in self.columns) or "FALSE"
        con.execute(
            f"CREATE OR REPLACE TABLE failing AS SELECT *, ({blank}) AS _blank "
            f"FROM ({self._typed_sql(source)})"
        )
        parts = [
            "SELECT _row, 0, 0, 0, 'blank-row', NULL, NULL FROM failing WHERE _blank",
            (
                f"SELECT _row, 2, {width + 1} + i, 0, 'extra-cell', _extra[i + 1], NULL FROM "
                "(SELECT _row, _extra, unnest(range(len(_extra)))::INTEGER AS i FROM failing "
                "WHERE NOT _blank AND _extra IS NOT NULL)"
            ),
        ]
        for column in self.columns:
            number = column.index + 1
            cell = column.sql.column
            for seq, (condition, code, note) in enumerate(self._cell_errors(column)):
                parts.append(
                    f"SELECT _row, 0, {number}, {seq}, {sql_string(code)}, COALESCE({cell}, ''), "
                    f"{sql_string(note)} FROM failing WHERE NOT _blank AND {condition}"
                )
            for seq, (check, params) in enumerate(
                (check, params) for check, col, params in self.checks if col is column
            ):
                test = check.sql(self._prepared(check, column, cell), params)
                code = sql_string(check.code)
                parts.append(
                    f"SELECT _row, 1, {number}, {seq}, {code}, {cell}, {code} FROM failing "
                    f"WHERE NOT _blank AND NOT _m{column.index} AND NOT COALESCE({test}, TRUE)"
                )
            parts.append(
                f"SELECT _row, 3, {number}, 0, 'missing-cell', '', NULL FROM failing "
                f"WHERE NOT _blank AND _n <= {column.index}"
            )
        con.execute("INSERT INTO errors " + " UNION ALL ".join(parts))
        con.execute("DROP TABLE failing")

    # ------------------------------------------------------------------------------------
    # run

    def run(self) -> Report:
        """Check every row; the report."""
        try:
            return self._run()
        finally:
            self.con.close()
            self._tmp.cleanup()

    def _run(self) -> Report:
        con = self.con
        con.execute(
            "CREATE TABLE errors (_row BIGINT, rank INTEGER, number INTEGER, seq INTEGER, "
            "code VARCHAR, cell VARCHAR, note VARCHAR)"
        )
        keys = self._key_plans()
        for name, expressions in keys.items():
            columns = ", ".join(f"k{i} {kind}" for i, (_, kind, _) in enumerate(expressions))
            raws = ", ".join(f"r{i} VARCHAR" for i in range(len(expressions)))
            con.execute(f"CREATE TABLE {name} (_row BIGINT, {columns}, {raws})")
        if self.options.duplicate_rows:
            con.execute("CREATE TABLE rowhash (_row BIGINT, h UBIGINT)")
        width = self.table.width
        cells = ", ".join(f'"c{i}"' for i in range(width))
        failing = self._filter_sql() if self.columns else None
        kept = False  # the failing rows, as read, go to the DuckDB table ``bad``…
        waiting: list[pa.Table] = []  # … a few chunks' worth at a time
        typed = self._typed_sql()
        rows = 0
        for chunk in self.table.chunks():
            batch = self._with_vectors(chunk)
            rows += batch.num_rows
            con.register("batch", batch)
            try:
                if failing is not None:
                    numbers = con.execute(failing).to_arrow_table().column(0)
                    if len(numbers):
                        waiting.append(_rows_of(batch, numbers))
                        if sum(t.num_rows for t in waiting) >= KEEP_ROWS:
                            self._keep(pa.concat_tables(waiting), create=not kept)
                            kept, waiting = True, []
                for name, expressions in keys.items():
                    values = ", ".join(expr for expr, _, _ in expressions)
                    raws = ", ".join(raw for _, _, raw in expressions)
                    con.execute(f"INSERT INTO {name} SELECT _row, {values}, {raws} FROM ({typed})")
                if self.options.duplicate_rows and width:
                    con.execute(
                        f"INSERT INTO rowhash SELECT _row, hash({cells}, _extra) FROM batch"
                    )
            finally:
                con.unregister("batch")
        if waiting:
            self._keep(pa.concat_tables(waiting), create=not kept)
            kept = True
        if kept:
            self._describe_rows("bad")
        self._table_checks(keys)
        report = self._report(rows)
        if self.options.invalid_rows is not None or self.options.keep_invalid_rows:
            report.invalid_rows = self._invalid_rows(kept)
        return report

    def _keep(self, rows: pa.Table, *, create: bool) -> None:
        """Add failing rows to ``bad`` (in DuckDB: within its memory limit, spilled beyond)."""
        self.con.register("failed_rows", rows)
        try:
            if create:
                self.con.execute("CREATE TABLE bad AS SELECT * FROM failed_rows")
            else:
                # By name: rows read again for the export have no custom-check columns.
                self.con.execute("INSERT INTO bad BY NAME SELECT * FROM failed_rows")
        finally:
            self.con.unregister("failed_rows")

    def _invalid_rows(self, kept: bool) -> InvalidRows:
        """The rows with at least one error, as written, with their number and errors: to
        ``options.invalid_rows`` (CSV) and/or the first ``keep_invalid_rows`` in memory."""
        con = self.con
        width = self.table.width
        cells = ", ".join(f'"c{i}"' for i in range(width))
        if not kept:
            types = ", ".join(f'"c{i}" VARCHAR' for i in range(width))
            con.execute(
                f"CREATE TABLE bad ({types}{', ' if width else ''}_row BIGINT, _n INTEGER, "
                "_extra VARCHAR[])"
            )
        others = [
            int(row)
            for (row,) in con.execute(
                "SELECT DISTINCT _row FROM errors WHERE _row NOT IN (SELECT _row FROM bad)"
            ).fetchall()
        ]
        if others:
            # Rows valid cell by cell but not as a whole (unique, primary and foreign keys,
            # duplicates): read again, only for this export.
            wanted = pa.array(others, pa.int64())
            for batch in self.table.batches():
                found = pa.Table.from_batches([batch]).filter(
                    pc.is_in(batch.column("_row"), wanted)
                )
                if found.num_rows:
                    self._keep(found, create=False)
        names = [column.field.name for column in self.columns]
        label = self._error_label_sql(names)
        extra = con.execute("SELECT COALESCE(max(len(_extra)), 0) FROM bad").fetchone()
        more = int(extra[0]) if extra else 0
        header = ["ligne", *self.table.labels, *(f"colonne {width + i + 1}" for i in range(more))]
        extra_cells = "".join(f", _extra[{i + 1}]" for i in range(more))
        sql = (
            f"SELECT b._row{', ' if width else ''}{cells}{extra_cells}, e.erreurs FROM bad b "
            "JOIN (SELECT _row, string_agg("
            f"{label}, ' ; ' ORDER BY rank, number, seq) AS erreurs FROM errors GROUP BY _row) "
            "e ON e._row = b._row ORDER BY b._row"
        )
        result = InvalidRows(header=[*header, "erreurs"])
        limit = self.options.keep_invalid_rows
        target = self.options.invalid_rows
        reader = con.execute(sql).to_arrow_reader(8192)
        with contextlib.ExitStack() as stack:
            writer = None
            if target is not None:
                handle = stack.enter_context(
                    Path(target).open(
                        "w",
                        encoding="utf-8-sig" if self.options.invalid_rows_bom else "utf-8",
                        newline="",
                    )
                )
                writer = csv.writer(handle)
                writer.writerow(result.header)
            for batch in reader:
                rows = [list(values) for values in zip(*batch.to_pydict().values(), strict=True)]
                result.count += len(rows)
                if writer is not None:
                    writer.writerows(rows)
                room = limit - len(result.rows)
                if room > 0:
                    result.rows.extend(
                        [str(v) if v is not None else "" for v in row] for row in rows[:room]
                    )
                elif writer is None:
                    break
        result.truncated = result.count > len(result.rows)
        return result

    def _error_label_sql(self, names: list[str]) -> str:
        """SQL: one error of ``errors`` as « code (field) », for the invalid rows' column."""
        listed = "[" + ", ".join(sql_string(name) for name in names) + "]" if names else "[]"
        keys = ", ".join(self.schema.primary_key)
        foreign = " ".join(
            f"WHEN {sql_string(name)} THEN {sql_string(', '.join(fk.fields))}"
            for name, fk in getattr(self, "_foreign", [])
        )
        target = (
            f"CASE WHEN code = 'primary-key' THEN {sql_string(keys)} "
            + (f"WHEN code = 'foreign-key' THEN CASE note {foreign} END " if foreign else "")
            + f"WHEN number BETWEEN 1 AND {len(names)} THEN {listed}[number] "
            + "WHEN number > 0 THEN 'colonne ' || number END"
        )
        return f"code || COALESCE(' (' || {target} || ')', '')"

    def _key_plans(self) -> dict[str, list[tuple[str, str, str]]]:
        """Tables of typed key values to fill per batch: unique fields, primary key, FKs."""
        by_name = {column.field.name: column for column in self.columns if not column.fabricated}
        plans: dict[str, list[tuple[str, str, str]]] = {}

        def key(column: _Column) -> tuple[str, str, str]:
            return (
                f"CAST(_x{column.index} AS VARCHAR)",
                "VARCHAR",
                column.sql.column,
            )

        for column in self.columns:
            if column.field.constraints.get("unique") and not column.fabricated:
                plans[f"u{column.index}"] = [key(column)]
        primary = self.schema.primary_key
        if primary and all(name in by_name for name in primary):
            plans["pk"] = [key(by_name[name]) for name in primary]
        self._foreign: list[tuple[str, ForeignKey]] = []
        for number, foreign in enumerate(self.schema.foreign_keys):
            if not all(name in by_name for name in foreign.fields):
                continue
            name = f"fk{number}"
            plans[name] = [key(by_name[f]) for f in foreign.fields]
            if not foreign.reference:
                if not all(f in by_name for f in foreign.reference_fields):
                    self.warnings.append(
                        f"clé étrangère vers {', '.join(foreign.reference_fields)} : champ(s) "
                        "absent(s) du fichier, non vérifiée"
                    )
                    del plans[name]
                    continue
                plans[f"{name}ref"] = [key(by_name[f]) for f in foreign.reference_fields]
            self._foreign.append((name, foreign))
        return plans

    def _table_checks(self, keys: dict[str, list[tuple[str, str, str]]]) -> None:
        con = self.con
        for name in keys:
            if not name.startswith("u"):
                continue
            index = int(name[1:])
            con.execute(
                f"INSERT INTO errors SELECT _row, 4, {index + 1}, 0, 'unique-error', r0, "
                f"CAST(previous AS VARCHAR) FROM (SELECT _row, r0, lag(_row) OVER "
                f"(PARTITION BY k0 ORDER BY _row) AS previous FROM {name} WHERE k0 IS NOT NULL) "
                "WHERE previous IS NOT NULL"
            )
        if "pk" in keys:
            count = len(keys["pk"])
            all_null = " AND ".join(f"k{i} IS NULL" for i in range(count))
            parts = ", ".join(f"k{i}" for i in range(count))
            cells = " || ', ' || ".join(f"COALESCE(r{i}, '')" for i in range(count))
            con.execute(
                f"INSERT INTO errors SELECT _row, 5, 0, 0, 'primary-key', {cells}, 'blank' "
                f"FROM pk WHERE {all_null}"
            )
            con.execute(
                f"INSERT INTO errors SELECT _row, 5, 0, 0, 'primary-key', cells, "
                f"CAST(previous AS VARCHAR) FROM (SELECT _row, {cells} AS cells, lag(_row) OVER "
                f"(PARTITION BY {parts} ORDER BY _row) AS previous FROM pk "
                f"WHERE NOT ({all_null})) WHERE previous IS NOT NULL"
            )
        for name, foreign in self._foreign:
            self._foreign_key(name, foreign, len(keys[name]))
        if self.options.duplicate_rows:
            con.execute(
                "INSERT INTO errors SELECT _row, 6, 0, 0, 'duplicate-row', NULL, "
                "CAST(previous AS VARCHAR) FROM (SELECT _row, lag(_row) OVER (PARTITION BY h "
                "ORDER BY _row) AS previous FROM rowhash) WHERE previous IS NOT NULL "
                "AND _row NOT IN (SELECT _row FROM errors WHERE code = 'blank-row')"
            )

    def _foreign_key(self, name: str, foreign: ForeignKey, count: int) -> None:
        con = self.con
        if foreign.reference:
            resolver = self.options.resolver
            found = resolver(foreign.reference, foreign.reference_fields) if resolver else None
            if found is None:
                found = reference_table(foreign.reference, foreign.reference_fields)
            if found is None:
                self.warnings.append(
                    f"clé étrangère vers « {foreign.reference} » : table de référence "
                    "inconnue, non vérifiée"
                )
                return
            renamed = found.select(foreign.reference_fields).rename_columns(
                [f"k{i}" for i in range(count)]
            )
            casted = pa.table({f"k{i}": renamed.column(i).cast(pa.string()) for i in range(count)})
            con.register(f"{name}ref_arrow", casted)
            con.execute(f"CREATE TABLE {name}ref AS SELECT * FROM {name}ref_arrow")
            con.unregister(f"{name}ref_arrow")
        parts = ", ".join(f"k{i}" for i in range(count))
        all_null = " AND ".join(f"k{i} IS NULL" for i in range(count))
        cells = " || ', ' || ".join(f"COALESCE(r{i}, '')" for i in range(count))
        match = " AND ".join(f"f.k{i} IS NOT DISTINCT FROM r.k{i}" for i in range(count))
        con.execute(
            f"INSERT INTO errors SELECT f._row, 7, 0, 0, 'foreign-key', {cells}, "
            f"{sql_string(name)} FROM {name} f WHERE NOT ({all_null}) AND NOT EXISTS "
            f"(SELECT 1 FROM (SELECT DISTINCT {parts} FROM {name}ref WHERE NOT ({all_null})) r "
            f"WHERE {match})"
        )

    # ------------------------------------------------------------------------------------
    # report

    def _report(self, rows: int) -> Report:
        con = self.con
        by_number = {column.index + 1: column for column in self.columns}
        counts: dict[str, int] = {}
        per_field: dict[str, dict[str, int]] = {}
        for code, number, count in con.execute(
            "SELECT code, number, count(*) FROM errors GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            counts[code] = counts.get(code, 0) + int(count)
            column = by_number.get(int(number))
            key = column.field.name if column is not None else ""
            per_field.setdefault(key, {})
            per_field[key][code] = per_field[key].get(code, 0) + int(count)
        for error in self.header_errors:
            counts[error.code] = counts.get(error.code, 0) + 1
        limit = max(0, self.options.max_errors - len(self.header_errors))
        details = con.execute(
            "SELECT _row, number, code, cell, note FROM errors "
            f"ORDER BY _row, rank, number, seq LIMIT {limit}"
        ).fetchall()
        errors = list(self.header_errors[: self.options.max_errors])
        for row, number, code, cell, note in details:
            errors.append(self._describe(int(row), int(number), code, cell, note, by_number))
        first: dict[str, list[ValidationError]] = {}
        if self.options.per_field:
            for row, number, code, cell, note in con.execute(
                "SELECT _row, number, code, cell, note FROM (SELECT *, row_number() OVER "
                "(PARTITION BY number, CASE code WHEN 'primary-key' THEN 'pk' WHEN 'foreign-key' "
                "THEN note END "
                "ORDER BY _row, rank, seq) AS k FROM errors) "
                f"WHERE k <= {int(self.options.per_field)} ORDER BY number, _row, rank, seq"
            ).fetchall():
                error = self._describe(int(row), int(number), code, cell, note, by_number)
                first.setdefault(error.field or "", []).append(error)
        total = sum(counts.values())
        return Report(
            valid=total == 0,
            schema=self.schema.as_dict(),
            dialect=self.table.dialect.as_dict(),
            labels=self.table.labels,
            stats={
                "rows": rows,
                "fields": len(self.columns),
                "errors": total,
                "bytes": self.table.bytes_total,
            },
            counts=counts,
            counts_by_field=per_field,
            errors=errors,
            truncated=total > len(errors),
            warnings=self.warnings,
            path=str(self.table.path.name),
            first_by_field=first,
        )

    def _describe(
        self,
        row: int,
        number: int,
        code: str,
        cell: str | None,
        note: str | None,
        by_number: dict[int, _Column],
    ) -> ValidationError:
        column = by_number.get(number)
        if code in {"primary-key", "foreign-key"}:
            return self._describe_key(row, code, cell, note)
        name = column.field.name if column is not None else None
        error = ValidationError(code, row=row, field=name, number=number or None, cell=cell)
        if column is None:
            return error
        item = column.field
        if code == "type-error":
            error.note = column.sql.note
            error.note_en = column.sql.note_en
            error.fix = column.sql.fix
        elif code == "constraint-error" and note is not None:
            error.note, error.note_en, error.fix, error.constraint = _constraint_text(
                note, item, cell or ""
            )
        elif code == "unique-error":
            error.note = f"à la ligne {note}"
            error.note_en = f"the same as in row {note}"
        elif code in CUSTOM_CHECKS:
            check = CUSTOM_CHECKS[code]
            error.note, error.note_en, error.fix = check.explain(cell or "")
        return error

    def _describe_key(
        self, row: int, code: str, cell: str | None, note: str | None
    ) -> ValidationError:
        if code == "primary-key":
            names = ", ".join(self.schema.primary_key)
            error = ValidationError(code, row=row, field=names, cell=cell)
            if note == "blank":
                error.note, error.note_en = "est vide", "is blank"
            else:
                error.note = f"« {cell} » existe déjà à la ligne {note}"
                error.note_en = f'"{cell}" is the same as in row {note}'
            return error
        foreign = next(f for name, f in self._foreign if name == note)
        target = foreign.reference or "ce fichier"
        error = ValidationError(code, row=row, field=", ".join(foreign.fields), cell=cell)
        error.note = f"n'existe pas dans {target} ({', '.join(foreign.reference_fields)})"
        error.note_en = f"is not found in {target} ({', '.join(foreign.reference_fields)})"
        error.reference = target
        return error


def _text_lengths(values: Any, low: int | None, high: int | None) -> np.ndarray:
    """Lengths in characters, as ``length()`` counts them, exact wherever they decide
    ``low <= length <= high``: a text of n bytes has between n / 4 and n characters, so
    only texts longer than ``high`` bytes or shorter than ``4 * low`` are counted."""
    sizes: Any = pc.fill_null(pc.binary_length(values), 0)
    lengths: np.ndarray = np.asarray(sizes.to_numpy(), dtype=np.int64)
    exact = np.zeros(len(lengths), dtype=bool)
    if high is not None:
        exact |= lengths > high
    if low is not None:
        exact |= lengths < 4 * low
    if exact.any():
        rows = np.flatnonzero(exact)
        taken: Any = values.take(pa.array(rows, pa.int64()))
        counted: Any = pc.fill_null(pc.utf8_length(taken), 0)
        lengths[rows] = counted.to_numpy()
    return lengths


def _bools(values: Any) -> np.ndarray:
    """A boolean Arrow array as NumPy booleans, null as false."""
    return np.asarray(
        pc.fill_null(values, False).to_numpy(zero_copy_only=False),  # noqa: FBT003 - a value
        dtype=bool,
    )


DESCRIBE_ROWS = 16_384
"""Failing rows typed and described at once, at the end (a slice of the table ``bad``)."""

KEEP_ROWS = 32_768
"""Failing rows gathered in memory before they go to DuckDB at once (one insert each)."""


def _rows_of(batch: pa.Table, numbers: pa.ChunkedArray[Any]) -> pa.Table:
    """The rows of ``batch`` whose ``_row`` is in ``numbers``, in file order: taken by
    position from each record batch that holds some (a binary search in its sorted row
    numbers); a ``take`` or a ``filter`` on the whole table would copy every column."""
    wanted = np.sort(numbers.to_numpy())
    taken: list[pa.RecordBatch] = []
    found = 0
    last = -1
    for part in batch.to_batches():
        rows = part.column("_row").to_numpy()
        if not len(rows):
            continue
        if rows[0] <= last or (len(rows) > 1 and not bool((rows[1:] > rows[:-1]).all())):
            break  # not in file order: the filter below
        last = int(rows[-1])
        start = int(np.searchsorted(wanted, rows[0], side="left"))
        stop = int(np.searchsorted(wanted, rows[-1], side="right"))
        if stop == start:
            continue
        positions = np.searchsorted(rows, wanted[start:stop])
        if not np.array_equal(rows[np.minimum(positions, len(rows) - 1)], wanted[start:stop]):
            break
        taken.append(part.take(positions))
        found += stop - start
    else:
        if found == len(wanted):
            return pa.Table.from_batches(taken, schema=batch.schema).combine_chunks()
    return batch.filter(pc.is_in(batch.column("_row"), numbers)).combine_chunks()


def _constraint_text(name: str, item: Field, cell: str) -> tuple[str, str, str, str]:
    value = item.constraints.get(name)
    if name == "required":
        return (
            "valeur obligatoire manquante",
            "a value is required",
            "Remplissez cette cellule : le champ est obligatoire.",
            name,
        )
    if name in {"minLength", "maxLength"}:
        word = "au moins" if name == "minLength" else "au plus"
        return (
            f"« {_clip(cell)} » doit faire {word} {value} caractères",
            f'"{_clip(cell)}" breaks {name} {value}',
            f"Écrivez une valeur de {word} {value} caractères.",
            name,
        )
    if name == "pattern":
        return (
            f"« {_clip(cell)} » ne respecte pas le format attendu ({value})",
            f'"{_clip(cell)}" does not match the pattern {value}',
            _pattern_hint(item),
            name,
        )
    if name == "enum":
        allowed = ", ".join(f"« {v} »" for v in (value or [])[:20])
        more = " …" if len(value or []) > 20 else ""
        return (
            f"« {_clip(cell)} » ne fait pas partie des valeurs autorisées",
            f'"{_clip(cell)}" is not one of the allowed values',
            (
                f"Utilisez une des valeurs autorisées : {allowed}{more} (majuscules et accents "
                "compris)."
            ),
            name,
        )
    words = {
        "minimum": ("inférieur au minimum", "below the minimum", "au moins"),
        "maximum": ("supérieur au maximum", "above the maximum", "au plus"),
        "exclusiveMinimum": ("inférieur ou égal au minimum exclu", "not above", "plus de"),
        "exclusiveMaximum": ("supérieur ou égal au maximum exclu", "not below", "moins de"),
    }[name]
    return (
        f"« {_clip(cell)} » est {words[0]} {value}",
        f'"{_clip(cell)}" is {words[1]} {value}',
        f"Corrigez la valeur : elle doit valoir {words[2]} {value}.",
        name,
    )


def _pattern_hint(item: Field) -> str:
    example = None
    if item.description and "ex" in item.description.lower():
        example = None
    if item.title:
        return f"Suivez le format du champ « {item.title} » décrit par le schéma."
    return example or "Suivez le format décrit par le schéma pour ce champ."


def _clip(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def iter_codes(report: Report) -> Iterable[str]:
    """The codes of a report's detailed errors (tests)."""
    return (error.code for error in report.errors)
