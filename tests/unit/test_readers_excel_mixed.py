# ruff: noqa: RUF001 - typographic French quotes and spaces are test data
"""Spreadsheet columns mixing cells stored as numbers or dates with cells typed as text.

Workbooks are written here with openpyxl (XLSX, as Excel stores them: number formats, merged
cells, several sheets) and by hand (ODS: typed ``office:value-type`` cells), then read by the
real reader and typed by the real inference; tests assert the cells that come out.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from beffroi.errors import InvalidFileError
from beffroi.ingest.infer import ColumnType, convert, infer_schema
from beffroi.ingest.model import ReadOptions, TableSource
from beffroi.ingest.readers import open_table
from tests.conftest import SHARED_DATA

Cell = Any


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Cell]],
    *,
    sheet: str = "Feuil1",
    formats: dict[str, str] | None = None,
    merged: Sequence[str] = (),
    before: Sequence[tuple[str, Sequence[Sequence[Cell]]]] = (),
) -> None:
    """An XLSX written by openpyxl; ``formats`` maps cell references to number formats,
    ``before`` adds sheets in front of the table's sheet."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for name, content in before:
        other = book.create_sheet(name)
        for row in content:
            other.append(list(row))
    sheet_ = book.create_sheet(sheet)
    for row in rows:
        sheet_.append(list(row))
    for ref, number_format in (formats or {}).items():
        sheet_[ref].number_format = number_format
    for ref in merged:
        sheet_.merge_cells(ref)
    book.save(path)


def write_ods(path: Path, rows: Sequence[Sequence[Cell]], sheet: str = "Feuille1") -> None:
    """An ODS with typed cells: floats, percentages (``("%", 0.125)``), dates, text."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"

    def cell(value: Cell) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, tuple):
            _, number = value
            return (
                f'<table:table-cell office:value-type="percentage" office:value="{number}">'
                f"<text:p>{number * 100:g} %</text:p></table:table-cell>"
            )
        if isinstance(value, dt.date):
            return (
                f'<table:table-cell office:value-type="date" '
                f'office:date-value="{value.isoformat()}">'
                f"<text:p>{value:%d/%m/%Y}</text:p></table:table-cell>"
            )
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string">'
            f"<text:p>{escape(str(value))}</text:p></table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows
    )
    content = (
        f'<office:document-content xmlns:office="{office}" xmlns:table="{table_ns}" '
        f'xmlns:text="{text_ns}" office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="{escape(sheet)}">{body}</table:table>'
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


def read(path: Path, **options: Any) -> tuple[TableSource, pa.Table]:
    """The reader's text cells, whole."""
    source = open_table(path, ReadOptions(**options))
    batches = list(source.batches())
    return source, pa.Table.from_batches(batches)


def typed(path: Path, **options: Any) -> tuple[TableSource, list[ColumnType], pa.Table]:
    """Read, infer the column types from the cells, and convert: what ingestion stores."""
    source, text = read(path, **options)
    types = infer_schema(text)
    batches = [convert(batch, types) for batch in text.to_batches()]
    return source, types, pa.Table.from_batches(batches)


def kinds(types: Sequence[ColumnType]) -> dict[str, str]:
    return {t.name: t.kind for t in types}


def notes(source: TableSource) -> str:
    return " | ".join(source.dialect.notes)


# --------------------------------------------------------------------------------------------
# amounts and rates


def test_amounts_typed_as_numbers_and_as_french_text(tmp_path: Path) -> None:
    path = tmp_path / "subventions.xlsx"
    write_xlsx(
        path,
        [
            ["Bénéficiaire", "Montant", "Taux"],
            ["Asso A", 1234.5, 0.125],
            ["Asso B", "1 234,50", "12,5 %"],
            ["Asso C", "N/A", "-"],
            ["Asso D", "2\u202f500", 1],
            ["Asso E", "-", "5 %"],
            ["Asso F", "1 000 €", 0.2],
            ["Asso G", 12, "−3,5 %"],
        ],
        formats={"C2": "0.0%", "C5": "0%", "C7": "0%"},
    )
    source, text = read(path)
    assert text.column("Montant").to_pylist() == [
        "1234.5",
        "1234.50",
        "N/A",
        "2500",
        "-",
        "1000",
        "12",
    ]
    assert text.column("Taux").to_pylist() == ["0.125", "0.125", "-", "1", "0.05", "0.2", "-0.035"]
    assert "colonne « Montant » : 3 nombre(s) saisi(s) en texte" in notes(source)
    assert "(symbole € retiré)" in notes(source)
    _, types, table = typed(path)
    assert kinds(types)["Montant"] == "number"
    assert kinds(types)["Taux"] == "number"
    assert table.column("Montant").to_pylist() == [1234.5, 1234.5, None, 2500, None, 1000, 12]
    assert table.column("Taux").to_pylist() == [0.125, 0.125, None, 1, 0.05, 0.2, -0.035]


def test_percent_texts_beside_whole_percentages_keep_their_figure(tmp_path: Path) -> None:
    """Numbers above 1 are percentages written as figures: "12,5 %" stays 12.5 beside them."""
    path = tmp_path / "taux.xlsx"
    write_xlsx(path, [["Commune", "Taux"], ["A", 12.5], ["B", "7,25 %"], ["C", 30]])
    _, _, table = typed(path)
    assert table.column("Taux").to_pylist() == [12.5, 7.25, 30]


def test_english_thousands_in_text_beside_numbers(tmp_path: Path) -> None:
    path = tmp_path / "montants.xlsx"
    write_xlsx(path, [["Objet", "Montant"], ["a", 10.5], ["b", "1,234,567.25"], ["c", "1,5"]])
    _, text = read(path)
    # "1,5" and "1,234,567.25" have no common reading: the column is left as written.
    assert text.column("Montant").to_pylist() == ["10.5", "1,234,567.25", "1,5"]
    path2 = tmp_path / "montants2.xlsx"
    write_xlsx(path2, [["Objet", "Montant"], ["a", 10.5], ["b", "1,234,567.25"], ["c", "2,000"]])
    _, _, table = typed(path2)
    assert table.column("Montant").to_pylist() == [10.5, 1234567.25, 2000]


def test_plain_text_beside_numbers_keeps_every_spelling(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["Objet", "Montant"], ["a", 1234.5], ["b", "1 234,50"], ["c", "voir note"]])
    source, types, table = typed(path)
    assert kinds(types)["Montant"] == "string"
    assert table.column("Montant").to_pylist() == ["1234.5", "1 234,50", "voir note"]
    assert "Montant" not in notes(source)


# --------------------------------------------------------------------------------------------
# dates


def test_dates_as_date_cells_day_numbers_and_french_text(tmp_path: Path) -> None:
    path = tmp_path / "conventions.xlsx"
    write_xlsx(
        path,
        [
            ["Référence", "Date de la convention", "Versement"],
            ["C1", dt.date(2024, 2, 3), dt.datetime(2024, 2, 3, 10, 30)],  # noqa: DTZ001
            ["C2", "03/02/2024", "04/02/2024 08:15"],
            ["C3", 45325, None],  # the day number of 2024-02-03, without a date format
            ["C4", "31/12/23", "2024-03-01 12:00:00"],
            ["C5", "N/A", None],
            ["C6", "1.3.2024", None],
        ],
        formats={"B2": "dd/mm/yyyy", "C2": "dd/mm/yyyy hh:mm"},
    )
    source, text = read(path)
    assert text.column("Date de la convention").to_pylist() == [
        "2024-02-03",
        "2024-02-03",
        "2024-02-03",
        "2023-12-31",
        "N/A",
        "2024-03-01",
    ]
    assert text.column("Versement").to_pylist() == [
        "2024-02-03T10:30:00",
        "2024-02-04T08:15:00",
        None,
        "2024-03-01T12:00:00",
        None,
        None,
    ]
    assert "1 numéro(s) de jour Excel" in notes(source)
    _, types, table = typed(path)
    assert kinds(types)["Date de la convention"] == "date"
    assert kinds(types)["Versement"] == "datetime"
    assert table.column("Date de la convention").to_pylist() == [
        dt.date(2024, 2, 3),
        dt.date(2024, 2, 3),
        dt.date(2024, 2, 3),
        dt.date(2023, 12, 31),
        None,
        dt.date(2024, 3, 1),
    ]
    assert table.column("Versement")[1].as_py() == dt.datetime(2024, 2, 4, 8, 15)  # noqa: DTZ001


def test_month_first_text_dates_when_proven(tmp_path: Path) -> None:
    path = tmp_path / "dates.xlsx"
    write_xlsx(
        path,
        [["Objet", "Date"], ["a", dt.date(2024, 1, 5)], ["b", "02/13/2024"], ["c", "03/04/2024"]],
    )
    _, text = read(path)
    assert text.column("Date").to_pylist() == ["2024-01-05", "2024-02-13", "2024-03-04"]


def test_years_and_impossible_dates_are_not_made_dates(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(
        path,
        [
            ["Objet", "Date", "Échéance"],
            ["a", dt.date(2024, 1, 5), dt.date(2024, 1, 5)],
            ["b", 2024, "31/02/2024"],  # a year, not a day number; no 31 February
        ],
    )
    _, types, table = typed(path)
    assert table.column("Date").to_pylist() == ["2024-01-05", "2024"]
    assert table.column("Échéance").to_pylist() == ["2024-01-05", "31/02/2024"]
    assert kinds(types) == {"Objet": "string", "Date": "string", "Échéance": "string"}


# --------------------------------------------------------------------------------------------
# codes that lost their leading zeros


def test_commune_postal_and_departement_codes_stored_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "communes.xlsx"
    write_xlsx(
        path,
        [
            ["Code INSEE", "Nom", "CP", "dep", "Population"],
            [1053, "Bourg-en-Bresse", 1000, 1, 41_365],
            ["01001", "L'Abergement-Clémenciat", "01400", "01", 848],
            ["2A004", "Ajaccio", 20000, "2A", 73_000],
            [75056, "Paris", 75001, 75, 2_100_000],
            [1004, "Ambérieu-en-Bugey", 1500, 1, 1004],
        ],
    )
    source, types, table = typed(path)
    assert table.column("Code INSEE").to_pylist() == ["01053", "01001", "2A004", "75056", "01004"]
    assert table.column("CP").to_pylist() == ["01000", "01400", "20000", "75001", "01500"]
    assert table.column("dep").to_pylist() == ["01", "01", "2A", "75", "01"]
    assert table.column("Population").to_pylist() == [41_365, 848, 73_000, 2_100_000, 1004]
    assert kinds(types) == {
        "Code INSEE": "string",
        "Nom": "string",
        "CP": "string",
        "dep": "string",
        "Population": "integer",
    }
    assert "colonne « Code INSEE » (code commune) : codes saisis comme nombres" in notes(source)


def test_code_width_taken_from_codes_written_with_their_zeros(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["Commune", "N° ordre"], ["a", "0012"], ["b", 7], ["c", 123], ["d", "0450"]])
    _, text = read(path)
    assert text.column("N° ordre").to_pylist() == ["0012", "0007", "0123", "0450"]


def test_quantity_columns_are_never_padded(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["Code commune", "Nombre de logements"], ["01053", 1053], ["01001", 15_000]])
    _, types, table = typed(path)
    assert table.column("Nombre de logements").to_pylist() == [1053, 15_000]
    assert kinds(types)["Nombre de logements"] == "integer"


def test_real_reference_file_with_codes_retyped_as_numbers(tmp_path: Path) -> None:
    """BANATIC's commune table (real rows): codes typed back as numbers in every other row
    (as when a workbook is edited by hand), populations typed as text in some: the same
    cells come out as from the original."""
    original = SHARED_DATA / "reference/epci/banatic_siren_insee-2024.xlsx"
    rows = CalamineWorkbook.from_path(str(original)).get_sheet_by_name("insee_siren")
    sample = rows.to_python(nrows=301)
    header, body = sample[0], sample[1:]
    damaged: list[list[Any]] = []
    for index, cells in enumerate(body):
        row: list[Any] = [str(cell) if isinstance(cell, str) else cell for cell in cells]
        if index % 2:
            row[1] = int(row[1]) if row[1].isdigit() else row[1]  # dep_com "01" → 1
            row[3] = int(row[3]) if row[3].isdigit() else row[3]  # insee "01001" → 1001
        if index % 3 == 0:
            row[5] = f"{int(row[5]):,}".replace(",", "\u202f")  # ptot_2024 "15 240"
        damaged.append(row)
    path = tmp_path / "banatic-retouche.xlsx"
    write_xlsx(path, [header, *damaged], sheet="insee_siren")
    _, _, expected = typed(original)
    _, types, table = typed(path)
    assert kinds(types)["insee"] == "string"
    assert kinds(types)["ptot_2024"] == "integer"
    for column in ("dep_com", "insee", "ptot_2024", "nom_com"):
        assert table.column(column).to_pylist() == expected.column(column).to_pylist()[:300]
    assert table.column("insee")[1].as_py() == "01002"  # 1002 in the retyped workbook
    assert table.column("ptot_2024")[3].as_py() == 1921


# --------------------------------------------------------------------------------------------
# layout: junk lines, merged headers, named sheets; ODS


def test_junk_lines_merged_header_and_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "population.xlsx"
    write_xlsx(
        path,
        [
            ["Population municipale par commune"],
            ["Source : Insee, recensement"],
            [],
            ["Code commune", "Commune", "Population", None, "Évolution"],
            [None, None, "2020", "2021", None],
            [1053, "Bourg-en-Bresse", 41_248, "41 365", "0,3 %"],
            ["01004", "Ambérieu-en-Bugey", "14 514", 15_240, 0.05],
        ],
        sheet="Données 2021",
        formats={"E7": "0%"},
        merged=["A1:E1", "C4:D4", "A4:A5", "B4:B5", "E4:E5"],
        before=[("Notes", [["Lisez-moi"], ["Ce classeur contient deux feuilles"]])],
    )
    source, types, table = typed(path, sheet="Données 2021")
    assert source.dialect.sheet == "Données 2021"
    assert source.dialect.header_row == 4
    assert source.column_names == [
        "Code commune",
        "Commune",
        "Population 2020",
        "Population 2021",
        "Évolution",
    ]
    assert table.to_pylist() == [
        {
            "Code commune": "01053",
            "Commune": "Bourg-en-Bresse",
            "Population 2020": 41_248,
            "Population 2021": 41_365,
            "Évolution": 0.003,
        },
        {
            "Code commune": "01004",
            "Commune": "Ambérieu-en-Bugey",
            "Population 2020": 14_514,
            "Population 2021": 15_240,
            "Évolution": 0.05,
        },
    ]
    assert kinds(types)["Population 2021"] == "integer"
    assert "3 ligne(s) ignorée(s) avant l'en-tête" in notes(source)
    # Without --sheet the first sheet holding a table is read: here "Notes" holds two rows.
    other, _ = read(path)
    assert other.dialect.sheet == "Notes"
    assert "Données 2021" in notes(other)
    by_number, _ = read(path, sheet="2")
    assert by_number.dialect.sheet == "Données 2021"


def test_missing_sheet_names_the_sheets(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["a"], [1]], sheet="Données")
    with pytest.raises(InvalidFileError) as caught:
        open_table(path, ReadOptions(sheet="Donnees 2024"))
    assert "Feuille « Donnees 2024 » introuvable" in str(caught.value)
    assert "Données" in (caught.value.hint or "")


def test_ods_with_typed_and_text_cells(tmp_path: Path) -> None:
    path = tmp_path / "subventions.ods"
    write_ods(
        path,
        [
            ["Export du 12/03/2024"],
            [],
            ["Code INSEE", "Montant", "Taux", "Date de versement"],
            [1053, 1234.5, ("%", 0.125), dt.date(2024, 2, 3)],
            ["01001", "1 234,50", "12,5 %", "03/02/2024"],
            ["2A004", "N/A", ("%", 0.2), 45_325],
            [75056, "2 000 €", "-", None],
        ],
        sheet="Subventions",
    )
    source, types, table = typed(path, sheet="Subventions")
    assert source.dialect.format == "ods"
    assert source.dialect.header_row == 3
    assert kinds(types) == {
        "Code INSEE": "string",
        "Montant": "number",
        "Taux": "number",
        "Date de versement": "date",
    }
    assert table.to_pylist() == [
        {
            "Code INSEE": "01053",
            "Montant": 1234.5,
            "Taux": 0.125,
            "Date de versement": dt.date(2024, 2, 3),
        },
        {
            "Code INSEE": "01001",
            "Montant": 1234.5,
            "Taux": 0.125,
            "Date de versement": dt.date(2024, 2, 3),
        },
        {
            "Code INSEE": "2A004",
            "Montant": None,
            "Taux": 0.2,
            "Date de versement": dt.date(2024, 2, 3),
        },
        {"Code INSEE": "75056", "Montant": 2000.0, "Taux": None, "Date de versement": None},
    ]


def test_columns_of_one_kind_are_untouched(tmp_path: Path) -> None:
    """Numbers stored as text only, or numbers only: the reader leaves typing its job."""
    path = tmp_path / "f.xlsx"
    write_xlsx(
        path,
        [["Objet", "Montant", "Nombre"], ["a", "1 234,50", 3], ["b", "12,00", 4.5], ["c", "7", 1]],
    )
    source, types, table = typed(path)
    assert read(path)[1].column("Montant").to_pylist() == ["1 234,50", "12,00", "7"]
    assert table.column("Montant").to_pylist() == [1234.5, 12.0, 7.0]
    assert table.column("Nombre").to_pylist() == [3, 4.5, 1]
    assert "colonne «" not in notes(source)
    assert kinds(types)["Montant"] == "number"


def test_numbers_beside_five_digit_amounts_are_not_taken_for_codes(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, [["Objet", "Prix"], ["a", "12345"], ["b", 1234], ["c", "2 500"]])
    _, types, table = typed(path)
    assert table.column("Prix").to_pylist() == [12345, 1234, 2500]
    assert kinds(types)["Prix"] == "integer"


def test_error_cells_are_empty_and_long_texts_plain(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(
        path,
        [
            ["Objet", "Montant", "Note"],
            ["a", 10.5, 3],
            ["b", "#DIV/0!", "1" * 5000 + "x"],  # openpyxl stores "#DIV/0!" as an error cell
            ["c", "7,25", 4],
        ],
    )
    source, text = read(path)
    assert text.column("Montant").to_pylist() == ["10.5", None, "7.25"]
    assert text.column("Note").to_pylist() == ["3", "1" * 5000 + "x", "4"]
    assert "« Note »" not in notes(source)


def _french(value: Decimal, groups: str) -> str:
    """``value`` as French text: thousands separated by ``groups``, decimal comma."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", groups)
    return sign + grouped + ("," + fraction if fraction else "")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.decimals(
                min_value=-10_000_000,
                max_value=10_000_000,
                places=2,
                allow_nan=False,
                allow_infinity=False,
            ),
            st.sampled_from(["native", "text", "text-nbsp", "text-euro"]),
        ),
        min_size=2,
        max_size=30,
    )
)
def test_any_mix_of_native_and_french_text_amounts_reads_back(
    tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[Decimal, str]]
) -> None:
    hows = {how for _, how in cells}
    # Text only, some with "€" and some without: typing keeps such a column as text (which
    # unit would the bare ones be in?); beside native numbers the reader settles it.
    assume("native" in hows or "text-euro" not in hows or hows == {"text-euro"})
    path = tmp_path_factory.mktemp("mix") / "montants.xlsx"
    rendered: list[Cell] = []
    for value, how in cells:
        if how == "native":
            rendered.append(float(value))
        elif how == "text":
            rendered.append(_french(value, " "))
        elif how == "text-nbsp":
            rendered.append(_french(value, "\u202f"))
        else:
            rendered.append(_french(value, " ") + " €")
    write_xlsx(path, [["Objet", "Montant"], *[[f"l{i}", v] for i, v in enumerate(rendered)]])
    _, types, table = typed(path)
    assert kinds(types)["Montant"] in {"number", "integer"}
    assert table.column("Montant").to_pylist() == [float(value) for value, _ in cells]


def test_mixed_cells_far_apart_in_a_long_sheet(tmp_path: Path) -> None:
    """Kinds are gathered over the whole sheet (chunk after chunk), not a sample."""
    rows: list[list[Cell]] = [["Code INSEE", "Montant", "Date"]]
    rows += [["01053", float(i), dt.date(2024, 1, 1)] for i in range(9_000)]
    rows.append([1001, "1 234,50", "31/12/2024"])
    rows += [["2A004", float(i), dt.date(2024, 1, 2)] for i in range(9_000)]
    path = tmp_path / "long.xlsx"
    write_xlsx(path, rows)
    _, types, table = typed(path)
    assert kinds(types) == {"Code INSEE": "string", "Montant": "number", "Date": "date"}
    assert table.slice(9_000, 1).to_pylist() == [
        {"Code INSEE": "01001", "Montant": 1234.5, "Date": dt.date(2024, 12, 31)}
    ]
    assert table.num_rows == 18_001
