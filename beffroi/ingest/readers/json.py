"""JSON tables: an array of objects (or of rows), NDJSON, or records inside a wrapper object.

Read in two streaming passes, so that memory stays bounded whatever the file's size: the first
finds every column (a key may appear only in the last record) and its kinds of values, the
second builds the batches. Files up to :data:`CACHE_BYTES` are parsed once and kept.

Nested objects are flattened with dotted names (``adresse.commune``); arrays are kept as JSON
text. A column whose values are all booleans, all integers or all numbers gets that Arrow
type (``bool``, ``int64``, ``float64``); any other column is text, with numbers and booleans
written as in JSON (``12``, ``0.5``, ``true``).

In a wrapper object (``{"marches": {"marche": [...]}}``) the first array of objects is read,
unless ``ReadOptions.sheet`` names another (``marches.contrat-concession`` or just its key).
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from beffroi.errors import InvalidFileError
from beffroi.ingest import sniff
from beffroi.ingest.model import Dialect, ReadOptions
from beffroi.ingest.readers._common import BaseSource, naming_notes, unique_names
from beffroi.ingest.sniff import EncodingGuess, invalid

CACHE_BYTES = 16 << 20
"""Files up to this size are parsed once (records kept in memory between the two passes)."""

CHUNK_CHARS = 1 << 20
MAX_DEPTH = 3
"""How deep to look for the array of records inside wrapper objects."""

FLATTEN_DEPTH = 10
"""Objects nested deeper than this stay JSON text."""

_WS = re.compile(r"[ \t\r\n\x1e]*")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SAFE_INT = 1 << 53

Record = dict[str, Any]


def encoding_of(path: Path, options: ReadOptions) -> EncodingGuess:
    """The encoding of a JSON file (UTF-8 normally; BOMs, UTF-16 and cp1252 tolerated)."""
    with path.open("rb") as handle:
        sample = handle.read(sniff.SAMPLE_BYTES)
    if options.encoding:
        return sniff.resolve_encoding(options.encoding, sample, path)
    complete = len(sample) < sniff.SAMPLE_BYTES
    return sniff.detect_encoding(sample, complete=complete, path=path)


class JsonText:
    """A JSON document read incrementally: one value at a time, never the whole text."""

    def __init__(self, path: Path, guess: EncodingGuess, counter: list[int]) -> None:
        self.path = path
        self._file = path.open("rb")
        self._file.seek(len(guess.bom))
        self._guess = guess
        self._decoder = codecs.getincrementaldecoder(guess.codec)(errors="strict")
        self._json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._lines = 0  # line breaks before buf[0]
        self._counter = counter
        counter[0] = len(guess.bom)

    def close(self) -> None:
        self._file.close()

    def _more(self) -> int:
        """Read more text; returns how far the buffer moved (characters dropped at its start)."""
        if self.eof:
            return 0
        chunk = self._file.read(CHUNK_CHARS)
        self._counter[0] += len(chunk)
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            line = self._lines + self.buf.count("\n") + 1
            raise sniff.decode_error(error, self._guess, self.path, line=line) from None
        if not chunk:
            self.eof = True
        shift = self.pos
        self._lines += self.buf.count("\n", 0, shift)
        self.buf = self.buf[shift:] + text
        self.pos = 0
        return shift

    def peek(self) -> str:
        """The next non-blank character (not consumed), ``""`` at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self._more()

    def peek_inside(self) -> str:
        """The first non-blank character after the current ``[`` or ``{`` (not consumed)."""
        offset = 1
        while True:
            index = _WS.match(self.buf, self.pos + offset).end()  # type: ignore[union-attr]
            if index < len(self.buf):
                return self.buf[index]
            if self.eof:
                return ""
            self._more()

    def take(self, char: str) -> None:
        """Consume ``char`` (after blanks), or fail."""
        found = self.peek()
        if found != char:
            raise self.error(
                f"« {char} » attendu, « {found or 'fin du fichier'} » trouvé",
                f"'{char}' expected, '{found or 'end of file'}' found",
            )
        self.pos += 1

    def value(self) -> Any:
        """Decode the next complete value."""
        self.peek()
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as error:
                incomplete = error.msg.startswith("Unterminated") or error.pos >= len(self.buf) - 8
                if self.eof or not incomplete:
                    raise self.error(
                        _french(error.msg), _english(error.msg), at=error.pos
                    ) from None
                if len(self.buf) - self.pos > sniff.MAX_LINE_BYTES:
                    raise self.error(
                        f"valeur de plus de {sniff.MAX_LINE_BYTES // (1 << 20)} Mo",
                        f"value longer than {sniff.MAX_LINE_BYTES // (1 << 20)} MB",
                    ) from None
                self._more()
                continue
            if end >= len(self.buf) and not self.eof and isinstance(value, int | float):
                self._more()  # "12" may be the start of "1234"
                continue
            self.pos = end
            return value

    def skip(self) -> None:
        """Consume the next value (decoded, then forgotten)."""
        self.value()

    def items(self) -> Iterator[Any]:
        """The elements of the array starting here."""
        self.take("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            found = self.peek()
            if found == ",":
                self.pos += 1
                continue
            if found == "]":
                self.pos += 1
                return
            raise self.error(
                f"« , » ou « ] » attendu, « {found or 'fin du fichier'} » trouvé",
                f"',' or ']' expected, '{found or 'end of file'}' found",
            )

    def members(self) -> Iterator[str]:
        """The keys of the object starting here; the caller consumes each key's value."""
        self.take("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self.error("nom de propriété attendu", "property name expected")
            self.take(":")
            yield key
            found = self.peek()
            if found == ",":
                self.pos += 1
                continue
            if found == "}":
                self.pos += 1
                return
            raise self.error(
                f"« , » ou « }} » attendu, « {found or 'fin du fichier'} » trouvé",
                f"',' or '}}' expected, '{found or 'end of file'}' found",
            )

    def error(self, reason: str, reason_en: str, at: int | None = None) -> InvalidFileError:
        """A JSON syntax error at the current position (or ``at``); ``reason`` in French and
        in English."""
        position = self.pos if at is None else at
        line = self._lines + self.buf.count("\n", 0, position) + 1
        column = position - self.buf.rfind("\n", 0, position)
        return invalid(
            f"JSON invalide ligne {line}, colonne {column} : {reason}.",
            "Vérifiez le fichier avec un validateur JSON (virgule en trop, guillemet manquant, "
            "fichier tronqué) et envoyez-le à nouveau.",
            self.path,
            message_en=f"Invalid JSON on line {line}, column {column}: {reason_en}.",
            hint_en="Check the file with a JSON validator (extra comma, missing quote, truncated "
            "file) and send it again.",
            line=line,
            column=column,
            value=self.buf[position : position + 40] or None,
        )


def _french(message: str) -> str:
    known = {
        "Expecting value": "valeur attendue",
        "Expecting ',' delimiter": "virgule attendue",
        "Expecting ':' delimiter": "deux-points attendus",
        "Expecting property name enclosed in double quotes": (
            "nom de propriété entre guillemets doubles attendu"
        ),
        "Unterminated string starting at": "chaîne jamais refermée",
        "Extra data": "données en trop après la fin",
        "Invalid control character at": "caractère de contrôle dans une chaîne",
    }
    return known.get(message, message)


def _english(message: str) -> str:
    """Python's JSON messages in plain English (``Expecting value`` → ``a value was
    expected``); others as they are."""
    known = {
        "Expecting value": "a value was expected",
        "Expecting ',' delimiter": "a comma was expected",
        "Expecting ':' delimiter": "a colon was expected",
        "Expecting property name enclosed in double quotes": (
            "a property name in double quotes was expected"
        ),
        "Unterminated string starting at": "a string is never closed",
        "Extra data": "extra data after the end",
        "Invalid control character at": "a control character inside a string",
    }
    return known.get(message, message)


def ndjson_lines(path: Path, guess: EncodingGuess, counter: list[int]) -> Iterator[Any]:
    """The values of a JSON-lines file (blank lines skipped; RS separators of RFC 8142 too)."""
    with path.open("rb") as raw:
        raw.seek(len(guess.bom))
        counter[0] = len(guess.bom)
        text = io.TextIOWrapper(raw, encoding=guess.codec, newline=None)
        number = 0
        try:
            while True:
                line = text.readline(sniff.MAX_LINE_BYTES + 1)
                if not line:
                    break
                number += 1
                if len(line) > sniff.MAX_LINE_BYTES and not line.endswith("\n"):
                    raise invalid(
                        f"La ligne {number} dépasse {sniff.MAX_LINE_BYTES // (1 << 20)} Mo.",
                        "Vérifiez que le fichier a bien une valeur JSON par ligne.",
                        path,
                        message_en=f"Line {number} is longer than "
                        f"{sniff.MAX_LINE_BYTES // (1 << 20)} MB.",
                        hint_en="Check that the file has one JSON value per line.",
                        line=number,
                    )
                stripped = line.strip("\x1e \t\r\n")
                if not stripped:
                    continue
                try:
                    yield json.loads(stripped)
                except json.JSONDecodeError as error:
                    raise invalid(
                        f"JSON invalide ligne {number}, colonne {error.colno} : "
                        f"{_french(error.msg)}.",
                        "Chaque ligne doit être une valeur JSON complète (format NDJSON).",
                        path,
                        message_en=f"Invalid JSON on line {number}, column {error.colno}: "
                        f"{_english(error.msg)}.",
                        hint_en="Each line must be a complete JSON value (NDJSON format).",
                        line=number,
                        column=error.colno,
                        value=stripped[:80],
                    ) from None
                if number % 4096 == 0:
                    counter[0] = raw.tell()
        except UnicodeDecodeError as error:
            raise sniff.decode_error(error, guess, path, line=number + 1) from None
        counter[0] = raw.tell()


def flatten(record: dict[str, Any], prefix: str = "", depth: int = 0) -> Record:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; arrays (and too deep objects) stay as they are."""
    out: Record = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < FLATTEN_DEPTH:
            out.update(flatten(value, f"{name}.", depth + 1))
        else:
            out[name] = None if isinstance(value, dict) and not value else value
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            return "text"
        return "int" if abs(value) <= _SAFE_INT else "bigint"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "text"  # arrays, deep objects


def to_text(value: Any) -> str | None:
    """Any JSON value as text: strings as they are, the rest as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@dataclass
class Columns:
    """Columns met so far (first-seen order) with the kinds of their values."""

    kinds: dict[str, set[str]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        """Account for one flattened record."""
        for key, value in record.items():
            kinds = self.kinds.setdefault(key, set())
            if value is not None:
                kinds.add(_kind(value))

    def arrow_type(self, key: str) -> pa.DataType:
        """``bool``/``int64``/``float64`` for homogeneous columns, else ``string``."""
        kinds = self.kinds[key]
        if kinds == {"bool"}:
            return pa.bool_()
        if kinds and kinds <= {"int", "bigint"}:
            return pa.int64()
        if kinds and kinds <= {"int", "float"} and "float" in kinds:
            return pa.float64()
        return pa.string()


RecordMapper = Callable[[Any], Record | None]


class JsonSource(BaseSource):
    """Records from a JSON document, read in two passes (columns, then batches).

    Record keys starting with ``\x00`` are special columns (``\x00geometry``): shown without
    the prefix, and their names win over same-named plain keys (which get ``_2``).
    """

    def __init__(
        self,
        path: Path,
        size: int,
        dialect: Dialect,
        items: Callable[[list[int]], Iterator[Any]],
        mapper: Callable[[], RecordMapper],
        options: ReadOptions,
        *,
        first: Iterable[str] = (),
        last: Iterable[str] = (),
    ) -> None:
        self._items = items
        self._mapper = mapper
        self._options = options
        self._counter = [0]
        self._cache: list[Record] | None = [] if size <= CACHE_BYTES else None
        columns = Columns()
        rows = 0
        for record in self._records():
            columns.add(record)
            rows += 1
            if self._cache is not None:
                self._cache.append(record)
        head, tail = list(first), list(last)
        self._keys = [
            *(k for k in head if k in columns.kinds),
            *(k for k in columns.kinds if k not in head and k not in tail),
            *(k for k in tail if k in columns.kinds),
        ]
        special = [key[1:] for key in self._keys if key.startswith("\x00")]
        plain = [key for key in self._keys if not key.startswith("\x00")]
        plain_names = iter(unique_names(plain, reserved=special))
        names = [key[1:] if key.startswith("\x00") else next(plain_names) for key in self._keys]
        self._types = [columns.arrow_type(key) for key in self._keys]
        self.rows = rows
        shown = [key[1:] if key.startswith("\x00") else key for key in self._keys]
        dialect.notes.extend(naming_notes(shown, names))
        super().__init__(path, dialect, names, size)
        self._schema = pa.schema(
            [pa.field(name, kind) for name, kind in zip(names, self._types, strict=True)]
        )

    def bytes_read(self) -> int:
        """Progress: bytes of the input consumed so far."""
        return self._counter[0]

    def _records(self) -> Iterator[Record]:
        mapper = self._mapper()
        for item in self._items(self._counter):
            record = mapper(item)
            if record is not None:
                yield record

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The records, ``batch_rows`` at a time, with the columns found by the first pass."""
        source: Iterable[Record] = self._cache if self._cache is not None else self._records()
        chunk: list[Record] = []
        for record in source:
            chunk.append(record)
            if len(chunk) >= self._options.batch_rows:
                yield self._batch(chunk)
                chunk = []
        if chunk:
            yield self._batch(chunk)
        self._counter[0] = self.bytes_total

    def _batch(self, records: list[Record]) -> pa.RecordBatch:
        arrays: list[pa.Array[Any]] = []
        for key, kind in zip(self._keys, self._types, strict=True):
            values = [record.get(key) for record in records]
            if kind == pa.string():
                arrays.append(pa.array([to_text(v) for v in values], type=pa.string()))
            elif kind == pa.float64():
                arrays.append(pa.array([None if v is None else float(v) for v in values], kind))
            else:
                arrays.append(pa.array(values, type=kind))
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)


class RowMapper:
    """Turns array elements into records: objects flattened, ``[["id", …], [1, …]]`` rows."""

    def __init__(self) -> None:
        self.header: list[str] | None = None
        self.first = True

    def __call__(self, item: Any) -> Record | None:
        first, self.first = self.first, False
        if isinstance(item, dict):
            return flatten(item)
        if isinstance(item, list):
            if first and item and all(isinstance(v, str) for v in item):
                self.header = [str(v) for v in item]
                return None
            names = self.header or []
            return {
                (names[i] if i < len(names) else f"colonne_{i + 1}"): value
                for i, value in enumerate(item)
            }
        return {"valeur": item}


def records_path(text: JsonText, wanted: list[str] | None, depth: int = 0) -> list[str] | None:
    """Walk a wrapper object to the array of records; returns its path (text left there)."""
    for key in text.members():
        if wanted is not None and key != wanted[0]:
            text.skip()
            continue
        found = text.peek()
        rest = wanted[1:] if wanted is not None else None
        if found == "[" and (wanted is None or not rest):
            if wanted is not None or text.peek_inside() in {"{", "["}:
                return [key]
        elif found == "{" and depth < MAX_DEPTH and (wanted is None or rest):
            inner = records_path(text, rest, depth + 1)
            if inner is not None:
                return [key, *inner]
            continue
        text.skip()
    return None


def all_record_paths(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Every array of objects inside a (small, loaded) document, by dotted path."""
    paths: list[str] = []
    if isinstance(value, dict) and depth <= MAX_DEPTH:
        for key, inner in value.items():
            name = f"{prefix}{key}"
            if isinstance(inner, list) and inner and isinstance(inner[0], dict | list):
                paths.append(name)
            elif isinstance(inner, dict):
                paths.extend(all_record_paths(inner, f"{name}.", depth + 1))
    return paths


def open_json(path: Path, options: ReadOptions, size: int, fmt: str) -> JsonSource:
    """Open a JSON or NDJSON table."""
    guess = encoding_of(path, options)
    dialect = Dialect(format=fmt, encoding=guess.name)
    if guess.note:
        dialect.notes.append(guess.note)
    if fmt == "ndjson":

        def lines(counter: list[int]) -> Iterator[Any]:
            return ndjson_lines(path, guess, counter)

        return JsonSource(path, size, dialect, lines, RowMapper, options)
    probe = JsonText(path, guess, [0])
    try:
        start = probe.peek()
        path_keys: list[str] | None = None
        if start == "{":
            wanted = options.sheet.split(".") if options.sheet else None
            path_keys = records_path(probe, wanted)
            if path_keys is None and wanted is not None:
                raise invalid(
                    f"Tableau « {options.sheet} » introuvable dans le document JSON.",
                    "Indiquez le chemin d'un tableau d'objets, par exemple --sheet marches.marche.",
                    path,
                    message_en=f"Array '{options.sheet}' not found in the JSON document.",
                    hint_en="Give the path of an array of objects, for example "
                    "--sheet marches.marche.",
                    value=options.sheet,
                )
        elif start != "[":
            raise probe.error("tableau ou objet JSON attendu", "JSON array or object expected")
    finally:
        probe.close()
    if start == "{" and path_keys is None:

        def whole(counter: list[int]) -> Iterator[Any]:
            text = JsonText(path, guess, counter)
            try:
                yield text.value()  # a single object: one row
            finally:
                text.close()

        dialect.notes.append("objet JSON unique : une seule ligne")
        return JsonSource(path, size, dialect, whole, RowMapper, options)
    if path_keys is not None:
        dialect.sheet = ".".join(path_keys)
        dialect.notes.append(f"enregistrements lus dans « {dialect.sheet} »")
        if size <= CACHE_BYTES:
            others = [p for p in all_record_paths(load_small(path, guess)) if p != dialect.sheet]
            if others:
                dialect.notes.append(
                    f"autres tableaux : {', '.join(others)} (--sheet pour en choisir un)"
                )

    def elements(counter: list[int]) -> Iterator[Any]:
        text = JsonText(path, guess, counter)
        try:
            if path_keys is not None:
                records_path(text, path_keys)
            yield from text.items()
            if path_keys is None and text.peek() != "":
                raise text.error(
                    "données en trop après la fin du tableau", "extra data after the array's end"
                )
        finally:
            text.close()

    return JsonSource(path, size, dialect, elements, RowMapper, options)


def load_small(path: Path, guess: EncodingGuess) -> Any:
    """A small document, loaded whole for notes; ``None`` when it does not parse (the
    streaming passes report where)."""
    data = path.read_bytes()[len(guess.bom) :]
    try:
        return json.loads(data.decode(guess.codec))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
