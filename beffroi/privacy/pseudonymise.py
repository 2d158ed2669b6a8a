"""Pseudonymisation: salted, keyed hashes (HMAC-SHA256) of personal values.

The key comes from the file named by ``BEFFROI_PSEUDONYMISATION_KEY_FILE``, which must lie
outside the data directory (a copy of the data must not carry its key) and hold at least 32
bytes. There is no default key: without the setting, pseudonymisation is refused. The salt
(typically the dataset's identifier) makes the same value hash differently in two datasets,
so that pseudonyms cannot be joined across datasets by whoever lacks the key; within one
dataset the same value always gives the same pseudonym (counts and joins still work).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow as pa

from beffroi.errors import ConfigurationError, InvalidInputError
from beffroi.settings import Settings

MIN_KEY_BYTES = 32
PREFIX_CHARS = 32  # hex characters kept: 128 bits


def load_key(settings: Settings) -> bytes:
    """The pseudonymisation key, checked (set, outside the data dir, long enough)."""
    path = settings.pseudonymisation_key_file
    if path is None or path == Path():  # unset, or set to the empty string
        raise ConfigurationError(
            "Pseudonymisation impossible : aucune clé configurée",
            hint="créez une clé hors du dossier de données (ex. head -c 32 /dev/urandom > "
            "/etc/beffroi/pseudo.key) et indiquez-la dans BEFFROI_PSEUDONYMISATION_KEY_FILE",
            message_en="Pseudonymisation refused: no key configured",
            hint_en="create a key outside the data directory (e.g. head -c 32 /dev/urandom > "
            "/etc/beffroi/pseudo.key) and set BEFFROI_PSEUDONYMISATION_KEY_FILE",
        )
    resolved = path.expanduser().resolve()
    data_dir = settings.data_dir.expanduser().resolve()
    if resolved == data_dir or data_dir in resolved.parents:
        raise ConfigurationError(
            f"La clé de pseudonymisation est dans le dossier de données : {resolved}",
            hint="déplacez-la hors de ce dossier : une copie des données ne doit pas "
            "emporter la clé",
            message_en=f"The pseudonymisation key lies in the data directory: {resolved}",
            hint_en="move it outside: a copy of the data must not carry the key",
        )
    try:
        key = resolved.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"Clé de pseudonymisation illisible : {resolved} ({exc.strerror})",
            hint="vérifiez le chemin et les droits de BEFFROI_PSEUDONYMISATION_KEY_FILE",
            message_en=f"Unreadable pseudonymisation key: {resolved} ({exc.strerror})",
            hint_en="check the path and permissions of BEFFROI_PSEUDONYMISATION_KEY_FILE",
        ) from None
    if len(key.strip()) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"Clé de pseudonymisation trop courte ({len(key.strip())} octets, "
            f"{MIN_KEY_BYTES} au moins)",
            hint="head -c 32 /dev/urandom > <fichier de clé>",
            message_en=f"Pseudonymisation key too short ({len(key.strip())} bytes, "
            f"{MIN_KEY_BYTES} at least)",
        )
    return key.strip()


def pseudonym(key: bytes, salt: str, value: str) -> str:
    """The pseudonym of one value: HMAC-SHA256(key, salt NUL value), 128 bits in hex."""
    message = salt.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PREFIX_CHARS]


def pseudonymise_table(
    settings: Settings, table: pa.Table, columns: list[str], *, salt: str
) -> pa.Table:
    """``table`` with ``columns`` replaced by their pseudonyms (nulls stay null)."""
    if not salt:
        raise InvalidInputError(
            "Un sel est nécessaire", hint="passez l'identifiant du jeu de données comme sel"
        )
    key = load_key(settings)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidInputError(
            f"Colonne(s) absente(s) : {', '.join(missing)}",
            hint=f"colonnes disponibles : {', '.join(table.column_names)}",
            message_en=f"Missing column(s): {', '.join(missing)}",
            hint_en=f"available columns: {', '.join(table.column_names)}",
        )
    for name in columns:
        index = table.column_names.index(name)
        values = table.column(index).to_pylist()
        hashed = pa.array(
            [None if v is None else pseudonym(key, salt, str(v)) for v in values], pa.string()
        )
        table = table.set_column(index, pa.field(name, pa.string()), hashed)
    return table


def pseudonymise_file(
    settings: Settings, source: Path, columns: list[str], *, salt: str, output: Path
) -> int:
    """Pseudonymise columns of a UTF-8 CSV file (``,`` or ``;``) into ``output``; rows."""
    import pyarrow.csv as pacsv  # noqa: PLC0415 - only for this command

    load_key(settings)  # refuse before reading anything
    head = source.read_text(encoding="utf-8", errors="replace")[:4096].splitlines()[:1]
    delimiter = ";" if head and head[0].count(";") > head[0].count(",") else ","
    try:
        table = pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(
            f"CSV illisible : {source} ({str(exc).splitlines()[0]})",
            hint="donnez un CSV UTF-8 séparé par des virgules ou des points-virgules",
            message_en=f"Unreadable CSV: {source} ({str(exc).splitlines()[0]})",
            hint_en="give a UTF-8 CSV separated by commas or semicolons",
        ) from None
    result = pseudonymise_table(settings, table, columns, salt=salt)
    pacsv.write_csv(result, output, pacsv.WriteOptions(delimiter=delimiter))
    return result.num_rows


__all__ = ["load_key", "pseudonym", "pseudonymise_file", "pseudonymise_table"]
