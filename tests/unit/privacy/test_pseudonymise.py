"""Pseudonymisation: keyed HMAC-SHA256, key outside the data dir, no default key."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from beffroi.cli import cli
from beffroi.errors import ConfigurationError, InvalidInputError
from beffroi.privacy.pseudonymise import load_key, pseudonym, pseudonymise_table
from beffroi.settings import Settings
from tests.conftest import make_settings

KEY = b"k" * 16 + b"0123456789abcdef"


@pytest.fixture
def keyed(tmp_path: Path) -> Settings:
    key_file = tmp_path / "secrets" / "pseudo.key"
    key_file.parent.mkdir()
    key_file.write_bytes(KEY)
    data_dir = tmp_path / "instance"
    data_dir.mkdir()
    return make_settings(data_dir, pseudonymisation_key_file=key_file)


def test_refused_without_a_key(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="aucune clé") as caught:
        load_key(settings)
    assert "BEFFROI_PSEUDONYMISATION_KEY_FILE" in (caught.value.hint or "")


def test_refused_inside_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "instance"
    data_dir.mkdir()
    (data_dir / "pseudo.key").write_bytes(KEY)
    inside = make_settings(data_dir, pseudonymisation_key_file=data_dir / "pseudo.key")
    with pytest.raises(ConfigurationError, match="dossier de données"):
        load_key(inside)


def test_refused_when_short_or_missing(tmp_path: Path) -> None:
    data_dir = tmp_path / "instance"
    data_dir.mkdir()
    (tmp_path / "short.key").write_bytes(b"too short")
    with pytest.raises(ConfigurationError, match="trop courte"):
        load_key(make_settings(data_dir, pseudonymisation_key_file=tmp_path / "short.key"))
    with pytest.raises(ConfigurationError, match="illisible"):
        load_key(make_settings(data_dir, pseudonymisation_key_file=tmp_path / "absent.key"))


def test_hash_is_keyed_salted_and_stable(keyed: Settings) -> None:
    expected = hmac.new(KEY, b"ds-1\x00jean.dupont@orange.fr", hashlib.sha256).hexdigest()[:32]
    assert pseudonym(KEY, "ds-1", "jean.dupont@orange.fr") == expected
    assert pseudonym(KEY, "ds-2", "jean.dupont@orange.fr") != expected  # salted
    assert pseudonym(b"x" * 32, "ds-1", "jean.dupont@orange.fr") != expected  # keyed
    table = pa.table({"email": ["a@b.fr", None, "a@b.fr"], "n": [1, 2, 3]})
    out = pseudonymise_table(keyed, table, ["email"], salt="ds-1")
    values = out.column("email").to_pylist()
    assert values[0] == values[2] == pseudonym(KEY, "ds-1", "a@b.fr")
    assert values[1] is None
    assert out.column("n").to_pylist() == [1, 2, 3]
    with pytest.raises(InvalidInputError, match="absente"):
        pseudonymise_table(keyed, table, ["nope"], salt="ds-1")


def test_cli(keyed: Settings, tmp_path: Path) -> None:
    source = tmp_path / "abonnes.csv"
    source.write_text("nom;email;volume\nDupont;jean@orange.fr;12\nMartin;;8\n", encoding="utf-8")
    output = tmp_path / "pseudo.csv"
    runner = CliRunner()
    args = [
        "--data-dir",
        str(keyed.data_dir),
        "privacy",
        "pseudonymise",
        str(source),
        "--column",
        "nom",
        "--column",
        "email",
        "--salt",
        "ds-7",
        "--output",
        str(output),
    ]
    result = runner.invoke(
        cli, args, env={"BEFFROI_PSEUDONYMISATION_KEY_FILE": str(keyed.pseudonymisation_key_file)}
    )
    assert result.exit_code == 0, result.output
    table = pacsv.read_csv(output, parse_options=pacsv.ParseOptions(delimiter=";"))
    assert table.column("nom").to_pylist() == [
        pseudonym(KEY, "ds-7", "Dupont"),
        pseudonym(KEY, "ds-7", "Martin"),
    ]
    assert "Dupont" not in output.read_text(encoding="utf-8")
    refused = runner.invoke(cli, args, env={"BEFFROI_PSEUDONYMISATION_KEY_FILE": ""})
    assert refused.exit_code == 1
    assert "aucune clé configurée" in refused.output
