"""Delimiter candidates absent from the sample are not parsed, and the outcome is unchanged."""

from __future__ import annotations

import pytest

from beffroi.ingest import sniff


def _dialect(text: str) -> tuple[str | None, list[str] | None, int | None]:
    found = sniff.sniff_csv(text, complete=True)
    return found.delimiter, found.header, found.header_line


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a|b\n1|2\n3|4\n", "|"),
        ("a\tb\n1\t2\n", "\t"),
        ("nom;montant\nA;12,50\nB;3,10\n", ";"),
        ('"x, y"\n"1, 2"\n"3, 4"\n', None),  # commas only inside quotes: one column
        ('nom;montant\n"A;B";1\n', ";"),
        ("montant\n12\n13\n", None),  # no delimiter at all
    ],
)
def test_the_delimiter_found(text: str, delimiter: str | None) -> None:
    assert _dialect(text)[0] == delimiter


def test_absent_candidates_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = sniff._parse

    def spy(text: str, delimiter: str, quotechar: str, **kw: bool) -> list[sniff._Record]:
        parsed.append(delimiter)
        return real(text, delimiter, quotechar, **kw)

    monkeypatch.setattr(sniff, "_parse", spy)
    assert _dialect("a,b\n1,2\n3,4\n")[0] == ","
    assert parsed == [";", ","]  # the first candidate always, then the present ones


def test_an_apostrophe_quote_must_split_as_regularly_as_double_quotes() -> None:
    """Found by the property test: cells holding a lone ``'`` around a comma are not one
    quoted comma when the header says six columns."""
    text = "Colonne A,Colonne B,Colonne C,Colonne D,Colonne E,Colonne F\r\n" + (",,,,','\r\n" * 2)
    found = sniff.sniff_csv(text, complete=True)
    assert found.quotechar == '"'
    assert found.header is not None
    assert len(found.header) == 6


def test_fields_quoted_with_apostrophes_are_still_recognised() -> None:
    text = "'nom','montant'\n'Dupont, Jean','12,5'\n'Martin','3'\n'Durand, Léa','4'\n"
    found = sniff.sniff_csv(text, complete=True)
    assert found.quotechar == "'"
    assert found.header == ["nom", "montant"]
