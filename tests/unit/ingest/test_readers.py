# ruff: noqa: RUF001 - typographic French quotes, dashes and other scripts are test data
"""Readers: every shared real file opens with the right shape; bad input fails precisely.

Expected dialects and row counts come from ``shared/data/PROVENANCE.md`` (measured there on
the bytes) and, for the row counts, from an independent parse with Python's ``csv`` module.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beffroi.errors import InvalidFileError
from beffroi.ingest import sniff
from beffroi.ingest.model import ReadOptions, TableSource
from beffroi.ingest.readers import csv as csv_reader
from beffroi.ingest.readers import excel, open_table
from beffroi.ingest.readers import json as json_reader

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not available")


def read(path: Path, **options: Any) -> tuple[TableSource, pa.Table]:
    """Open and read a whole file (checking that every batch has the announced columns)."""
    source = open_table(path, ReadOptions(**options))
    batches = list(source.batches())
    for batch in batches:
        assert batch.schema.names == source.column_names
        assert batch.num_rows <= ReadOptions(**options).batch_rows
    schema = batches[0].schema if batches else None
    table = (
        pa.Table.from_batches(batches, schema=schema)
        if batches
        else pa.table({name: pa.array([], pa.string()) for name in source.column_names})
    )
    return source, table


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def fails(path: Path, **options: Any) -> InvalidFileError:
    """The error opening or reading the file raises (which must be an InvalidFileError)."""

    def consume() -> None:
        for _ in open_table(path, ReadOptions(**options)).batches():
            pass

    with pytest.raises(InvalidFileError) as caught:
        consume()
    error = caught.value
    assert error.hint, "every user error says how to fix it"
    assert error.details.get("file") == path.name
    return error


# --------------------------------------------------------------------------------------------
# PROVENANCE.md measurements


def measured_formats() -> dict[str, dict[str, Any]]:
    """``format (measured)`` lines of PROVENANCE.md, by path."""
    text = (DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    found: dict[str, dict[str, Any]] = {}
    current = None
    pattern = re.compile(
        r"format \(measured\): encoding (?P<encoding>.+?), delimiter (?P<delimiter>.+?), "
        r"line endings (?P<endings>.+?), (?P<lines>[\d,]+) lines"
    )
    for line in text.splitlines():
        entry = re.match(r"\s*- `([^`]+)` \(", line)
        if entry:
            current = entry.group(1)
            continue
        match = pattern.search(line)
        if match and current:
            found[current] = {
                "encoding": match["encoding"],
                "delimiter": match["delimiter"],
                "endings": match["endings"],
                "lines": int(match["lines"].replace(",", "")),
            }
    return found


MEASURED = measured_formats() if DATA.is_dir() else {}

# Files whose reading must fail, with the error's line (ragged rows with data beyond the
# header, an encoding outside the Western ones, a fixed-width file, an empty file).
EXPECTED_ERRORS: dict[str, tuple[str, int | None]] = {
    "frictionless-fixtures/capital-invalid.csv": ("plus de champs", 12),
    "frictionless-fixtures/countries.csv": ("plus de champs", 4),
    "frictionless-fixtures/defective-rows.csv": ("plus de champs", 3),
    "frictionless-fixtures/dialect.csv": ("plus de champs", 3),
    "frictionless-fixtures/invalid.csv": ("plus de champs", 5),
    "frictionless-fixtures/schema-errors.csv": ("plus de champs", 5),
    "frictionless-fixtures/structure-errors.csv": ("plus de champs", 5),
    "frictionless-fixtures/without-headers-extra.csv": ("plus de champs", 3),
    "frictionless-fixtures/table-infer-iso-8859-7.csv": ("Encodage du fichier non reconnu", None),
    "frictionless-fixtures/empty.csv": ("vide", None),
    "messy/laposte-fimoct-acheminement-fixed-width.txt": ("largeur fixe", None),
}
# Lines above the header that are not part of the table ("# comment" lines).
JUNK_LINES = {
    "frictionless-fixtures/country-2.csv": 1,
    "frictionless-fixtures/matrix-with-comment.csv": 1,
    "frictionless-fixtures/skip-rows.csv": 1,
    "frictionless-fixtures/skip-rows-before-headers.csv": 1,
}
# Measured "none": a comment line came first, or a single column.
TRUE_DELIMITER = {
    "frictionless-fixtures/country-2.csv": ";",
    "frictionless-fixtures/matrix-with-comment.csv": ",",
    "frictionless-fixtures/skip-rows.csv": ",",
    "frictionless-fixtures/skip-rows-before-headers.csv": ",",
    "frictionless-fixtures/floats.csv": None,
    "frictionless-fixtures/leading-zeros.csv": None,
}
NO_HEADER = {"frictionless-fixtures/without-headers.csv"}
REPEATED_HEADERS = {"messy/insee-couverture-communes-epci-repeated-header.csv": 2}


def text_files() -> list[str]:
    found = [
        str(path.relative_to(DATA))
        for pattern in (
            "messy/*",
            "frictionless-fixtures/**/*.csv",
            "frictionless-fixtures/**/*.tsv",
            "schemas/**/examples/*.csv",
        )
        for path in DATA.glob(pattern)
    ]
    return sorted(set(found))


def expected_encoding(measured: str) -> str:
    if measured.startswith("UTF-8 with BOM"):
        return "utf-8-sig"
    if measured.startswith(("UTF-8", "ASCII")):
        return "utf-8"
    # "ISO-8859-1 / Latin-1 (also valid Windows-1252)": cp1252 is the superset we decode with.
    assert measured.startswith("ISO-8859-1"), measured
    return "cp1252"


def expected_delimiter(name: str, measured: str) -> str | None:
    if name in TRUE_DELIMITER:
        return TRUE_DELIMITER[name]
    named = {"';'": ";", "','": ",", "'|'": "|", "TAB": "\t"}
    if measured.startswith("', '"):  # comma followed by a space
        return ","
    return named[measured]


def oracle(path: Path, name: str, encoding: str, delimiter: str | None) -> tuple[int, int]:
    """(rows, columns) by Python's csv module: records with a value, minus header and junk."""
    codec = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "cp1252": "cp1252"}[encoding]
    with path.open(encoding=codec, newline="") as handle:
        records = list(
            csv.reader(
                handle,
                delimiter=delimiter or "\x1f",
                skipinitialspace=MEASURED[name]["delimiter"].startswith("', '"),
            )
        )
    records = [r for r in records if any(value.strip() for value in r)]
    records = records[JUNK_LINES.get(name, 0) :]
    header = records[0]
    if name in NO_HEADER:
        return len(records), len(header)
    body = [r for r in records[1:] if r != header]
    assert len(records) - 1 - len(body) == REPEATED_HEADERS.get(name, 0)
    return len(body), len(header)


@pytest.mark.parametrize("name", text_files())
def test_text_file(name: str) -> None:
    path = DATA / name
    if name in EXPECTED_ERRORS:
        fragment, line = EXPECTED_ERRORS[name]
        error = fails(path)
        assert fragment in error.message
        if line is not None:
            assert error.details["line"] == line
            assert f"ligne {line} " in error.message
        return
    source, table = read(path)
    measured = MEASURED[name]
    assert source.dialect.format == "csv"
    assert source.dialect.encoding == expected_encoding(measured["encoding"])
    delimiter = expected_delimiter(name, measured["delimiter"])
    assert source.dialect.delimiter == delimiter
    endings = measured["endings"]
    # bornes-irve: CRLF ends records, bare LF only occurs inside quoted multi-line fields.
    assert source.dialect.line_terminator == ("CRLF" if endings.startswith("mixed") else endings)
    expected_rows, expected_columns = oracle(path, name, source.dialect.encoding or "", delimiter)
    assert table.num_rows == expected_rows
    assert table.num_columns == expected_columns
    assert all(field.type == pa.string() for field in table.schema)
    assert len(set(source.column_names)) == len(source.column_names)
    assert all(name.strip() == name and name for name in source.column_names)
    assert source.bytes_read() == source.bytes_total == path.stat().st_size


def test_provenance_lists_every_text_file() -> None:
    """The parametrised test above really covers the measured files (it can fail)."""
    listed = {name for name in MEASURED if name.startswith(("messy/", "frictionless", "schemas"))}
    assert listed <= set(text_files())
    assert len(text_files()) >= 100


# --------------------------------------------------------------------------------------------
# messy files: concrete cells


def test_bornes_irve_multiline_and_mojibake() -> None:
    source, table = read(DATA / "messy/bornes-irve-20190805.csv")
    assert table.num_rows == 9_687  # PROVENANCE: 9,687 records on 9,756 lines
    assert source.dialect.delimiter == ";"
    by_station = {row["id_station"]: row for row in rows(table)}
    row = by_station["FR*CN1*PTUZTTN"]
    assert row["ad_station"] == "Port Gallatin\n8, route d'Aix-les-Bains"
    assert row["date_maj"] == "2018/11/04"
    assert row["acces_recharge"] == "5€ / 45min, si abonné (10€/mois) : 1€/10min"
    assert row["code_insee"] == "74269"
    multiline = [r for r in rows(table) if any("\n" in (v or "") for v in r.values())]
    assert len(multiline) == 64  # PROVENANCE: 64 records with quoted multi-line fields
    assert any("\ufffd" in (r["n_station"] or "") for r in rows(table))  # kept as found
    assert any(r["acces_recharge"] == "Payant depuis le 01/07/2018" for r in rows(table))


def test_laposte_latin1_leading_zeros_and_padding() -> None:
    source, table = read(DATA / "messy/laposte-codes-postaux-2014-10.csv")
    assert table.num_rows == 37_173
    assert source.column_names == [
        "code commune INSEE",
        "nom de la commune",
        "code postal",
        "libellé d'acheminement",
    ]
    first = rows(table)[0]
    assert first["code commune INSEE"] == "01001"
    assert first["code postal"] == "01400"
    assert first["nom de la commune"] == "L ABERGEMENT CLEMENCIAT               "  # raw text


def test_hotel_occupancy_decimal_comma_and_dates() -> None:
    source, table = read(DATA / "messy/hotel-occupancy-latin1-decimal-comma.csv")
    assert source.column_names[3] == "Année"
    first = rows(table)[0]
    assert first["Occupancy rate"] == "0,611553068"
    assert first["Date"] == "01-01-13"
    assert first["Année"] == "2013"


def test_insee_repeated_header_lines_dropped() -> None:
    source, table = read(DATA / "messy/insee-couverture-communes-epci-repeated-header.csv")
    assert table.num_rows == 404  # 407 lines = 1 header + 2 repetitions + 404 rows
    assert "2 ligne(s) d'en-tête répétée(s) supprimée(s)" in source.dialect.notes
    first = rows(table)[0]
    assert first["NUMCOM"] == "01001"
    assert first["NUMDEP"] == "1"
    assert first["STRUCTURED_INFO"] == '{"champ_1": 0, "champ_2": -1.0}'


def test_fixed_width_when_declared() -> None:
    path = DATA / "messy/laposte-fimoct-acheminement-fixed-width.txt"
    source, table = read(path, format="fwf")
    assert source.dialect.format == "fwf"
    assert table.num_rows == 18  # 19 lines: a header record, then 18 records
    assert rows(table)[0]["colonne_1"].startswith("01001")
    assert any("largeur fixe" in note for note in source.dialect.notes)


def test_fixed_width_with_declared_widths() -> None:
    path = DATA / "messy/laposte-fimoct-acheminement-fixed-width.txt"
    # INSEE code (5) + filler (4) + 8 + 11 + date (8) + postal code (5) + name (38)
    widths = (5, 4, 8, 11, 8, 5, 38)
    source, table = read(path, format="fwf", widths=widths, header_row=None)
    assert "largeurs de colonnes fournies" in source.dialect.notes
    assert table.num_columns == len(widths)
    first = rows(table)[1]  # the header record (line 1) does not follow the layout
    values = list(first.values())
    assert values[0] == "01001"  # an INSEE code keeps its leading zero
    assert values[4] == "20180910"
    assert values[5] == "01400"
    assert values[6] == "L ABERGEMENT CLEMENCIAT"


def test_dd_mm_yyyy_dates_stay_text() -> None:
    path = DATA / "schemas/scdl-subventions/examples/exemple_invalide_erreurs_cellules.csv"
    _, table = read(path)
    assert "05/12/2016" in table.column("dateConvention").to_pylist()


def test_schema_example_multiline_field() -> None:
    _, table = read(DATA / "schemas/stationnement-cyclable/examples/exemple-valide.csv")
    assert any("\n" in (value or "") for row in rows(table) for value in row.values())


def test_cp1252_french_excel_export(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = (
        "Export du 12/03/2024\r\n"
        "\r\n"
        "Code INSEE;Bénéficiaire;Montant;Date;Commentaire\r\n"
        "01053;Café l’Étoile – œuvre;1234,56;12/03/2024;« 2 € »\r\n"
        "2A004;Comité des fêtes;12;01/01/2024;\r\n"
    )
    path.write_bytes(text.encode("cp1252"))
    source, table = read(path)
    assert source.dialect.encoding == "cp1252"
    assert source.dialect.delimiter == ";"
    assert source.dialect.header_row == 3
    assert "2 lignes ignorées avant l'en-tête" in source.dialect.notes
    first, second = rows(table)
    assert first == {
        "Code INSEE": "01053",
        "Bénéficiaire": "Café l’Étoile – œuvre",
        "Montant": "1234,56",
        "Date": "12/03/2024",
        "Commentaire": "« 2 € »",
    }
    assert second["Commentaire"] is None  # empty cell → null


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "iso8859-15"])
def test_other_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("nom;prix\r\nœuf;3 €\r\n".encode(encoding))
    source, table = read(path)
    assert rows(table) == [{"nom": "œuf", "prix": "3 €"}]
    assert source.dialect.encoding in {encoding, "iso-8859-15"}


def test_forced_encoding_and_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes("a|b\n1;2|x\n".encode("cp850"))
    source, table = read(path, encoding="cp850", delimiter="|")
    assert rows(table) == [{"a": "1;2", "b": "x"}]
    assert source.dialect.delimiter == "|"
    greek = DATA / "frictionless-fixtures/table-infer-iso-8859-7.csv"
    _, table = read(greek, encoding="iso-8859-7")
    assert table.column("name").to_pylist()[0] == "Λεωνιδας"


def test_header_row_forced(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a;b\nc;d\n1;2\n", encoding="utf-8")
    _, table = read(path, header_row=2)
    assert rows(table) == [{"c": "1", "d": "2"}]


# --------------------------------------------------------------------------------------------
# irregular rows, streaming, retries


def test_irregular_rows_are_fixed_in_place_across_batches(tmp_path: Path) -> None:
    """Short rows padded and empty extra fields trimmed, in order, over many Arrow blocks."""
    lines = ["id;nom;montant"]
    expected: list[tuple[str, str, str | None]] = []
    for i in range(60_000):
        if i % 7_000 == 3:
            lines.append(f"{i};court")  # short: padded
            expected.append((str(i), "court", None))
        elif i % 9_000 == 5:
            lines.append(f'{i};"multi\nligne";1;;')  # two empty extras: trimmed
            expected.append((str(i), "multi\nligne", "1"))
        elif i % 11_000 == 7:
            lines.append("")  # blank line
            lines.append(f"{i};x;2")
            expected.append((str(i), "x", "2"))
        else:
            lines.append(f"{i};nom {i};{i},5")
            expected.append((str(i), f"nom {i}", f"{i},5"))
    path = tmp_path / "irregular.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source, table = read(path, batch_rows=5_000)
    got = list(zip(*(table.column(n).to_pylist() for n in ("id", "nom", "montant")), strict=True))
    assert got == expected
    notes = " | ".join(source.dialect.notes)
    assert "9 ligne(s) avec moins de champs" in notes
    assert "7 ligne(s) avec des champs vides en trop" in notes


def test_too_many_short_rows_fail(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    body = "".join(f"{i};x\n" if i % 2 else f"{i};x;y\n" for i in range(200))
    path.write_text("a;b;c\n" + body, encoding="utf-8")
    error = fails(path)
    assert "moins de champs que l'en-tête" in error.message
    assert error.details["rows"][0] == {"line": 3, "expected": 3, "found": 2}
    assert "--delimiter" in (error.hint or "")


def test_rows_with_extra_data_report_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('titre\n\na;b\n"x\ny";1\n\n2;3;en trop\n4;5\n6;7;8;9\n', encoding="utf-8")
    error = fails(path)
    assert error.details["rows"] == [
        {"line": 7, "expected": 2, "found": 3},
        {"line": 9, "expected": 2, "found": 4},
    ]
    assert error.details["line"] == 7
    assert error.details["value"] == "2|3|en trop"
    assert error.message.startswith("2 lignes ont plus de champs que l'en-tête (2 colonnes)")


def test_trailing_delimiter_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a;b\n1;2;\n3;4;\n", encoding="utf-8")
    source, table = read(path)
    assert rows(table) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert any("séparateur en fin de ligne" in note for note in source.dialect.notes)


def test_record_longer_than_a_block_is_read_again(tmp_path: Path) -> None:
    big = "x" * (3 << 20)
    path = tmp_path / "long.csv"
    head = "".join(f"{i};petit\n" for i in range(20_000))
    tail = "".join(f"{i};fin\n" for i in range(20_000, 20_100))
    path.write_text(f'id;texte\n{head}20000b;"{big}"\n{tail}', encoding="utf-8")
    _, table = read(path, batch_rows=4_096)
    assert table.num_rows == 20_101
    ids = table.column("id").to_pylist()
    assert ids[:3] == ["0", "1", "2"]
    assert ids[20_000] == "20000b"
    assert ids[-1] == "20099"
    assert len(table.column("texte")[20_000].as_py()) == len(big)


def test_utf8_error_past_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 64)
    path = tmp_path / "f.csv"
    path.write_bytes(b"a;b\n" + b"1;ok\n" * 40 + b"2;caf\xe9\n")
    error = fails(path)
    assert error.details["line"] == 42
    assert "--encoding cp1252" in (error.hint or "")


def test_cp1252_error_past_the_sample_in_utf16(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "a;b\n1;2\n".encode("utf-16-le") + b"\x00\xd8")
    error = fails(path)
    assert "utf-16" in error.message


def test_line_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "MAX_LINE_BYTES", 1_000)
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 256)
    path = tmp_path / "f.csv"
    path.write_text("a;b\n1;2\n3;" + "x" * 5_000 + "\n4;5\n", encoding="utf-8")
    error = fails(path)
    assert "dépasse" in error.message
    assert error.details["line"] == 3
    assert error.details["limit"] == 1_000


def test_first_line_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "MAX_LINE_BYTES", 1_000)
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 100)
    path = tmp_path / "f.csv"
    path.write_text("a;" * 3_000 + "\n", encoding="utf-8")
    error = fails(path)
    assert error.details["line"] == 1


def test_exit_while_a_read_is_unfinished(tmp_path: Path) -> None:
    """Arrow's read-ahead thread must not hang or abort the process at exit."""
    path = tmp_path / "f.csv"
    path.write_bytes(("id;nom\n" + "".join(f"{i};é{i}\n" for i in range(300_000))).encode("cp1252"))
    script = (
        "import sys; from pathlib import Path; from beffroi.ingest.model import ReadOptions; "
        "from beffroi.ingest.readers import open_table; "
        "batches = open_table(Path(sys.argv[1]), ReadOptions(batch_rows=1000)).batches(); "
        "next(batches); sys.exit(3)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], timeout=60, capture_output=True, check=False
    )
    assert done.returncode == 3, done.stderr


def test_batches_can_be_read_twice(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    source = open_table(path)
    first = [b.num_rows for b in source.batches()]
    second = [b.num_rows for b in source.batches()]
    assert first == second == [2]


# --------------------------------------------------------------------------------------------
# bad input


def test_empty_and_blank_files(tmp_path: Path) -> None:
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    assert fails(empty).message == "Le fichier est vide (0 octet)."
    blank = tmp_path / "blanc.csv"
    blank.write_bytes(b"\r\n  \n\n")
    assert "aucune donnée" in fails(blank).message


def test_binary_junk(tmp_path: Path) -> None:
    junk = tmp_path / "data.csv"
    junk.write_bytes(bytes(range(256)) * 20)
    error = fails(junk)
    assert "n'est pas un tableau texte" in error.message
    assert error.details["value"].startswith("00 01 02")
    pdf = tmp_path / "rapport.csv"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    assert "document PDF" in fails(pdf).message
    controls = tmp_path / "controls.csv"
    controls.write_bytes(b"a;b\n" + b"\x01\x02\x03;\x04\x05\n" * 50)
    assert "caractères de contrôle" in fails(controls).message


def test_html_disguised_as_excel(tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text("<html><body><table><tr><td>a</td></tr></table></body></html>")
    error = fails(path)
    assert "page HTML" in error.message
    assert "enregistrez-le en CSV ou XLSX" in (error.hint or "")


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n" * 100, encoding="utf-8")
    error = fails(path, max_bytes=100)
    assert error.message.startswith("Fichier trop volumineux : 800 octets")
    assert error.details["limit"] == 100


def test_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    assert "Format inconnu" in fails(path, format="docx").message
    assert "Séparateur invalide" in fails(path, delimiter=";;").message
    assert fails(path, encoding="klingon").details["value"] == "klingon"
    missing = tmp_path / "absent.csv"
    with pytest.raises(InvalidFileError, match="introuvable"):
        open_table(missing)


# --------------------------------------------------------------------------------------------
# spreadsheets: real files


def test_real_workbooks() -> None:
    source, table = read(DATA / "reference/epci/epcicom-2025.xlsx")
    assert source.dialect.format == "xlsx"
    assert source.dialect.sheet == "Epcicom2025"
    assert table.num_rows == 34_871
    first = rows(table)[0]
    assert first["siren"] == "200029999"  # stored as a number: no ".0"
    assert first["insee"] == "01304"  # stored as text: zero kept
    assert first["nb_membres"] == "14"
    source, table = read(DATA / "reference/epci/ept.xlsx")
    assert source.dialect.header_row == 5  # three title lines and a blank row above
    assert source.column_names == ["EPT", "Libellé de l'EPT", "Nombre de communes"]
    assert table.num_rows == 13


def test_numbers_export_with_summary_sheet_and_title_rows() -> None:
    path = DATA / "schemas/scdl-subventions/examples/api-subventions-SCDL.xlsx"
    source, table = read(path)
    assert source.dialect.sheet == "Du 01-01-2023 au 30-06-2023"
    assert source.dialect.header_row == 4
    assert (table.num_rows, table.num_columns) == (10, 14)
    first = rows(table)[0]
    assert first["Date de la convention"] == "2023-01-15"
    assert first["Montant total de la subvention"] == "3780000"
    assert first["N° SIRET"] == "81532076800016"
    assert first["Identification de l'attributaire"] == "99000000000001"
    assert first["% du mt de la subvention attribuée au bénéficiaire"] == "1"
    _, summary = read(path, sheet="Résumé de l’exportation")
    assert summary.num_rows >= 2


@pytest.mark.parametrize(
    ("name", "shape", "columns"),
    [
        ("frictionless-fixtures/table.xlsx", (2, 2), ["id", "name"]),
        ("frictionless-fixtures/table.xls", (2, 2), ["id", "name"]),
        ("frictionless-fixtures/table.ods", (2, 2), ["id", "name"]),
        ("frictionless-fixtures/sheets.xlsx", (1, 2), ["id", "name"]),
        ("frictionless-fixtures/skip-rows.xlsx", (2, 2), ["A", "B"]),
        ("frictionless-fixtures/merged-cells.xlsx", (0, 1), ["data"]),
        (
            "frictionless-fixtures/multiline-headers.xlsx",
            (1, 4),
            [
                "Region",
                "Caloric contribution (%)",
                "Cumulative impact of changes on cost of food basket from previous quarter",
                "Cumulative impact of changes on cost of food basket from baseline (%)",
            ],
        ),
        ("schemas/decp-marches-publics/examples/exemple-valide.xlsx", (4, 33), None),
        ("schemas/lieux-covoiturage/examples/exemple-valide-v0.2.0.xls", (1, 18), None),
    ],
)
def test_spreadsheet_examples(name: str, shape: tuple[int, int], columns: list[str] | None) -> None:
    source, table = read(DATA / name)
    assert (table.num_rows, table.num_columns) == shape
    if columns is not None:
        assert source.column_names == columns
    assert all(field.type == pa.string() for field in table.schema)


def test_spreadsheet_cells() -> None:
    _, table = read(DATA / "frictionless-fixtures/table.ods")
    assert rows(table) == [{"id": "1", "name": "english"}, {"id": "2", "name": "中国人"}]
    _, table = read(DATA / "schemas/lieux-covoiturage/examples/exemple-valide-v0.2.0.xls")
    row = rows(table)[0]
    assert (row["insee"], row["Xlong"], row["nbre_pl"]) == ("76217", "1.081183", "20")
    _, table = read(DATA / "frictionless-fixtures/skip-rows.xlsx")
    assert rows(table) == [{"A": "8", "B": "9"}, {"A": None, "B": "TOTAL"}]


def test_sheet_by_name_number_and_missing() -> None:
    path = DATA / "frictionless-fixtures/sheets.xlsx"
    _, table = read(path, sheet="sheet3")
    assert rows(table) == [{"id": "3", "name": "rome"}]  # "id " header stripped
    _, table = read(path, sheet="2")
    assert rows(table) == [{"id": "2", "name": "paris"}]
    error = fails(path, sheet="Feuil9")
    assert error.message == "Feuille « Feuil9 » introuvable dans le classeur."
    assert "Sheet1, Sheet2, Sheet3" in (error.hint or "")


# --------------------------------------------------------------------------------------------
# spreadsheets: generated workbooks

Cell = str | int | float | bool | dt.date | None


def write_xlsx(path: Path, rows_: Sequence[Sequence[Cell]], merged: Sequence[str] = ()) -> None:
    """A minimal XLSX (inline strings, a date and a date-time style, merged cells)."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    epoch = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - spreadsheet date-times are naive

    def cell(ref: str, value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, dt.datetime):
            serial = (value - epoch).total_seconds() / 86400
            return f'<c r="{ref}" s="2"><v>{serial}</v></c>'
        if isinstance(value, dt.date):
            serial = (dt.datetime.combine(value, dt.time()) - epoch).days
            return f'<c r="{ref}" s="1"><v>{serial}</v></c>'
        if isinstance(value, int | float):
            return f'<c r="{ref}"><v>{value}</v></c>'
        return (
            f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
        )

    body = "".join(
        f'<row r="{r}">'
        + "".join(cell(f"{chr(65 + c)}{r}", value) for c, value in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows_, 1)
    )
    merges = (
        f'<mergeCells count="{len(merged)}">'
        + "".join(f'<mergeCell ref="{ref}"/>' for ref in merged)
        + "</mergeCells>"
        if merged
        else ""
    )
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": (
            f'<styleSheet {ns}><numFmts count="1">'
            '<numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/></numFmts>'
            '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
            '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>'
        ),
        "xl/worksheets/sheet1.xml": (
            f"<worksheet {ns}><sheetData>{body}</sheetData>{merges}</worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + content)


def write_ods(
    path: Path, rows_: Sequence[Sequence[Cell]], spans: dict[tuple[int, int], int]
) -> None:
    """A minimal ODS; ``spans`` maps (row, column) to a number of columns spanned."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"

    def cell(r: int, c: int, value: Cell) -> str:
        span = spans.get((r, c))
        extra = f' table:number-columns-spanned="{span}"' if span else ""
        if value is None:
            return f"<table:table-cell{extra}/>"
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (
                f'<table:table-cell{extra} office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell{extra} office:value-type="string">'
            f"<text:p>{escape(str(value))}</text:p></table:table-cell>"
        )

    table = "".join(
        "<table:table-row>"
        + "".join(cell(r, c, value) for c, value in enumerate(row))
        + "</table:table-row>"
        for r, row in enumerate(rows_)
    )
    content = (
        f'<office:document-content xmlns:office="{office}" xmlns:table="{table_ns}" '
        f'xmlns:text="{text_ns}" office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="Feuille1">{table}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?>' + content)
        archive.writestr("META-INF/manifest.xml", manifest)


def test_xlsx_title_rows_types_and_text_numbers(tmp_path: Path) -> None:
    path = tmp_path / "subventions.xlsx"
    write_xlsx(
        path,
        [
            ["Subventions 2024"],
            [],
            ["Export du 12/03/2024"],
            ["Code INSEE", "Commune", "Montant", "Date", "Mise à jour", "Actif", None],
            ["01053", "Bourg-en-Bresse", 1234.56, dt.date(2024, 3, 12), None, True],
            [
                "01001",
                "L'Abergement",
                12.0,
                dt.date(2024, 1, 1),
                dt.datetime(2024, 3, 12, 10, 30),  # noqa: DTZ001 - naive, as in spreadsheets
                False,
            ],
            [],
            ["Code INSEE", "Commune", "Montant", "Date", "Mise à jour", "Actif"],
            ["2A004", "Ajaccio", 0.1, None, None, None, None],
        ],
        merged=["A1:F1"],
    )
    source, table = read(path)
    assert source.dialect.header_row == 4
    assert source.column_names == [
        "Code INSEE",
        "Commune",
        "Montant",
        "Date",
        "Mise à jour",
        "Actif",
    ]
    assert rows(table) == [
        {
            "Code INSEE": "01053",
            "Commune": "Bourg-en-Bresse",
            "Montant": "1234.56",
            "Date": "2024-03-12",
            "Mise à jour": None,
            "Actif": "true",
        },
        {
            "Code INSEE": "01001",
            "Commune": "L'Abergement",
            "Montant": "12",
            "Date": "2024-01-01",
            "Mise à jour": "2024-03-12T10:30:00",
            "Actif": "false",
        },
        {
            "Code INSEE": "2A004",
            "Commune": "Ajaccio",
            "Montant": "0.1",
            "Date": None,
            "Mise à jour": None,
            "Actif": None,
        },
    ]
    notes = " | ".join(source.dialect.notes)
    assert "3 ligne(s) ignorée(s) avant l'en-tête" in notes
    assert "1 ligne(s) d'en-tête répétée(s) supprimée(s)" in notes
    assert "1 ligne(s) vide(s) ignorée(s)" in notes


def test_xlsx_two_row_merged_header(tmp_path: Path) -> None:
    path = tmp_path / "population.xlsx"
    write_xlsx(
        path,
        [
            ["Commune", "Population", None, "Surface"],
            [None, "2019", "2020", "km²"],
            ["Bourg", 41_000, 41_500, 23.9],
            ["Ambérieu", 14_000, 14_200, 24.6],
        ],
        merged=["B1:C1", "A1:A2"],
    )
    source, table = read(path)
    assert source.column_names == ["Commune", "Population 2019", "Population 2020", "Surface km²"]
    assert rows(table)[0] == {
        "Commune": "Bourg",
        "Population 2019": "41000",
        "Population 2020": "41500",
        "Surface km²": "23.9",
    }
    assert table.num_rows == 2


def test_ods_two_row_header_without_merge_information(tmp_path: Path) -> None:
    path = tmp_path / "population.ods"
    write_ods(
        path,
        [
            ["Commune", "Population", None, "Surface"],
            [None, "2019", "2020", "km²"],
            ["Bourg", 41_000, 41_500, 23.9],
        ],
        spans={(0, 1): 2},
    )
    source, table = read(path)
    assert source.dialect.format == "ods"
    assert source.column_names == ["Commune", "Population 2019", "Population 2020", "Surface km²"]
    assert rows(table) == [
        {
            "Commune": "Bourg",
            "Population 2019": "41000",
            "Population 2020": "41500",
            "Surface km²": "23.9",
        }
    ]


def test_blank_header_cells_and_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["id", None, "id", None], [1, "a", 2, None], [3, "b", 4, None]])
    source, table = read(path)
    assert source.column_names == ["id", "colonne_2", "id_2"]  # the empty 4th column dropped
    assert rows(table)[1] == {"id": "3", "colonne_2": "b", "id_2": "4"}


def test_truncated_and_corrupt_workbooks(tmp_path: Path) -> None:
    data = (DATA / "frictionless-fixtures/table.xlsx").read_bytes()
    truncated = tmp_path / "tronque.xlsx"
    truncated.write_bytes(data[: len(data) // 2])
    error = fails(truncated)
    assert error.message.startswith("Classeur XLSX illisible")
    assert "enregistrez-le à nouveau" in (error.hint or "")
    corrupt = tmp_path / "abime.xlsx"
    with zipfile.ZipFile(corrupt, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook><pas du xml")
    assert "illisible" in fails(corrupt).message
    xls = tmp_path / "vieux.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "Classeur XLS illisible" in fails(xls).message


def test_damaged_xls_that_makes_calamine_abort(tmp_path: Path) -> None:
    """Bytes inserted in a real XLS make calamine allocate 4 GiB and abort the process: the
    workbook is first parsed in a memory-bounded child process, and refused."""
    data = bytearray(
        (DATA / "schemas/lieux-covoiturage/examples/exemple-valide-v0.2.0.xls").read_bytes()
    )
    data[1721:1721] = bytes.fromhex(
        "5ec83eb61c818cc3cc1f0626d6d7b48737729bcd70c8ec6c54422362f0734ab4d3ef9640f0b57588c081da5f"
    )
    path = tmp_path / "abime.xls"
    path.write_bytes(bytes(data))
    error = fails(path)
    assert error.message.startswith("Classeur XLS illisible")


def test_zip_bomb_is_refused_before_decompression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bombe.xlsx"
    write_xlsx(path, [["a"], [1]])
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as handle,
    ):
        chunk = b"\x00" * (1 << 20)
        for _ in range(40):
            handle.write(chunk)
    assert path.stat().st_size < 1 << 20
    error = fails(path)
    assert "bombe zip" in error.message
    assert error.details["ratio"] > excel.ZIP_MAX_RATIO
    monkeypatch.setattr(excel, "ZIP_MAX_UNCOMPRESSED", 1_000)
    small = tmp_path / "grand.xlsx"
    write_xlsx(small, [["a"], *([i] for i in range(100))])
    assert fails(small).details["limit"] == 1_000


# --------------------------------------------------------------------------------------------
# JSON


def test_json_array_of_rows() -> None:
    source, table = read(DATA / "frictionless-fixtures/table.json")
    assert source.column_names == ["id", "name"]
    assert table.schema.field("id").type == pa.int64()
    assert rows(table) == [{"id": 1, "name": "english"}, {"id": 2, "name": "中国人"}]


def test_decp_wrapper_flattening_and_arrays() -> None:
    path = (
        DATA / "schemas/decp-marches-publics/json-format/examples/marches_avec_modifications.json"
    )
    source, table = read(path)
    assert source.dialect.sheet == "marches.marche"
    assert table.num_rows == 2
    assert "acheteur.id" in source.column_names
    first = rows(table)[0]
    assert first["acheteur.id"] == "21750001630066"
    assert first["typesPrix.typePrix"] == '["Définitif ferme"]'  # arrays stay JSON text
    assert first["marcheInnovant"] is True
    assert table.schema.field("offresRecues").type == pa.int64()
    assert table.schema.field("origineUE").type == pa.float64()


def test_json_path_choice() -> None:
    path = DATA / "schemas/decp-marches-publics/json-format/examples/marches_concessions.json"
    source, concessions = read(path)
    assert concessions.num_rows == 2
    assert source.dialect.sheet == "marches.contrat-concession"
    assert any("marches.marche" in note for note in source.dialect.notes)
    chosen, marches = read(path, sheet="marches.marche")
    assert chosen.dialect.sheet == "marches.marche"
    assert marches.num_rows >= 1
    error = fails(path, sheet="marches.inconnu")
    assert "introuvable" in error.message


def test_json_streaming_two_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the cache size, the file is parsed twice in small chunks: same result."""
    records = [
        {"id": i, "nom": f"n°{i} ’€", "geo": {"lat": 45.5 + i, "lon": 4}, "ok": i % 2 == 0}
        for i in range(200)
    ]
    records[-1]["rare"] = "seulement à la fin"
    records[10]["id"] = "A10"  # mixed kinds: the column becomes text
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"meta": {"n": 200}, "data": records}, ensure_ascii=False))
    monkeypatch.setattr(json_reader, "CACHE_BYTES", 0)
    monkeypatch.setattr(json_reader, "CHUNK_CHARS", 7)
    source, table = read(path, batch_rows=64)
    assert source.column_names == ["id", "nom", "geo.lat", "geo.lon", "ok", "rare"]
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("geo.lat").type == pa.float64()
    assert table.schema.field("geo.lon").type == pa.int64()
    assert table.schema.field("ok").type == pa.bool_()
    assert table.column("id").to_pylist()[:3] == ["0", "1", "2"]
    assert table.column("id")[10].as_py() == "A10"
    assert table.column("rare").to_pylist()[-2:] == [None, "seulement à la fin"]
    assert table.column("nom")[5].as_py() == "n°5 ’€"


def test_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "data.ndjson"
    path.write_text('{"a": 1, "b": 1.5}\n\n{"a": 2, "b": 2, "c": [1, 2]}\n', encoding="utf-8")
    source, table = read(path)
    assert source.dialect.format == "ndjson"
    assert rows(table) == [{"a": 1, "b": 1.5, "c": None}, {"a": 2, "b": 2.0, "c": "[1, 2]"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": 2\n', encoding="utf-8")
    error = fails(bad)
    assert error.details["line"] == 2
    assert "JSON invalide ligne 2" in error.message


def test_json_without_records(tmp_path: Path) -> None:
    path = tmp_path / "vide.json"
    path.write_text("[]", encoding="utf-8")
    assert "aucune colonne" in fails(path).message


def test_invalid_json_position() -> None:
    error = fails(DATA / "frictionless-fixtures/invalid.json")
    assert (error.details["line"], error.details["column"]) == (2, 5)


def test_truncated_json(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[{"a": 1}, {"a": 2}, {"a": "tron', encoding="utf-8")
    error = fails(path)
    assert "JSON invalide" in error.message
    assert error.details["line"] == 1


# --------------------------------------------------------------------------------------------
# GeoJSON


def test_geojson_examples() -> None:
    source, table = read(DATA / "schemas/zfe/examples/exemple-valide-zone.geojson")
    assert source.dialect.format == "geojson"
    assert (table.num_rows, table.num_columns) == (1, 16)
    assert source.column_names[-1] == "geometry"
    geometry = json.loads(table.column("geometry")[0].as_py())
    assert geometry["type"] == "Polygon"
    assert "système de coordonnées : WGS 84 (EPSG:4326), implicite en GeoJSON" in (
        source.dialect.notes
    )
    source, table = read(DATA / "schemas/amenagements-cyclables/examples/exemple-valide.json")
    assert source.dialect.format == "geojson"
    assert json.loads(table.column("geometry")[0].as_py())["type"] == "LineString"
    source, table = read(DATA / "reference/geo/departements-version-simplifiee.geojson")
    assert table.num_rows == 96
    assert "01" in table.column("code").to_pylist()


def test_geojson_crs_ids_and_name_clash(tmp_path: Path) -> None:
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": [
            {
                "type": "Feature",
                "id": 1,
                "properties": {"nom": "Mairie", "geometry": "point", "adresse": {"cp": "01000"}},
                "geometry": {"type": "Point", "coordinates": [871_000.5, 6_570_000.25]},
            },
            {"type": "Feature", "id": 2, "properties": None, "geometry": None},
        ],
    }
    path = tmp_path / "f.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    source, table = read(path)
    assert source.column_names == ["id", "nom", "geometry_2", "adresse.cp", "geometry"]
    assert rows(table)[0]["adresse.cp"] == "01000"
    # Lambert 93 metres reprojected to WGS 84 degrees, longitude first (Bourg-en-Bresse).
    # Expected values: Snyder's Lambert conformal conic inverse on GRS80 (Map Projections,
    # USGS 1987, 15-1 to 15-11), computed apart from PROJ; the two agree to 1e-13°.
    geometry = json.loads(rows(table)[0]["geometry"])
    assert geometry["type"] == "Point"
    assert geometry["coordinates"] == pytest.approx(
        [5.218194294778087, 46.20823242823603], abs=1e-9
    )
    assert rows(table)[1]["geometry"] is None
    assert "système de coordonnées : EPSG:2154 (membre « crs »)" in source.dialect.notes
    assert (
        "reprojeté depuis EPSG:2154 vers WGS 84 (Lambert 93 → longitude, latitude en degrés)"
        in source.dialect.notes
    )


def geojson_file(path: Path, crs: str | None, *geometries: dict[str, Any] | None) -> Path:
    """A FeatureCollection of ``geometries`` (property ``n``: 1, 2, …) with a ``crs`` member."""
    document: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"n": n}, "geometry": geometry}
            for n, geometry in enumerate(geometries, start=1)
        ],
    }
    if crs is not None:
        document["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_geojson_cc_zones_and_web_mercator_are_reprojected(tmp_path: Path) -> None:
    # CC46 (Lyon, Hôtel de Ville) with a height, in a GeometryCollection; expected values
    # from Snyder's formulas (as above), Web Mercator from its closed-form inverse.
    collection = {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": [1_842_000.0, 5_175_000.0, 170.5]}],
    }
    cc46 = geojson_file(tmp_path / "cc46.geojson", "urn:ogc:def:crs:EPSG::3946", collection)
    source, table = read(cc46)
    (point,) = json.loads(rows(table)[0]["geometry"])["geometries"]
    expected = [4.825563877178542, 45.76041515640694, 170.5]
    assert point["coordinates"] == pytest.approx(expected, abs=1e-9)
    assert (
        "reprojeté depuis EPSG:3946 vers WGS 84 (Lambert CC46 → longitude, latitude en "
        "degrés)" in source.dialect.notes
    )
    line = {"type": "LineString", "coordinates": [[261_600.0, 6_250_000.0], [0.0, 0.0]]}
    mercator = geojson_file(tmp_path / "m.geojson", "EPSG:900913", line, None)
    source, table = read(mercator, batch_rows=1)
    coordinates = json.loads(rows(table)[0]["geometry"])["coordinates"]
    assert coordinates[0] == pytest.approx([2.3499927832566683, 48.853264341399694], abs=1e-9)
    assert coordinates[1] == pytest.approx([0, 0], abs=1e-9)
    assert rows(table)[1]["geometry"] is None
    assert any("Web Mercator" in note for note in source.dialect.notes)


def test_geojson_other_systems_are_kept_with_a_hint(tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [338_000.5, 7_690_000.25]}
    source, table = read(geojson_file(tmp_path / "utm.geojson", "EPSG:2056", point))
    assert json.loads(rows(table)[0]["geometry"]) == point
    assert not any(note.startswith("reprojeté") for note in source.dialect.notes)
    assert any(
        "EPSG:2056 n'est pas reprojeté" in note and "ogr2ogr -t_srs EPSG:4326" in note
        for note in source.dialect.notes
    )
    # A crs member that says Lambert 93 over degrees: believed to be wrong, kept as it is.
    degrees = {"type": "Point", "coordinates": [5.2182, 46.2082]}
    source, table = read(geojson_file(tmp_path / "faux.geojson", "EPSG:2154", degrees))
    assert json.loads(rows(table)[0]["geometry"]) == degrees
    assert any("coordonnées sont en degrés" in note for note in source.dialect.notes)
    # Declared degrees (RGF93 geographic) are not touched either.
    source, table = read(geojson_file(tmp_path / "rgf93.geojson", "EPSG:4171", degrees))
    assert json.loads(rows(table)[0]["geometry"]) == degrees
    assert not any("attention" in note for note in source.dialect.notes)


def test_geojson_unreadable_geometry_to_reproject_is_named(tmp_path: Path) -> None:
    good = {"type": "Point", "coordinates": [871_000.5, 6_570_000.25]}
    bad = {"type": "Point", "coordinates": "871000 6570000"}
    path = geojson_file(tmp_path / "l93.geojson", "EPSG:2154", good, good, good, bad)
    error = fails(path, batch_rows=2)  # the bad feature is the 2nd of the 2nd batch
    assert "entité n° 4" in error.message
    assert "EPSG:2154" in error.message
    assert "not an array" in error.message  # DuckDB's reason
    assert error.details["row"] == 4
    assert "feature no. 4" in error.localized("en")[0]


def test_geojson_sequence_and_bad_type(tmp_path: Path) -> None:
    feature = {
        "type": "Feature",
        "properties": {"a": 1},
        "geometry": {"type": "Point", "coordinates": [5, 45]},
    }
    seq = tmp_path / "f.geojsonl"
    seq.write_text("\x1e" + json.dumps(feature) + "\n\x1e" + json.dumps(feature) + "\n")
    source, table = read(seq)
    assert source.dialect.format == "geojson"
    assert table.num_rows == 2
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Topology", "objects": {}}', encoding="utf-8")
    assert "Topology" in fails(bad).message


# --------------------------------------------------------------------------------------------
# Parquet


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    table = pa.table(
        {
            " code ": pa.array(["01053", None]),
            "": pa.array([1, 2], pa.int64()),
            "montant": pa.array([1234.56, None]),
            "date": pa.array([dt.date(2024, 3, 12), None]),
        }
    )
    pq.write_table(table, path, row_group_size=1)
    source, read_table = read(path, batch_rows=1)
    assert source.column_names == ["code", "colonne_2", "montant", "date"]
    assert read_table.schema.field("colonne_2").type == pa.int64()
    assert read_table.schema.field("date").type == pa.date32()
    assert rows(read_table)[0]["code"] == "01053"
    assert source.bytes_read() == source.bytes_total
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(path.read_bytes()[:-20])
    assert "Parquet illisible" in fails(broken).message


# --------------------------------------------------------------------------------------------
# names


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "a", "a_2"], ["a", "a_3", "a_2"]),
        (["Nom", "nom"], ["Nom", "nom_2"]),
        ([" x\n y ", "", None], ["x y", "colonne_2", "colonne_3"]),
    ],
)
def test_unique_names(raw: list[str | None], names: list[str]) -> None:
    from beffroi.ingest.readers._common import unique_names

    assert unique_names(raw) == names


@pytest.mark.parametrize(
    ("crs", "position", "place"),
    [
        ("EPSG:2975", [338_000.5, 7_690_000.25], (55.2, 55.9, -21.4, -20.8)),  # La Réunion
        ("EPSG:2972", [350_000.0, 550_000.0], (-54.7, -51.6, 2.1, 5.8)),  # Guyane
        ("EPSG:4471", [510_000.0, 8_580_000.0], (44.9, 45.4, -13.1, -12.5)),  # Mayotte
        ("EPSG:5490", [700_000.0, 1_620_000.0], (-61.3, -60.8, 14.3, 14.9)),  # Martinique
        ("EPSG:27572", [600_000.0, 2_400_000.0], (2.2, 2.5, 48.5, 48.7)),  # Lambert II étendu
    ],
)
def test_geojson_overseas_and_former_systems_are_reprojected(
    tmp_path: Path, crs: str, position: list[float], place: tuple[float, float, float, float]
) -> None:
    point = {"type": "Point", "coordinates": position}
    source, table = read(geojson_file(tmp_path / "outre-mer.geojson", crs, point))
    lon, lat = json.loads(rows(table)[0]["geometry"])["coordinates"][:2]
    west, east, south, north = place
    assert west < lon < east
    assert south < lat < north
    assert any(
        note.startswith(f"reprojeté depuis {crs} vers WGS 84") for note in source.dialect.notes
    )
