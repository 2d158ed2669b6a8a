# ruff: noqa: RUF001 - Greek text is test data (a file in an encoding Beffroi refuses)
"""Errors in English when asked: problem+json by Accept-Language / ?lang / cookie, failed
upload jobs carrying both languages, and the command line with --lang / BEFFROI_LANG / LANG."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.cli.base import cli_language
from beffroi.web.errors import preferred_language
from beffroi.web.i18n import LANG_COOKIE
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_ingest import DATASET, EDITOR, upload, wait_job

UNKNOWN = "/api/v1/nulle-part"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("en", "en"),
        ("en-GB,en;q=0.9,fr;q=0.5", "en-gb"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr-fr"),
        ("fr;q=0.4, en;q=0.9", "en"),  # the highest quality wins, not the first written
        ("de, en;q=0.5", "de"),
        ("*", None),
        ("en;q=0, fr", "fr"),  # q=0 means "not acceptable"
        ("en;q=abc, fr;q=0.1", "fr"),  # a malformed quality counts as 0
    ],
)
def test_first_preferred_language(header: str | None, expected: str | None) -> None:
    assert preferred_language(header) == expected


@pytest.mark.parametrize(
    ("headers", "cookies", "query", "lang"),
    [
        ({}, {}, "", "fr"),
        ({"Accept-Language": "en-US,en;q=0.9"}, {}, "", "en"),
        ({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}, {}, "", "fr"),
        ({"Accept-Language": "de-DE"}, {}, "", "fr"),  # neither: French
        ({}, {}, "?lang=en", "en"),
        ({}, {LANG_COOKIE: "en"}, "", "en"),
        ({"Accept-Language": "en"}, {LANG_COOKIE: "fr"}, "", "fr"),  # the visitor's choice wins
        ({"Accept-Language": "en"}, {}, "?lang=fr", "fr"),
    ],
)
def test_problem_language_follows_the_request(
    client: TestClient, headers: dict[str, str], cookies: dict[str, str], query: str, lang: str
) -> None:
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    response = client.get(UNKNOWN + query, headers=headers)
    client.cookies.clear()
    assert response.status_code == 404
    assert response.headers["content-language"] == lang
    body = response.json()
    if lang == "en":
        assert body["title"] == "Not found"
        assert body["detail"] == f"No resource at {UNKNOWN}"
        assert body["hint"].startswith("check the address")
        assert body["detail_fr"] == f"Aucune ressource à l'adresse {UNKNOWN}"
        assert body["hint_fr"].startswith("vérifiez l'adresse")
        assert "detail_en" not in body
    else:
        assert body["title"] == "Introuvable"
        assert body["detail"] == f"Aucune ressource à l'adresse {UNKNOWN}"
        assert body["detail_en"] == f"No resource at {UNKNOWN}"
        assert body["hint_en"].startswith("check the address")
        assert "detail_fr" not in body


def test_error_page_in_english_shows_the_english_message(client: TestClient) -> None:
    html = {"Accept": "text/html"}
    english = client.get("/page-inexistante?lang=en", headers=html)
    client.cookies.clear()
    french = client.get("/page-inexistante", headers=html)
    assert english.status_code == french.status_code == 404
    assert "No resource at /page-inexistante" in english.text
    assert "check the address; the routes are listed in /api/openapi.json" in english.text
    assert "Aucune ressource" not in english.text
    assert "Aucune ressource à l&#39;adresse /page-inexistante" in french.text
    assert "No resource" not in french.text


def test_french_only_error_in_english_keeps_its_french_text(client: TestClient) -> None:
    """An error without English (a catalogue 404 here) answers its French text, says so in
    Content-Language, and invents no translation; the title is English all the same."""
    response = client.get("/api/v1/datasets/atlantide", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    body = response.json()
    assert response.headers["content-language"] == "fr"
    assert body["title"] == "Not found"
    assert "atlantide" in body["detail"]
    assert not {"detail_en", "detail_fr", "hint_en", "hint_fr"} & set(body)


def test_failed_upload_job_carries_both_languages(client: TestClient, tmp_path: Path) -> None:
    headers = {**bearer(client, EDITOR), "Accept-Language": "en"}
    ragged = tmp_path / "subventions.csv"
    ragged.write_text("a;b\n1;2\n3;4;5\n6;7\n", encoding="utf-8")
    started = upload(client, ragged, headers)
    assert started.status_code == 202, started.text
    job = wait_job(client, started.headers["location"], headers)
    assert job["status"] == "failed"
    error = job["error"]
    assert error["code"] == "invalid-file"
    assert error["where"]["line"] == 3
    assert error["where"]["file"] == "source.csv"
    assert error["detail"].startswith("1 ligne a plus de champs que l'en-tête (2 colonnes)")
    assert error["message_en"] == (
        "1 line has more fields than the header (2 columns): line 3: 3 fields instead of 2."
    )
    assert "--delimiter" in error["hint"]
    assert "--delimiter" in error["hint_en"]
    assert error["hint_en"].startswith("Check the delimiter (detected: semicolon)")
    assert error["title_en"] == "Unreadable file"


def test_failed_encoding_job_gives_the_fix_in_both_languages(
    client: TestClient, tmp_path: Path
) -> None:
    headers = bearer(client, EDITOR)
    greek = tmp_path / "grec.csv"
    greek.write_bytes(
        ("όνομα,ηλικία\nΑλέξανδρος,39\nΕυστάθιος,28\nΜυρτώ,36\n" * 3).encode("cp1253")
    )
    job = wait_job(client, upload(client, greek, headers).headers["location"], headers)
    assert job["status"] == "failed"
    error = job["error"]
    assert error["detail"].startswith("Encodage du fichier non reconnu")
    assert error["message_en"].startswith("Unrecognised file encoding")
    assert "--encoding" in error["hint"]
    assert "--encoding" in error["hint_en"]
    value = error["where"]["value"]
    assert value in error["detail"]
    assert value in error["message_en"]


# --------------------------------------------------------------------------------------------
# Command line


@pytest.mark.parametrize(
    ("explicit", "environ", "lang"),
    [
        (None, {}, "fr"),
        (None, {"LANG": "C.UTF-8"}, "fr"),
        (None, {"LANG": "en_GB.UTF-8"}, "en"),
        (None, {"LANG": "fr_FR.UTF-8"}, "fr"),
        (None, {"LANG": "en_US.UTF-8", "LC_ALL": "fr_FR.UTF-8"}, "fr"),  # LC_ALL first
        (None, {"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        (None, {"LC_ALL": "", "LANG": "en_US.UTF-8"}, "en"),  # an empty variable is unset
        ("en", {"LANG": "fr_FR.UTF-8"}, "en"),  # --lang / BEFFROI_LANG beat the locale
        ("FR", {"LANG": "en_US.UTF-8"}, "fr"),
    ],
)
def test_cli_language(explicit: str | None, environ: dict[str, str], lang: str) -> None:
    assert cli_language(explicit, environ) == lang


def _ingest_empty(
    demo_instance: DemoInstance, tmp_path: Path, *options: str, env: dict[str, str]
) -> Result:
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    secret = {"BEFFROI_SECRET_KEY": demo_instance.settings.signing_key().decode()}
    return CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(demo_instance.settings.data_dir),
            *options,
            "ingest",
            str(empty),
            "--dataset",
            DATASET,
        ],
        env={**secret, "LC_ALL": "", "LC_MESSAGES": "", **env},
    )


@pytest.mark.parametrize(
    ("options", "env"),
    [
        (("--lang", "en"), {"LANG": "fr_FR.UTF-8"}),
        ((), {"BEFFROI_LANG": "en", "LANG": "fr_FR.UTF-8"}),
        ((), {"LANG": "en_US.UTF-8"}),
    ],
    ids=["--lang", "BEFFROI_LANG", "LANG"],
)
def test_cli_errors_in_english(
    demo_instance: DemoInstance, tmp_path: Path, options: tuple[str, ...], env: dict[str, str]
) -> None:
    result = _ingest_empty(demo_instance, tmp_path, *options, env=env)
    assert result.exit_code == 1, result.output
    assert "Error: The file is empty (0 bytes)." in result.output
    assert (
        "→ To fix: Check that the right file was sent and that its export finished."
        in result.output
    )
    assert "Erreur" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("options", "env"),
    [
        ((), {"LANG": "C.UTF-8"}),
        (("--lang", "fr"), {"LANG": "en_US.UTF-8"}),
        ((), {"LANG": "en_US.UTF-8", "LC_ALL": "fr_FR.UTF-8"}),
    ],
    ids=["default", "--lang fr", "LC_ALL"],
)
def test_cli_errors_in_french(
    demo_instance: DemoInstance, tmp_path: Path, options: tuple[str, ...], env: dict[str, str]
) -> None:
    result = _ingest_empty(demo_instance, tmp_path, *options, env=env)
    assert result.exit_code == 1, result.output
    assert "Erreur : Le fichier est vide (0 octet)." in result.output
    assert "→ Pour corriger : Vérifiez que le bon fichier a été envoyé" in result.output
    assert "Error:" not in result.output


def test_cli_refuses_an_unknown_language(demo_instance: DemoInstance, tmp_path: Path) -> None:
    result = _ingest_empty(demo_instance, tmp_path, "--lang", "de", env={})
    assert result.exit_code == 2
    assert "--lang" in result.output
