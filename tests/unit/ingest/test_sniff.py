# ruff: noqa: RUF001 - typographic French quotes, dashes and other scripts are test data
"""Sniffing: encodings, delimiters, headers and formats guessed from a sample."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from beffroi.errors import InvalidFileError
from beffroi.ingest import sniff

FRENCH = "Libellé;Montant;Date\r\nCafé l’Étoile – œuvre « 2 € »;1234,56;12/03/2024\r\n"


# --------------------------------------------------------------------------------------------
# encoding


@pytest.mark.parametrize(
    ("data", "codec", "name"),
    [
        (b"a;b\r\n1;2\r\n", "utf-8", "utf-8"),
        (FRENCH.encode("utf-8"), "utf-8", "utf-8"),
        (codecs.BOM_UTF8 + FRENCH.encode("utf-8"), "utf-8", "utf-8-sig"),
        (FRENCH.encode("utf-16"), "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE + FRENCH.encode("utf-16-be"), "utf-16-be", "utf-16"),
        (FRENCH.encode("utf-16-le"), "utf-16-le", "utf-16-le"),  # no BOM: NULs on odd bytes
        (FRENCH.encode("cp1252"), "cp1252", "cp1252"),
        # No byte in 0x80-0x9F: latin-1 and cp1252 agree; cp1252 is preferred.
        ("Année;Quartier\r\nÉté;Gare\r\n".encode("latin-1"), "cp1252", "cp1252"),
        # 0xA4 is € in ISO-8859-15 (¤ in cp1252) and 0xBD is œ.
        ("Prix;Note\r\n12 €;cœur\r\n".encode("iso8859-15"), "iso8859-15", "iso-8859-15"),
        # DOS exports: é è ç in 0x80-0x9F inside words.
        ("Libellé;Ville\r\nrégion;Liège\r\nfaçade;théâtre\r\n".encode("cp850"), "cp850", "cp850"),
    ],
)
def test_detect_encoding(data: bytes, codec: str, name: str) -> None:
    guess = sniff.detect_encoding(data, complete=True)
    assert (guess.codec, guess.name) == (codec, name)
    text = sniff.decode_sample(data, guess, complete=True)
    assert "a;b" in text or "Caf" in text or "Ann" in text or "Prix" in text or "Lib" in text


def test_cp1252_characters_decoded() -> None:
    data = FRENCH.encode("cp1252")
    guess = sniff.detect_encoding(data, complete=True)
    text = sniff.decode_sample(data, guess, complete=True)
    assert "Café l’Étoile – œuvre « 2 € »" in text


def test_utf8_sample_cut_inside_a_character_is_still_utf8() -> None:
    data = ("Café crème, " * 10 + "é").encode("utf-8")
    cut = data[:-1]  # the sample ends in the middle of the last "é"
    guess = sniff.detect_encoding(cut, complete=False)
    assert guess.codec == "utf-8"
    assert sniff.decode_sample(cut, guess, complete=False) == "Café crème, " * 10
    # …but a whole file ending that way is not UTF-8.
    assert sniff.detect_encoding(cut, complete=True).codec != "utf-8"


def test_nul_bytes_are_binary() -> None:
    with pytest.raises(InvalidFileError) as caught:
        sniff.detect_encoding(b"\x00\x01\x02\x03binary\x00\xff\xfe" * 50, complete=True)
    assert "n'est pas un tableau texte" in caught.value.message
    assert caught.value.hint


def test_other_scripts_are_refused_with_a_hint() -> None:
    greek = "όνομα,ηλικία\nΑλέξανδρος,39\nΕυστάθιος,28\nΜυρτώ,36\n" * 3
    with pytest.raises(InvalidFileError) as caught:
        sniff.detect_encoding(greek.encode("iso8859-7"), complete=True)
    assert "Encodage du fichier non reconnu" in caught.value.message
    assert "--encoding" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("name", "data", "codec", "bom"),
    [
        ("utf-8", codecs.BOM_UTF8 + b"a", "utf-8", codecs.BOM_UTF8),
        ("UTF8", b"a", "utf-8", b""),
        ("utf-16", codecs.BOM_UTF16_BE + "a".encode("utf-16-be"), "utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16", "a".encode("utf-16-le"), "utf-16-le", b""),
        ("latin-1", b"a", "iso8859-1", b""),
        ("windows-1252", b"a", "cp1252", b""),
    ],
)
def test_resolve_forced_encoding(name: str, data: bytes, codec: str, bom: bytes) -> None:
    guess = sniff.resolve_encoding(name, data)
    assert (guess.codec, guess.bom) == (codec, bom)


def test_unknown_forced_encoding() -> None:
    with pytest.raises(InvalidFileError) as caught:
        sniff.resolve_encoding("klingon", b"a")
    assert caught.value.message == "Encodage inconnu : « klingon »."
    assert caught.value.details["value"] == "klingon"


def test_decode_error_names_the_line_and_the_fix() -> None:
    data = b"a;b\n1;2\n3;caf\xe9\n"
    guess = sniff.EncodingGuess("utf-8", "utf-8")
    with pytest.raises(InvalidFileError) as caught:
        sniff.decode_sample(data, guess, complete=True, path=Path("x.csv"))
    assert caught.value.details["line"] == 3
    assert caught.value.details["file"] == "x.csv"
    assert "--encoding cp1252" in (caught.value.hint or "")


# --------------------------------------------------------------------------------------------
# CSV dialect


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a;b;c\n1;2;3\n4;5;6\n", ";"),
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        # Decimal commas do not fool the scoring: ";" splits every record the same way.
        ("commune;montant;taux\nA;1234,56;0,5\nB;12;1,25\nC;7,5;3\n", ";"),
        # Quoted delimiters are not delimiters.
        ('nom,adresse\n"Dupont","1; rue; Haute"\n"Durand","2; rue; Basse"\n', ","),
        # A "," file whose text column holds ";" on every row: the header decides.
        ("id,libelle\n1,a;b\n2,c;d\n3,e;f\n", ","),
    ],
)
def test_delimiter(text: str, delimiter: str) -> None:
    assert sniff.sniff_csv(text, complete=True).delimiter == delimiter


def test_excel_sep_line() -> None:
    found = sniff.sniff_csv("sep=,\r\na,b\r\n1;5,2\r\n", complete=True)
    assert found.delimiter == ","
    assert found.header == ["a", "b"]
    assert found.header_line == 2


def test_single_column_has_no_delimiter() -> None:
    found = sniff.sniff_csv("valeur\n01\n002\n00003", complete=True)
    assert found.delimiter is None
    assert found.header == ["valeur"]


def test_junk_lines_above_the_header_are_skipped() -> None:
    text = (
        "Export du 12/03/2024\r\n"
        "\r\n"
        "Subventions versées;;\r\n"
        "Bénéficiaire;Montant;Date\r\n"
        "Club;1234,56;12/03/2024\r\n"
        "Comité;12;01/01/2024\r\n"
    )
    found = sniff.sniff_csv(text, complete=True)
    assert found.delimiter == ";"
    assert found.header == ["Bénéficiaire", "Montant", "Date"]
    assert found.header_line == 4
    assert found.data_line == 5
    assert text[found.data_offset :].startswith("Club;")
    assert found.line_terminator == "CRLF"
    assert "3 lignes ignorées avant l'en-tête" in found.notes


def test_no_header_when_the_first_row_is_data() -> None:
    found = sniff.sniff_csv("1,english\n2,french\n3,german\n", complete=True)
    assert found.header is None
    assert found.field_count == 2
    assert found.data_offset == 0


def test_header_with_years_over_counts() -> None:
    found = sniff.sniff_csv(
        "Commune;2019;2020\nParis;2100000;2110000\nLyon;510000;515000\n", complete=True
    )
    assert found.header == ["Commune", "2019", "2020"]
    years = sniff.sniff_csv("2019;a\n2020;b\n2021;c\n", complete=True)
    assert years.header is None


def test_header_of_text_columns_is_kept() -> None:
    found = sniff.sniff_csv("nom;prenom\nDupont;Jean\nDurand;Marie\n", complete=True)
    assert found.header == ["nom", "prenom"]


def test_header_row_can_be_forced() -> None:
    text = "titre\nx;y\na;b\n1;2\n"
    found = sniff.sniff_csv(text, complete=True, header_row=3)
    assert found.header == ["a", "b"]
    assert found.data_line == 4
    none = sniff.sniff_csv("a;b\n1;2\n", complete=True, header_row=0)
    assert none.header is None
    assert none.data_offset == 0


def test_multiline_fields_and_line_endings() -> None:
    text = 'id;adresse\r\n1;"Port\n8, route"\r\n2;"x"\r\n'
    found = sniff.sniff_csv(text, complete=True)
    assert found.multiline
    assert found.line_terminator == "CRLF"  # the bare LF is inside a quoted field
    assert not any("mixtes" in note for note in found.notes)


def test_trailing_delimiter_on_data_rows() -> None:
    found = sniff.sniff_csv("a;b;c\n1;2;3;\n4;5;6;\n", complete=True)
    assert found.header == ["a", "b", "c"]
    assert found.trailing_extra


def test_space_after_comma() -> None:
    found = sniff.sniff_csv("id, nom\n1, Paris\n2, Lyon\n", complete=True)
    assert found.delimiter == ","
    assert found.skipinitialspace


def test_sample_cut_mid_record_ignores_the_partial_record() -> None:
    text = 'a;b\n1;2\n3;"unterminated'
    found = sniff.sniff_csv(text, complete=False)
    assert found.delimiter == ";"
    assert found.header == ["a", "b"]


def test_blank_text_has_no_data() -> None:
    with pytest.raises(InvalidFileError):
        sniff.sniff_csv("\n\n\n", complete=True)


def test_fixed_width_detection() -> None:
    lines = [
        f"{i:05d}    99999999           2018091001400COMMUNE NUMERO {i:03d}     P    "
        for i in range(10)
    ]
    assert sniff.looks_fixed_width("\r\n".join(lines))
    assert not sniff.looks_fixed_width("valeur\n1\n22\n333\n")


# --------------------------------------------------------------------------------------------
# formats


@pytest.mark.parametrize(
    ("head", "suffix", "fmt"),
    [
        (b"PAR1\x15\x04", ".parquet", "parquet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls", "xls"),
        (b'[{"a": 1}]', ".json", "json"),
        (b'{"a": 1}\n{"a": 2}\n', ".json", "ndjson"),
        (b'{"type": "FeatureCollection", "features": []}', ".json", "geojson"),
        (b'{"marches": {"marche": []}}', ".json", "json"),
        (b"a;b\n1;2\n", ".xls", "csv"),  # extensions lie
        (codecs.BOM_UTF8 + b"a,b\n", ".txt", "csv"),
    ],
)
def test_detect_format(head: bytes, suffix: str, fmt: str) -> None:
    assert sniff.detect_format(Path(f"fichier{suffix}"), head) == fmt


def test_binary_kinds() -> None:
    assert sniff.binary_kind(b"%PDF-1.7") == "un document PDF"
    assert sniff.binary_kind(b"\x1f\x8b\x08") == "une archive gzip"
    assert sniff.binary_kind(b"a;b") is None
