"""Guess how a file is written: its format, its encoding and, for text tables, its CSV dialect.

Everything here works on a *sample* (the first :data:`SAMPLE_BYTES` of the file), never on the
whole file, so that sniffing a 5 GB upload costs the same as sniffing a 5 kB one. The readers
(:mod:`beffroi.ingest.readers`) stream the rest.

Encoding: a BOM wins; else a strict UTF-8 decode of the sample (a multibyte character cut by
the sample's end is not an error); else a single-byte Western encoding — Windows-1252 (the
French Excel default) unless the bytes say ISO-8859-15 (``€`` at 0xA4, ``œ`` at 0xBD) or DOS
cp850 (accented letters in 0x80-0x9F between plain letters). Text that decodes but reads as
another script (Greek, Cyrillic…) is refused with the encoding charset-normalizer suggests.

Dialect: the delimiter is chosen among ``;`` ``,`` tab ``|`` by parsing the sample with each,
quote-aware (``csv.Sniffer`` guesses from character counts and is easily fooled by decimal
commas), and keeping the one whose records most consistently have the same number of fields.
The header is the first record with that modal field count that looks like labels; the lines
above it (titles, blank lines, "Export du 12/03/2024") are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from beffroi.errors import InvalidFileError

SAMPLE_BYTES = 1 << 20
"""Bytes read from the start of a file to guess its encoding and dialect."""

MAX_LINE_BYTES = 64 << 20
"""Longest physical line (or CSV record) accepted; longer ones are refused, not buffered."""

SNIFF_MAX_RECORDS = 5_000
"""Records of the sample parsed to choose the delimiter and the header."""

DELIMITERS: tuple[str, ...] = (";", ",", "\t", "|")
"""Candidate delimiters, in order of preference when two score the same (French files first)."""

DELIMITER_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre verticale"}
DELIMITER_NAMES_EN = {";": "semicolon", ",": "comma", "\t": "tab", "|": "vertical bar"}

NO_DELIMITER = "\x1f"
"""Delimiter handed to the CSV parser for single-column files (the ASCII unit separator)."""

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    # (BOM, codec used after the BOM, name shown to the user); UTF-32 before UTF-16 (FF FE 00 00)
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "un document PDF"),
    (b"\x89PNG", "une image PNG"),
    (b"\xff\xd8\xff", "une image JPEG"),
    (b"GIF8", "une image GIF"),
    (b"\x1f\x8b", "une archive gzip"),
    (b"7z\xbc\xaf\x27\x1c", "une archive 7-Zip"),
    (b"Rar!", "une archive RAR"),
    (b"BZh", "une archive bzip2"),
    (b"\xfd7zXZ\x00", "une archive xz"),
    (b"SQLite format 3\x00", "une base SQLite"),
)

KINDS_EN: dict[str, str] = {
    "un document PDF": "a PDF document",
    "une image PNG": "a PNG image",
    "une image JPEG": "a JPEG image",
    "une image GIF": "a GIF image",
    "une archive gzip": "a gzip archive",
    "une archive 7-Zip": "a 7-Zip archive",
    "une archive RAR": "a RAR archive",
    "une archive bzip2": "a bzip2 archive",
    "une archive xz": "an xz archive",
    "une base SQLite": "an SQLite database",
    "un fichier binaire (octets nuls)": "a binary file (NUL bytes)",
    "une archive ZIP (qui n'est pas un classeur)": "a ZIP archive (not a workbook)",
    "une page HTML": "an HTML page",
    "un document XML": "an XML document",
}
"""English names of the file kinds :func:`binary_kind` (and the readers) name in French."""


def kind_en(kind: str) -> str:
    """The English name of a file kind named in French (``"un document PDF"``)."""
    return KINDS_EN.get(kind, kind)


# Bytes that Windows-1252 leaves undefined: a file holding them is not cp1252.
_CP1252_UNDEFINED_BYTES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_C1 = re.compile(rb"[\x80-\x9f]")
# Latin-1/cp1252 accented letters (0xC0-0xFF) next to a plain letter: "Ann\xe9e".
_LETTER_ACCENT = re.compile(rb"[A-Za-z][\xc0-\xff]|[\xc0-\xff][A-Za-z]")
# cp850 (DOS) puts French accented letters in 0x80-0x9F (\x82 é, \x8a è, \x87 ç, \x88 ê…);
# inside lower-case words they betray it. Bytes that cp1252 also puts inside words (right
# quote \x92, œ \x9c) or between them (dashes \x96 \x97, ellipsis \x85) are left out.
_DOS_LETTER = re.compile(rb"[a-z][\x81\x82\x83\x84\x87\x88\x89\x8a\x8b\x8c\x93\x94][a-z]")
_ASCII_LETTER = re.compile(rb"[A-Za-z]")
_HIGH = re.compile(rb"[\xc0-\xff]")
_HIGH_RUN = re.compile(rb"[\xc0-\xff]{4,}")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_WESTERN = frozenset(
    {"cp1252", "latin_1", "iso8859_15", "iso8859_1", "ascii", "utf_8", "cp850", "mac_roman"}
)


@dataclass(frozen=True, slots=True)
class EncodingGuess:
    """How to decode a file's bytes."""

    codec: str  # Python codec for the bytes after the BOM
    name: str  # name shown to the user and stored in the dialect
    bom: bytes = b""
    note: str | None = None


def invalid(
    message: str,
    hint: str,
    path: Path | None = None,
    *,
    message_en: str | None = None,
    hint_en: str | None = None,
    line: int | None = None,
    column: str | int | None = None,
    value: object = None,
    **more: object,
) -> InvalidFileError:
    """An :class:`InvalidFileError` with the usual ``details`` (file, line, column, value).

    ``message_en``/``hint_en`` are the English text (same values as the French one); every
    error raised under ``beffroi.ingest`` passes them (``tests/unit/ingest/test_errors_en.py``).
    """
    details: dict[str, object] = {"file": path.name if path is not None else None}
    if line is not None:
        details["line"] = line
    if column is not None:
        details["column"] = column
    if value is not None:
        details["value"] = value
    details.update(more)
    return InvalidFileError(
        message, hint=hint, details=details, message_en=message_en, hint_en=hint_en
    )


# --------------------------------------------------------------------------------------------
# format


def binary_kind(head: bytes) -> str | None:
    """What a non-table binary file is (``"un document PDF"``…), from its magic bytes."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def detect_format(path: Path, head: bytes) -> str:
    """The reader to use, from the content first (extensions lie) then the extension.

    Returns one of ``csv``, ``xlsx``, ``xlsb``, ``xls``, ``ods``, ``json``, ``ndjson``,
    ``geojson``, ``parquet`` or ``zip`` (an archive that is not a spreadsheet).
    """
    suffix = path.suffix.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(path, suffix)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"  # OLE2: Excel 97-2003 (or an encrypted OOXML workbook)
    text = _head_text(head)
    stripped = text.lstrip("\x1e \t\r\n")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return _json_kind(stripped, suffix)
    return "csv"


def _zip_format(path: Path, suffix: str) -> str:
    import zipfile  # noqa: PLC0415 - only for zip containers

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except Exception:  # noqa: BLE001 - any damage: let the spreadsheet reader report it
        # A truncated workbook still starts with PK: let the spreadsheet reader say so.
        return suffix.lstrip(".") if suffix in {".xlsx", ".xlsm", ".ods"} else "xlsx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if b"opendocument.spreadsheet" in mimetype or "content.xml" in names:
        return "ods"
    return "zip"


def _head_text(head: bytes) -> str:
    for bom, codec, _ in _BOMS:
        if head.startswith(bom):
            return head[len(bom) : len(bom) + 4096].decode(codec, errors="replace")
    utf16 = _utf16_without_bom(head[:4096])
    if utf16:
        return head[:4096].decode(utf16, errors="replace")
    return head[:4096].decode("latin-1")


def _json_kind(text: str, suffix: str) -> str:
    first, _, rest = text.partition("\n")
    if rest.lstrip("\x1e \t\r\n").startswith("{"):
        import json  # noqa: PLC0415

        try:
            json.loads(first.strip("\x1e \t\r"))
        except ValueError:
            pass
        else:
            return "ndjson"  # one JSON value per line (GeoJSON sequences included)
    if suffix == ".geojson" or re.search(r'"type"\s*:\s*"(FeatureCollection|Feature)"', text):
        return "geojson"
    return "json"


# --------------------------------------------------------------------------------------------
# encoding


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the NUL bytes fall on one parity (mostly ASCII text)."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even = sample[0 : pairs * 2 : 2].count(0)
    odd = sample[1 : pairs * 2 : 2].count(0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def detect_encoding(sample: bytes, *, complete: bool, path: Path | None = None) -> EncodingGuess:
    """Guess the encoding of a text file from its first bytes.

    ``complete`` says the sample is the whole file (else its end may cut a character).
    Raises :class:`InvalidFileError` for binary content and for text in an unsupported script.
    """
    for bom, codec, name in _BOMS:
        if sample.startswith(bom):
            return EncodingGuess(codec, name, bom)
    utf16 = _utf16_without_bom(sample[: 1 << 16])
    if utf16:
        return EncodingGuess(utf16, utf16, note="UTF-16 sans BOM détecté")
    if b"\x00" in sample:
        raise _binary_error(sample, path)
    if _is_utf8(sample, complete=complete):
        return EncodingGuess("utf-8", "utf-8")
    return _single_byte(sample, path)


def _is_utf8(sample: bytes, *, complete: bool) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample's end may cut a 2-4 byte character in two: not an error.
        return (
            not complete
            and error.start >= len(sample) - 3
            and error.reason == "unexpected end of data"
        )
    return True


def _single_byte(sample: bytes, path: Path | None) -> EncodingGuess:
    undefined = any(byte in sample for byte in _CP1252_UNDEFINED_BYTES)
    c1 = len(_C1.findall(sample))
    letter_accent = len(_LETTER_ACCENT.findall(sample))
    dos = len(_DOS_LETTER.findall(sample))
    # One DOS-looking byte alone is no proof ("aŒa" is \x8c in cp1252 too): cp1252 is by
    # far the likelier encoding of a French file, so DOS needs two such letters at least.
    if dos > letter_accent and dos >= 2:
        return EncodingGuess("cp850", "cp850", note="encodage DOS (cp850) détecté")
    _refuse_other_scripts(sample, path, undefined=undefined)
    if undefined:
        return EncodingGuess(
            "latin-1",
            "iso-8859-1",
            note="octets non définis en Windows-1252 : lu en ISO-8859-1 (Latin-1)",
        )
    if c1 == 0 and _looks_iso8859_15(sample):
        return EncodingGuess("iso8859-15", "iso-8859-15")
    return EncodingGuess("cp1252", "cp1252")


def _looks_iso8859_15(sample: bytes) -> bool:
    """0xA4 is ``€`` in ISO-8859-15 (``¤`` in cp1252); 0xBC/0xBD inside words are ``Œ``/``œ``."""
    if b"\xa4" in sample:
        return True
    return re.search(rb"[A-Za-z][\xbc\xbd][A-Za-z]", sample) is not None


def _refuse_other_scripts(sample: bytes, path: Path | None, *, undefined: bool) -> None:
    """Refuse text that decodes as cp1252 but is really Greek, Cyrillic, Hebrew…

    In French text accented letters are a few percent of the letters and stand alone between
    plain ones; in Greek or Cyrillic single-byte text whole words are made of bytes >= 0xC0.
    When such words make up most of the high bytes, ask charset-normalizer which encoding it
    is and tell the user.
    """
    letters = len(_ASCII_LETTER.findall(sample))
    high = len(_HIGH.findall(sample))
    runs = _HIGH_RUN.findall(sample)
    foreign = len(runs) >= 3 and sum(len(run) for run in runs) >= 0.5 * high
    if not undefined and not (foreign and high > max(8, 0.25 * (letters + high))):
        return
    from charset_normalizer import from_bytes  # noqa: PLC0415 - slow import, rare path

    matches = from_bytes(sample[:65536])
    best = matches.best()
    guess = best.encoding if best is not None else None
    others = ", ".join(m.encoding for m in matches if m.encoding != guess) or None
    if guess is None or guess.replace("-", "_") in _WESTERN:
        if undefined and guess is None:
            raise invalid(
                "Encodage du fichier non reconnu : ni UTF-8, ni Windows-1252, ni ISO-8859-15.",
                "Enregistrez le fichier en UTF-8, ou relancez avec --encoding <encodage>.",
                path,
                message_en="Unrecognised file encoding: neither UTF-8, Windows-1252 nor "
                "ISO-8859-15.",
                hint_en="Save the file as UTF-8, or run again with --encoding <encoding>.",
            )
        return
    maybe = f" (ou {others})" if others else ""
    maybe_en = f" (or {others})" if others else ""
    raise invalid(
        "Encodage du fichier non reconnu : ce n'est ni de l'UTF-8 ni un encodage d'Europe de "
        f"l'Ouest ; il pourrait être en {guess}{maybe}, détection incertaine.",
        f"Relancez avec l'encodage du fichier, par exemple --encoding {guess}, --encoding "
        "iso-8859-7 (grec) ou --encoding cp1251 (cyrillique), ou enregistrez-le en UTF-8.",
        path,
        message_en="Unrecognised file encoding: it is neither UTF-8 nor a Western European "
        f"encoding; it might be {guess}{maybe_en}, but this guess is uncertain.",
        hint_en=f"Run again with the file's encoding, for example --encoding {guess}, "
        "--encoding iso-8859-7 (Greek) or --encoding cp1251 (Cyrillic), or save it as UTF-8.",
        value=guess,
        candidates=[guess, *(others.split(", ") if others else [])],
    )


def _binary_error(sample: bytes, path: Path | None) -> InvalidFileError:
    kind = binary_kind(sample) or "un fichier binaire (octets nuls)"
    return invalid(
        f"Ce fichier n'est pas un tableau texte : c'est {kind}.",
        "Envoyez un fichier CSV, Excel (.xlsx, .xls), OpenDocument (.ods), JSON, GeoJSON "
        "ou Parquet.",
        path,
        message_en=f"This file is not a text table: it is {kind_en(kind)}.",
        hint_en="Send a CSV, Excel (.xlsx, .xls), OpenDocument (.ods), JSON, GeoJSON or "
        "Parquet file.",
        value=sample[:16].hex(" "),
    )


def resolve_encoding(name: str, sample: bytes, path: Path | None = None) -> EncodingGuess:
    """The encoding the user forced (any Python codec name); a matching BOM is skipped."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise invalid(
            f"Encodage inconnu : « {name} ».",
            "Utilisez par exemple --encoding utf-8, cp1252, iso-8859-15 ou utf-16.",
            path,
            message_en=f"Unknown encoding: '{name}'.",
            hint_en="Use for example --encoding utf-8, cp1252, iso-8859-15 or utf-16.",
            value=name,
        ) from None
    family = {"utf-8-sig": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32"}.get(codec, codec)
    for bom, bom_codec, _ in _BOMS:
        if sample.startswith(bom) and bom_codec.startswith(family):
            return EncodingGuess(bom_codec, name, bom)
    if family in {"utf-16", "utf-32"}:  # no BOM: little-endian, as Windows writes it
        return EncodingGuess(f"{family}-le", name)
    return EncodingGuess(family, name)


def check_text(text: str, path: Path | None = None) -> None:
    """Refuse decoded text full of control characters (a binary file that happened to decode)."""
    head = text[:65536]
    if len(_CONTROL.findall(head)) > max(4, len(head) // 100):
        raise invalid(
            "Ce fichier n'est pas un tableau texte : il contient des caractères de contrôle "
            "(fichier binaire ou encodage inattendu).",
            "Envoyez un fichier CSV, Excel (.xlsx, .xls), OpenDocument (.ods), JSON, GeoJSON "
            "ou Parquet, ou précisez son encodage avec --encoding.",
            path,
            message_en="This file is not a text table: it contains control characters (a "
            "binary file or an unexpected encoding).",
            hint_en="Send a CSV, Excel (.xlsx, .xls), OpenDocument (.ods), JSON, GeoJSON or "
            "Parquet file, or give its encoding with --encoding.",
        )


def decode_error(
    error: UnicodeDecodeError, guess: EncodingGuess, path: Path | None, *, line: int
) -> InvalidFileError:
    """The error for bytes that the chosen encoding cannot decode."""
    bad = error.object[error.start : error.start + 4]
    other = "cp1252" if guess.codec.startswith("utf") else "utf-8"
    return invalid(
        f"Octets invalides pour l'encodage {guess.name} à la ligne {line} "
        f"(octets {bad.hex(' ')}) : le fichier n'est pas entièrement en {guess.name}.",
        f"Relancez avec --encoding {other}, ou enregistrez le fichier en UTF-8.",
        path,
        message_en=f"Invalid bytes for the {guess.name} encoding on line {line} "
        f"(bytes {bad.hex(' ')}): the file is not entirely {guess.name}.",
        hint_en=f"Run again with --encoding {other}, or save the file as UTF-8.",
        line=line,
        value=bad.hex(" "),
        encoding=guess.name,
    )


def decode_sample(
    sample: bytes, guess: EncodingGuess, *, complete: bool, path: Path | None = None
) -> str:
    """The sample as text (without its BOM); a character cut by the sample's end is dropped."""
    decoder = codecs.getincrementaldecoder(guess.codec)(errors="strict")
    data = sample[len(guess.bom) :]
    try:
        return decoder.decode(data, final=complete)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise decode_error(error, guess, path, line=line) from None


# --------------------------------------------------------------------------------------------
# CSV dialect

_NEWLINE = re.compile(r"\r\n|\r|\n")
_NUMBER = re.compile(r"[-+]?(\d[\d\s\u00a0\u202f.,']*|[.,]\d+)([eE][-+]?\d+)?\s*%?")
_YEAR = re.compile(r"(19|20)\d\d")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?.*)?")


@dataclass(slots=True)
class CsvSniff:
    """What :func:`sniff_csv` found in a sample of decoded text."""

    delimiter: str | None  # None: a single column
    quotechar: str = '"'
    skipinitialspace: bool = False  # "a, b, c": drop the space after each delimiter
    line_terminator: str | None = None  # "CRLF", "LF" or "CR"
    header: list[str] | None = None  # raw header fields, None when the file has none
    header_line: int | None = None  # 1-based physical line of the header
    data_line: int = 1  # 1-based physical line of the first data record
    data_offset: int = 0  # offset (in characters of the sample) of the first data record
    field_count: int = 1  # fields per data record
    trailing_extra: bool = False  # data records end with one more (empty) field than the header
    multiline: bool = False  # quoted fields spanning lines were seen
    avg_record_chars: float = 80.0
    repeated_headers: int = 0  # repetitions of the header seen in the sample
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Record:
    first_line: int  # 1-based physical lines
    last_line: int
    fields: list[str]


def line_starts(text: str) -> list[int]:
    """Offsets where each physical line starts (``\\r\\n``, ``\\r`` and ``\\n`` end lines)."""
    return [0, *(match.end() for match in _NEWLINE.finditer(text))]


def _parse(
    text: str, delimiter: str, quotechar: str, *, skipinitialspace: bool = False
) -> list[_Record]:
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar=quotechar,
        skipinitialspace=skipinitialspace,
        strict=False,
    )
    records: list[_Record] = []
    previous = 0
    try:
        for fields in reader:
            if fields:  # blank lines give [] (and are skipped by the parser, too)
                records.append(_Record(previous + 1, reader.line_num, fields))
            previous = reader.line_num
            if len(records) >= SNIFF_MAX_RECORDS:
                break
    except csv.Error:
        pass  # a NUL or a runaway quote: keep what was parsed so far
    return records


def _mode(counts: Sequence[int]) -> tuple[int, float]:
    """The most frequent field count and the share of records having it.

    On ties, the count met first wins (in a tiny file, the header's).
    """
    tally = Counter(counts)  # insertion-ordered: first met first
    best = max(tally.items(), key=lambda item: item[1])
    return best[0], best[1] / len(counts)


def _kind(value: str) -> str:
    text = value.strip()
    if not text:
        return "empty"
    if _NUMBER.fullmatch(text):
        return "number"
    if _DATE.fullmatch(text):
        return "date"
    return "text"


def _choose_quotechar(text: str) -> str:
    """``'`` only when fields are quoted with it and never with ``"`` (rare, but seen)."""
    if '"' in text:
        return '"'
    singles = len(re.findall(r"(?:^|[;,\t|])\s*'[^'\r\n]*'\s*(?=[;,\t|]|$)", text, re.MULTILINE))
    lines = max(1, text.count("\n"))
    return "'" if singles >= max(2, lines // 5) else '"'


def _cut_complete_lines(text: str, *, complete: bool) -> str:
    if complete:
        return text
    last = max(text.rfind("\n"), text.rfind("\r"))
    if last < 0:
        return text
    if text[last] == "\r" and last + 1 == len(text):
        last -= 1  # maybe the first half of a CRLF: cut before it
        if last < 0:
            return text
    return text[: last + 1]


def sniff_csv(
    text: str,
    *,
    complete: bool,
    delimiter: str | None = None,
    header_row: int | None = None,
) -> CsvSniff:
    """Find the delimiter, quote character, line endings and header of CSV text.

    ``text`` is the decoded sample (the whole file when ``complete``); ``delimiter`` and
    ``header_row`` (1-based physical line, 0 for "no header") force what the user knows.
    """
    text = _cut_complete_lines(text, complete=complete)
    excel_hint = re.match(r"sep=([^\r\n])\r?\n", text)  # Excel's "sep=;" first line
    if delimiter is None and excel_hint:
        delimiter = excel_hint.group(1)
    quotechar = _choose_quotechar(text)
    candidates = (delimiter,) if delimiter else DELIMITERS
    best = _best_delimiter(text, candidates, quotechar, complete=complete)
    if quotechar == "'":
        # Apostrophes are common in French text: keep ' as the quote only when it splits the
        # records at least as regularly as " does (',' in a row of a 6-column file is two
        # empty-ish fields around a comma, not one quoted comma).
        plain = _best_delimiter(text, candidates, '"', complete=complete)
        if plain is not None and (best is None or plain[0] > best[0]):
            quotechar, best = '"', plain
    if best is None:
        raise invalid(
            "Le fichier ne contient aucune donnée (seulement des lignes vides).",
            "Vérifiez que le bon fichier a été envoyé.",
            message_en="The file holds no data (only blank lines).",
            hint_en="Check that the right file was sent.",
        )
    score, chosen, records = best
    if delimiter is None and chosen == "," and _commas_are_decimal_marks(records):
        score = (0.0, 1, 0)  # one column of French numbers: "12,50" is not two fields
    sniff = CsvSniff(delimiter=chosen if delimiter or score[0] > 0 else None, quotechar=quotechar)
    if sniff.delimiter is None:
        records = _parse(text, NO_DELIMITER, quotechar)
        if not complete and len(records) > 1:
            records = records[:-1]
    elif sniff.delimiter == ",":
        sniff.skipinitialspace = _space_after_delimiter(records)
        if sniff.skipinitialspace:
            records = _parse(text, ",", quotechar, skipinitialspace=True)
            if not complete and len(records) > 1:
                records = records[:-1]
    _line_endings(text, records, sniff)
    _find_header(text, records, sniff, header_row)
    return sniff


def _best_delimiter(
    text: str, candidates: Sequence[str], quotechar: str, *, complete: bool
) -> tuple[tuple[float, int, int], str, list[_Record]] | None:
    """(score, delimiter, records) of the candidate splitting records most regularly."""
    best: tuple[tuple[float, int, int], str, list[_Record]] | None = None
    for rank, candidate in enumerate(candidates):
        if rank and candidate not in text:
            # Absent, it splits nothing: one field per record, as the first candidate gives
            # when absent too, and that one (parsed) wins the tie. Spare the parse.
            continue
        records = _parse(text, candidate, quotechar)
        if not complete and len(records) > 1:
            records = records[:-1]  # the sample's last record may be cut
        if not records:
            continue
        count, share = _mode([len(r.fields) for r in records])
        score = (round(share, 3) if count > 1 else 0.0, count, -rank)
        if best is None or score > best[0]:
            best = (score, candidate, records)
    return best


_DECIMAL_COMMA = re.compile(
    r"^\s*[+-]?(?:\d{1,3}(?:[ \u00a0\u202f.]\d{3})+|\d+),\d+(?:[eE][+-]?\d+)?\s*(?:%|€)?\s*$"
)


def _commas_are_decimal_marks(records: list[_Record]) -> bool:
    """A single column of decimal-comma numbers, which a split on "," would cut in two.

    Some record (the header, usually) has no comma, and nearly every record that has one is
    one French number when put back together: ``12,50`` or ``1 234,56``.
    """
    split = [r for r in records if len(r.fields) > 1]
    if not split or len(split) == len(records):
        return False
    numbers = sum(1 for r in split if _DECIMAL_COMMA.match(",".join(r.fields)))
    return numbers >= 0.9 * len(split)


def _space_after_delimiter(records: list[_Record]) -> bool:
    """``id, name`` style: the first record's fields after the first all start with a space,
    and nearly every other one does too."""
    head = records[0].fields[1:]
    if not head or not all(value.startswith(" ") for value in head):
        return False
    later = [value for r in records for value in r.fields[1:]]
    spaced = sum(1 for value in later if value.startswith(" "))
    return spaced >= 0.9 * len(later)


def _line_endings(text: str, records: list[_Record], sniff: CsvSniff) -> None:
    lines = line_starts(text)
    ends: Counter[str] = Counter()
    for record in records:
        end_offset = lines[record.last_line] if record.last_line < len(lines) else len(text)
        ending = text[max(0, end_offset - 2) : end_offset]
        if ending.endswith("\r\n"):
            ends["CRLF"] += 1
        elif ending.endswith("\n"):
            ends["LF"] += 1
        elif ending.endswith("\r"):
            ends["CR"] += 1
        sniff.multiline = sniff.multiline or record.last_line > record.first_line
    if ends:
        sniff.line_terminator = ends.most_common(1)[0][0]
        if len(ends) > 1:
            kinds = ", ".join(f"{kind} x{n}" for kind, n in ends.most_common())
            sniff.notes.append(f"fins de ligne mixtes ({kinds})")
    if sniff.multiline:
        sniff.notes.append("des champs entre guillemets s'étendent sur plusieurs lignes")
    total = sum(len(r.fields) for r in records)
    body = lines[records[-1].last_line] if records[-1].last_line < len(lines) else len(text)
    sniff.avg_record_chars = max(1.0, body / max(1, len(records))) if total else 80.0


def looks_like_header(candidate: list[str], data: list[list[str]]) -> bool:
    """Whether a record is a row of labels rather than the first row of data.

    Each column votes: numbers or dates below a text cell say "header", a number or date
    where the data holds numbers or dates says "data" — except a year ("2019") over other
    numbers, a common label. Text over text is undecided (or "data" when the label also
    appears as a value below); when undecided, a row of labels is taken for a header.
    """
    if not candidate:
        return False
    data = [row for row in data if row != candidate]  # repetitions of the header say nothing
    kinds = [_kind(value) for value in candidate]
    votes = 0
    labels = sum(1 for kind in kinds if kind == "text")
    for index, kind in enumerate(kinds):
        column = [row[index] for row in data if index < len(row) and row[index].strip()]
        if not column:
            continue
        below = Counter(_kind(value) for value in column)
        typed = below["number"] + below["date"]
        if typed >= 0.8 * len(column):
            if kind == "text":
                votes += 1
            elif _YEAR.fullmatch(candidate[index].strip()) and not all(
                _YEAR.fullmatch(value.strip()) for value in column
            ):
                labels += 1  # "Population;2019;2020" over counts
            elif kind in {"number", "date"}:
                votes -= 1
        elif kind == "text" and candidate[index] in column:
            votes -= 1  # the "label" is also a value of the column: data
    if votes != 0:
        return votes > 0
    return labels >= max(1, len(candidate) - 1)


def _filled(fields: list[str]) -> int:
    return sum(1 for value in fields if value.strip())


def _find_header(
    text: str, records: list[_Record], sniff: CsvSniff, header_row: int | None
) -> None:
    counts = [len(r.fields) for r in records]
    expected, _ = _mode(counts)
    starts = line_starts(text)
    header_index: int | None
    if header_row is not None and header_row > 0:
        matches = [i for i, r in enumerate(records) if r.first_line == header_row]
        if not matches:
            raise invalid(
                f"La ligne d'en-tête {header_row} demandée est vide ou introuvable dans le début "
                "du fichier.",
                "Indiquez le numéro (à partir de 1) d'une ligne non vide du premier mégaoctet, "
                "ou laissez Beffroi la détecter.",
                message_en=f"The requested header line {header_row} is blank or not found in "
                "the start of the file.",
                hint_en="Give the number (from 1) of a non-blank line within the first "
                "megabyte, or let Beffroi detect it.",
                line=header_row,
            )
        header_index = matches[0]
        data_index = header_index + 1
    else:
        first = _first_full_record(records, expected)
        if header_row == 0:
            header_index, data_index = None, first
        else:
            below = [
                r.fields for r in records[first + 1 : first + 201] if len(r.fields) == expected
            ]
            if looks_like_header(records[first].fields, below):
                header_index, data_index = first, first + 1
            else:
                header_index, data_index = None, first
                sniff.notes.append("aucune ligne d'en-tête détectée : colonnes nommées colonne_N")
    skipped_until = records[header_index if header_index is not None else data_index].first_line
    if skipped_until > 1:
        junk = skipped_until - 1
        sniff.notes.append(
            f"{junk} ligne{'s' if junk > 1 else ''} ignorée{'s' if junk > 1 else ''} "
            "avant l'en-tête"
            if header_index is not None
            else f"{junk} ligne{'s' if junk > 1 else ''} ignorée{'s' if junk > 1 else ''} "
            "avant les données"
        )
    data = records[data_index:]
    data_counts = [len(r.fields) for r in data]
    data_expected = _mode(data_counts)[0] if data_counts else expected
    if header_index is not None:
        header = list(records[header_index].fields)
        sniff.header = header
        sniff.header_line = records[header_index].first_line
        sniff.field_count = len(header)
        # "a;b;c;" headers over "1;2;3" rows: drop the empty trailing names the rows lack.
        while (
            len(header) > max(1, data_expected)
            and not header[-1].strip()
            and header[:-1]
            and data_counts
        ):
            header.pop()
            sniff.field_count = len(header)
        if (
            data_counts
            and data_expected == len(header) + 1
            and all(not r.fields[-1].strip() for r in data if len(r.fields) == data_expected)
        ):
            sniff.trailing_extra = True
            sniff.notes.append("séparateur en fin de ligne ignoré (dernier champ toujours vide)")
        sniff.repeated_headers = sum(1 for r in data if r.fields == header)
        after_header = records[header_index].last_line
        sniff.data_line = after_header + 1
        sniff.data_offset = starts[after_header] if after_header < len(starts) else len(text)
    else:
        sniff.field_count = data_expected
        sniff.data_line = records[data_index].first_line if data else 1
        sniff.data_offset = starts[sniff.data_line - 1] if data else len(text)


def _first_full_record(records: list[_Record], expected: int) -> int:
    """The first record with the modal field count whose cells are mostly filled.

    When every record of that count ends with an empty field ("1;2;3;"), a header one field
    shorter ("a;b;c") qualifies too.
    """
    counts = {expected}
    full = [r for r in records if len(r.fields) == expected]
    if expected > 1 and full and all(not r.fields[-1].strip() for r in full):
        counts.add(expected - 1)
        expected -= 1
    need = expected if expected <= 2 else max(2, (expected + 1) // 2)
    for index, record in enumerate(records[:200]):
        if len(record.fields) in counts and _filled(record.fields) >= need:
            return index
    for index, record in enumerate(records):
        if len(record.fields) in counts:
            return index
    return 0


def looks_fixed_width(text: str) -> bool:
    """Lines of (nearly) equal length with aligned runs of spaces: a fixed-width file."""
    lines = [line for line in _NEWLINE.split(text) if line.strip()][:500]
    if len(lines) < 3:
        return False
    lengths = Counter(len(line) for line in lines)
    length, n = lengths.most_common(1)[0]
    if length < 20 or n < 0.8 * len(lines):
        return False
    same = [line for line in lines if len(line) == length]
    blank_everywhere = [all(line[i] == " " for line in same) for i in range(length)]
    gaps = sum(
        1
        for i in range(1, length)
        if blank_everywhere[i] and not blank_everywhere[i - 1] and i + 1 < length
    )
    return gaps >= 2 and statistics.mean(line.count("  ") for line in same) >= 2
