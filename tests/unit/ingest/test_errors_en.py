"""Every ingestion error speaks French *and* English, with the same file, line, column, value.

The bad files are the ones ``test_readers.py``, ``test_sniff.py`` and ``test_infer.py``
already refuse; here each refusal is checked for an English message and hint that name the
same place and value as the French ones, and give the same fix (``--encoding cp1252``…).
A guard walks the source of ``beffroi/ingest/`` so that no error can be added in French only.
"""

from __future__ import annotations

import ast
import codecs
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beffroi.errors import (
    BeffroiError,
    InvalidFileError,
    InvalidInputError,
    NotFoundError,
    all_error_classes,
)
from beffroi.ingest import sniff
from beffroi.ingest.infer import convert, infer_schema
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.readers import csv as csv_reader
from beffroi.ingest.readers import open_table
from beffroi.ingest.readers._common import human_bytes, human_bytes_en
from tests.conftest import REPO, SHARED_DATA
from tests.unit.ingest.test_readers import write_xlsx

INGEST = REPO / "beffroi" / "ingest"


# --------------------------------------------------------------------------------------------
# BeffroiError.localized


def test_localized_picks_the_language_and_falls_back_to_french() -> None:
    both = BeffroiError("Message", hint="Conseil", message_en="Message EN", hint_en="Hint EN")
    assert both.localized("fr") == ("Message", "Conseil")
    assert both.localized("en") == ("Message EN", "Hint EN")
    assert both.localized("de") == ("Message", "Conseil")  # unknown language: French
    french = NotFoundError("Introuvable : x", hint="vérifiez")
    assert french.localized("en") == ("Introuvable : x", "vérifiez")
    assert (french.message_en, french.hint_en) == (None, None)
    no_hint_en = BeffroiError("Message", hint="Conseil", message_en="Message EN")
    assert no_hint_en.localized("en") == ("Message EN", "Conseil")  # a French fix beats none
    assert both.localized_title("en") == "Internal error"
    assert both.localized_title("fr") == "Erreur interne"
    assert str(both) == "Message (Conseil)"  # French stays the primary text


def test_sizes_in_english() -> None:
    assert human_bytes(1_572_864) == "1,5 Mo"
    assert human_bytes_en(1_572_864) == "1.5 MB"
    assert human_bytes_en(800) == "800 bytes"


# --------------------------------------------------------------------------------------------
# Bad files: same place, same value, same fix, in both languages

_FRENCH_QUOTES = re.compile(r"[«»]")
_DIGITS = re.compile(r"\d+")
_OPTION = re.compile(r"--[a-z][a-z-]*(?: [^\s,;()]+)?")


def _digits(text: str) -> list[str]:
    return sorted(_DIGITS.findall(text))


def _options(text: str | None) -> set[str]:
    """``--encoding cp1252``, ``--delimiter ';'``, ``--format fwf``: each option with its value
    when the value is one (digits, quotes, dots or a known word), not a placeholder or prose
    (``--sheet NOM`` → ``--sheet NAME``, ``--delimiter si besoin`` → ``if needed``)."""
    found = set()
    for option in _OPTION.findall(text or ""):
        name, _, value = option.partition(" ")
        value = value.rstrip(".")
        literal = value in {"tab", "fwf"} or bool(re.search(r"[\d'.\-_]", value))
        found.add(f"{name} {value}" if literal and not value.startswith("<") else name)
    return found


def check_bilingual(error: BeffroiError) -> None:
    """English message and hint exist, differ from the French, and carry the same facts."""
    assert error.message_en, f"no English for: {error.message}"
    assert error.hint_en, f"no English hint for: {error.message}"
    assert error.message_en != error.message
    assert error.hint_en != error.hint
    assert error.localized("en") == (error.message_en, error.hint_en)
    assert not _FRENCH_QUOTES.search(error.message_en + error.hint_en), error.message_en
    # Every number of the French text (line, column, counts, limits) is in the English one.
    assert _digits(error.message) == _digits(error.message_en), (
        error.message,
        error.message_en,
    )
    assert _digits(error.hint or "") == _digits(error.hint_en), (error.hint, error.hint_en)
    # The same fix: every command-line option (and its value) of the French hint.
    assert _options(error.hint) == _options(error.hint_en), (error.hint, error.hint_en)
    for key in ("line", "column", "value", "file"):
        value = error.details.get(key)
        if value is not None and str(value) in error.message:
            assert str(value) in error.message_en, (key, value, error.message_en)


def _csv(text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / "f.csv"
        path.write_bytes(text.encode(encoding))
        return path

    return make


def _bytes(data: bytes, name: str = "f.csv") -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def _shared(relative: str) -> Callable[[Path], Path]:
    return lambda _tmp: SHARED_DATA / relative


def _truncated_xlsx(tmp_path: Path) -> Path:
    data = (SHARED_DATA / "frictionless-fixtures/table.xlsx").read_bytes()
    path = tmp_path / "tronque.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "abime.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook><pas du xml")
    return path


def _zip_bomb(tmp_path: Path) -> Path:
    path = tmp_path / "bombe.xlsx"
    write_xlsx(path, [["a"], [1]])
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as handle,
    ):
        for _ in range(40):
            handle.write(b"\x00" * (1 << 20))
    return path


def _workbook(tmp_path: Path) -> Path:
    path = tmp_path / "classeur.xlsx"
    write_xlsx(path, [["a", "b"], [1, 2]])
    return path


def _broken_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), path)
    path.write_bytes(path.read_bytes()[:-20])
    return path


_GEOJSON_TOPOLOGY = json.dumps({"type": "Topology", "objects": {}}).encode()
_RAGGED = 'titre\n\na;b\n"x\ny";1\n\n2;3;en trop\n4;5\n6;7;8;9\n'
_SHORT = "a;b;c\n" + "".join(f"{i};x\n" if i % 2 else f"{i};x;y\n" for i in range(200))

# name: (file builder, read options, monkeypatched limits, words of the expected French)
CASES: dict[str, tuple[Callable[[Path], Path], dict[str, Any], dict[str, int], str]] = {
    "empty": (_bytes(b""), {}, {}, "vide"),
    "blank lines": (_bytes(b"\r\n  \n\n"), {}, {}, "aucune donnée"),
    "binary junk": (_bytes(bytes(range(256)) * 20), {}, {}, "pas un tableau texte"),
    "pdf": (_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), {}, {}, "document PDF"),
    "control characters": (
        _bytes(b"a;b\n" + b"\x01\x02\x03;\x04\x05\n" * 50),
        {},
        {},
        "caractères de contrôle",
    ),
    "html disguised as xls": (
        _bytes(b"<html><body><table><tr><td>a</td></tr></table></body></html>", "export.xls"),
        {},
        {},
        "page HTML",
    ),
    "too large": (_csv("a,b\n1,2\n" * 100), {"max_bytes": 100}, {}, "trop volumineux"),
    "unknown format": (_csv("a,b\n1,2\n"), {"format": "docx"}, {}, "Format inconnu"),
    "bad delimiter": (_csv("a,b\n1,2\n"), {"delimiter": ";;"}, {}, "Séparateur invalide"),
    "unknown encoding": (_csv("a,b\n1,2\n"), {"encoding": "klingon"}, {}, "Encodage inconnu"),
    "ragged rows": (_csv(_RAGGED), {}, {}, "plus de champs"),
    "short rows": (_csv(_SHORT), {}, {}, "moins de champs"),
    "bad utf-8 past the sample": (
        _bytes(b"a;b\n" + b"1;ok\n" * 40 + b"2;caf\xe9\n"),
        {},
        {"SAMPLE_BYTES": 64},
        "Octets invalides",
    ),
    "bad bytes in utf-16": (
        _bytes(codecs.BOM_UTF16_LE + "a;b\n1;2\n".encode("utf-16-le") + b"\x00\xd8"),
        {},
        {},
        "Octets invalides",
    ),
    "greek": (
        _shared("frictionless-fixtures/table-infer-iso-8859-7.csv"),
        {},
        {},
        "Encodage du fichier non reconnu",
    ),
    "line too long": (
        _csv("a;b\n1;2\n3;" + "x" * 5_000 + "\n4;5\n"),
        {},
        {"MAX_LINE_BYTES": 1_000, "CHUNK_BYTES": 256},
        "dépasse",
    ),
    "first line too long": (
        _csv("a;" * 3_000 + "\n"),
        {},
        {"MAX_LINE_BYTES": 1_000, "SAMPLE_BYTES": 100},
        "dépasse",
    ),
    "fixed width": (
        _shared("messy/laposte-fimoct-acheminement-fixed-width.txt"),
        {},
        {},
        "largeur fixe",
    ),
    "header row not found": (_csv("a;b\n1;2\n"), {"header_row": 40}, {}, "en-tête 40"),
    "truncated xlsx": (_truncated_xlsx, {}, {}, "Classeur XLSX illisible"),
    "corrupt xlsx": (_corrupt_xlsx, {}, {}, "illisible"),
    "damaged xls": (
        _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "vieux.xls"),
        {},
        {},
        "Classeur XLS illisible",
    ),
    "zip bomb": (_zip_bomb, {}, {}, "bombe zip"),
    "unknown sheet": (_workbook, {"sheet": "Feuil9"}, {}, "Feuille « Feuil9 » introuvable"),
    "invalid json": (_shared("frictionless-fixtures/invalid.json"), {}, {}, "JSON invalide"),
    "truncated json": (_bytes(b'[{"a": 1}, {"a": 2}, {"a": "tron', "t.json"), {}, {}, "JSON"),
    "bad ndjson line": (_bytes(b'{"a": 1}\n{"a": 2\n', "bad.jsonl"), {}, {}, "ligne 2"),
    "json without records": (_bytes(b"[]", "vide.json"), {}, {}, "aucune colonne"),
    "json array not found": (
        _shared(
            "schemas/decp-marches-publics/json-format/examples/marches_avec_modifications.json"
        ),
        {"sheet": "marches.inconnu"},
        {},
        "introuvable",
    ),
    "geojson bad type": (_bytes(_GEOJSON_TOPOLOGY, "bad.geojson"), {}, {}, "Topology"),
    "broken parquet": (_broken_parquet, {}, {}, "Parquet illisible"),
}


def _fail(path: Path, options: dict[str, Any]) -> InvalidFileError:
    with pytest.raises(InvalidFileError) as caught:
        for _ in open_table(path, ReadOptions(**options)).batches():
            pass
    return caught.value


@pytest.mark.parametrize("name", CASES, ids=CASES.keys())
def test_every_reading_error_is_bilingual(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, options, limits, french = CASES[name]
    for limit, value in limits.items():
        module = csv_reader if limit == "CHUNK_BYTES" else sniff
        monkeypatch.setattr(module, limit, value)
    path = make(tmp_path)
    error = _fail(path, options)
    assert french in error.message, error.message  # the case fails where it is meant to
    assert error.details.get("file") == path.name
    check_bilingual(error)


def test_ragged_rows_name_the_same_lines_in_english(tmp_path: Path) -> None:
    error = _fail(_csv(_RAGGED)(tmp_path), {})
    assert error.message.startswith("2 lignes ont plus de champs que l'en-tête (2 colonnes)")
    assert error.message_en == (
        "2 lines have more fields than the header (2 columns): "
        "line 7: 3 fields instead of 2; line 9: 4 fields instead of 2."
    )
    assert error.hint_en is not None
    assert "detected: semicolon" in error.hint_en


def test_encoding_error_gives_the_same_fix_in_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 64)
    error = _fail(_bytes(b"a;b\n" + b"1;ok\n" * 40 + b"2;caf\xe9\n")(tmp_path), {})
    assert error.details["line"] == 42
    assert error.message_en == (
        "Invalid bytes for the utf-8 encoding on line 42 (bytes e9 0a): "
        "the file is not entirely utf-8."
    )
    assert error.hint_en == "Run again with --encoding cp1252, or save the file as UTF-8."


def test_json_errors_keep_line_and_column_in_english() -> None:
    error = _fail(SHARED_DATA / "frictionless-fixtures/invalid.json", {})
    assert (error.details["line"], error.details["column"]) == (2, 5)
    assert error.message_en == "Invalid JSON on line 2, column 5: a value was expected."


def test_sniffing_errors_are_bilingual() -> None:
    with pytest.raises(InvalidFileError) as caught:
        sniff.detect_encoding(b"\x00\x01\x02\x03binary\x00\xff\xfe" * 50, complete=True)
    check_bilingual(caught.value)
    with pytest.raises(InvalidFileError) as caught:
        sniff.sniff_csv("\n\n", complete=True)
    check_bilingual(caught.value)
    guess = sniff.EncodingGuess("utf-8", "utf-8")
    with pytest.raises(InvalidFileError) as caught:
        sniff.decode_sample(b"a;b\n1;2\n3;caf\xe9\n", guess, complete=True, path=Path("x.csv"))
    check_bilingual(caught.value)
    assert caught.value.details["line"] == 3
    assert "line 3" in (caught.value.message_en or "")


def _text_table(**columns: list[str | None]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


@pytest.mark.parametrize(
    ("declared", "sample", "later"),
    [
        (None, ["1 234,56", "12,5"], ["3,5", "NA", "douze"]),  # inferred number
        ({"valeur": "number"}, ["12.5"], ["12.5", "douze"]),  # declared number
        ({"valeur": {"type": "date", "format": "%d/%m/%Y"}}, ["01/02/2024"], ["31/02/2024"]),
        ({"valeur": "integer"}, ["1"], ["1", "2", "12,5"]),
        (None, ["oui", "non"], ["oui", "peut-être"]),
    ],
)
def test_typing_errors_are_bilingual(
    declared: dict[str, Any] | None, sample: list[str | None], later: list[str | None]
) -> None:
    types = infer_schema(_text_table(valeur=sample), declared=declared)
    batch = _text_table(valeur=later).to_batches()[0]
    with pytest.raises(InvalidFileError) as caught:
        convert(batch, types, row_offset=65_536)
    error = caught.value
    check_bilingual(error)
    row = error.details["row"] + 1
    assert f"ligne {row} des données" in error.message
    assert f"data row {row}" in (error.message_en or "")
    assert f"'{error.details['value']}'" in (error.message_en or "")
    assert " / " not in error.message  # no more "français / English" in one text


def test_typing_option_errors_are_bilingual() -> None:
    with pytest.raises(InvalidInputError) as caught:
        infer_schema(_text_table(a=["1"]), decimal_mark=";")
    check_bilingual(caught.value)
    with pytest.raises(InvalidInputError) as caught:
        infer_schema(_text_table(a=["1"]), declared={"a": "entier"})
    check_bilingual(caught.value)
    assert "'entier'" in (caught.value.message_en or "")


# --------------------------------------------------------------------------------------------
# Guard: no error under beffroi/ingest/ in French only

_ERROR_NAMES = {cls.__name__ for cls in all_error_classes()} | {"invalid"}

# Raised in files other helpers were editing during issue 3 (English to be added there);
# each entry must still exist, so that it is removed here once its English is written.
PENDING: set[tuple[str, str]] = set()


def _error_calls() -> list[tuple[str, int, str, bool]]:
    """(file, line, callee, passes message_en) for every error constructed under ingest/."""
    found = []
    for path in sorted(INGEST.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _ERROR_NAMES:
                keywords = {k.arg for k in node.keywords}
                relative = path.relative_to(INGEST).as_posix()
                found.append((relative, node.lineno, name, "message_en" in keywords))
    return found


def test_guard_sees_the_known_error_calls() -> None:
    calls = _error_calls()
    files = {file for file, *_ in calls}
    assert {"sniff.py", "infer.py", "readers/csv.py", "readers/excel.py"} <= files
    assert sum(1 for _, _, name, _ in calls if name == "invalid") >= 35


def test_every_ingestion_error_passes_message_en() -> None:
    missing = [
        f"beffroi/ingest/{file}:{line} {name}(...) has no message_en"
        for file, line, name, has_english in _error_calls()
        if not has_english and (file, name) not in PENDING
    ]
    assert not missing, "\n".join(missing)


def test_pending_french_only_errors_still_exist() -> None:
    french_only = {(file, name) for file, _, name, has_english in _error_calls() if not has_english}
    fixed = PENDING - french_only
    assert not fixed, f"now bilingual, remove from PENDING: {sorted(fixed)}"
