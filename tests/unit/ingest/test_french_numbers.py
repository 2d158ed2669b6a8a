"""French amounts: one column of decimal-comma numbers, and amounts written with € or %."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from beffroi.ingest.infer import convert, infer_schema
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.readers import open_table
from beffroi.ingest.sniff import sniff_csv


def read_typed(path: Path) -> tuple[list[str], list[dict[str, object]]]:
    source = open_table(path, ReadOptions())
    table = pa.Table.from_batches(list(source.batches()))
    types = infer_schema(table)
    rows = pa.Table.from_batches([convert(b, types) for b in table.to_batches()]).to_pylist()
    return [t.kind for t in types], rows


@pytest.mark.parametrize(
    "text",
    [
        "montant\n12,50\n3,00\n1 234,56\n",
        "montant\r\n12,50\r\n3\r\n",
        "x\n1,5E+03\n2,0E-02\n",
        "taux\n12,5 %\n3,25 %\n",
    ],
)
def test_one_column_of_decimal_commas_is_not_split(text: str) -> None:
    sniffed = sniff_csv(text, complete=True)
    assert sniffed.delimiter is None
    assert sniffed.header == [text.split("\n", maxsplit=1)[0].strip()]


def test_a_real_comma_separated_file_still_splits() -> None:
    assert sniff_csv("a,b\n12,50\n3,00\n", complete=True).delimiter == ","
    assert sniff_csv("code,montant\n01053,12\n56121,3\n", complete=True).delimiter == ","


def test_single_column_amounts_keep_their_decimals(tmp_path: Path) -> None:
    path = tmp_path / "montants.csv"
    path.write_text("montant\n12,50\n3,00\n1 234,56\n", encoding="utf-8")
    kinds, rows = read_typed(path)
    assert kinds == ["number"]
    assert [row["montant"] for row in rows] == [12.5, 3.0, 1234.56]


def test_amounts_with_euro_and_percent_signs_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "aides.csv"
    text = "libellé;montant;taux\nFêtes;1 234,50 €;12,5 %\nŒuvres;12,00 €;3 %\nRepas;€ 5,00;100 %\n"
    path.write_bytes(text.encode("cp1252"))
    kinds, rows = read_typed(path)
    assert kinds == ["string", "number", "number"]
    assert [row["montant"] for row in rows] == [1234.5, 12.0, 5.0]
    assert [row["taux"] for row in rows] == [12.5, 3.0, 100.0]


def test_other_units_or_words_keep_the_column_text(tmp_path: Path) -> None:
    path = tmp_path / "divers.csv"
    path.write_text("a;b\nN° 12;12 kg\nN° 13;3 €\n", encoding="utf-8")
    kinds, _ = read_typed(path)
    assert kinds == ["string", "string"]


@pytest.mark.parametrize("name", ["Population 2020", "Nombre d'habitants", "nb_logements"])
def test_counts_are_not_taken_for_postal_codes(name: str) -> None:
    # 57000 (Metz) and 18000 (Bourges) are postal codes too: the header says they are counts.
    table = pa.table({name: ["57000", "18000", "35000"]})
    assert infer_schema(table)[0].kind == "integer"
    with_zero = pa.table({name: ["01000", "18000"]})
    assert infer_schema(with_zero)[0].kind == "string"  # leading zeros: a code after all
