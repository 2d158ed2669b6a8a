"""The ``beffroi`` command line, driven in-process with click's CliRunner."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from beffroi.catalog.db import current_revision, head_revision, make_engine
from beffroi.catalog.identifiers import is_siren, luhn_ok
from beffroi.cli import cli
from beffroi.cli.base import EXIT_TRANSIENT, EXIT_USER_ERROR
from beffroi.cli.instance import CREDENTIALS_FILE
from beffroi.errors import BeffroiError, ConfigurationError
from beffroi.settings import SECRET_KEY_FILE
from beffroi.web.app import create_app
from tests.conftest import REPO, make_settings

Invoke = Callable[..., Result]
PASSWORD = "un-mot-de-passe-solide"


def a_siren(prefix: str) -> str:
    """A valid (Luhn) SIREN starting with eight given digits."""
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the instance under test lives (not created yet)."""
    return tmp_path / "instance"


@pytest.fixture
def beffroi(runner: CliRunner, data_dir: Path) -> Invoke:
    """Run ``beffroi --data-dir <data_dir> ARGS`` and return the result."""

    def invoke(*args: str, expect: int | None = 0, **kwargs: Any) -> Result:
        result = runner.invoke(cli, ["--data-dir", str(data_dir), *args], **kwargs)
        if expect is not None:
            assert result.exit_code == expect, (result.output, result.exception)
        return result

    return invoke


@pytest.fixture
def instance(beffroi: Invoke) -> Invoke:
    """An initialised instance with the demo loaded, through the CLI itself."""
    beffroi("init")
    beffroi("demo")
    return beffroi


@pytest.fixture
def api(data_dir: Path, instance: Invoke) -> Iterator[TestClient]:
    """An HTTP client on the instance the CLI manages."""
    app = create_app(make_settings(data_dir))
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.engine.dispose()


def json_lines(result: Result) -> list[dict[str, Any]]:
    """The objects printed by a ``--json`` command (one per line)."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- init and demo


def test_init_creates_the_instance(beffroi: Invoke, data_dir: Path) -> None:
    result = beffroi("init")
    assert data_dir.is_dir()
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "catalog.sqlite3") == 0o600
    key_file = data_dir / SECRET_KEY_FILE
    assert mode(key_file) == 0o600
    assert len(key_file.read_text(encoding="ascii").strip()) >= 32
    engine = make_engine(make_settings(data_dir).catalog_url)
    try:
        assert current_revision(engine) == head_revision(engine)
    finally:
        engine.dispose()
    assert "Instance prête" in result.output


def test_init_is_idempotent(beffroi: Invoke, data_dir: Path) -> None:
    beffroi("init")
    key = (data_dir / SECRET_KEY_FILE).read_text(encoding="ascii")
    again = beffroi("init")
    assert "Clé secrète créée" not in again.output
    assert (data_dir / SECRET_KEY_FILE).read_text(encoding="ascii") == key
    assert mode(data_dir / SECRET_KEY_FILE) == 0o600


def test_init_with_its_own_data_dir_option(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "ailleurs" / "instance"
    result = runner.invoke(cli, ["init", "--data-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / SECRET_KEY_FILE).is_file()
    assert (target / "catalog.sqlite3").is_file()


def test_init_refuses_a_file_as_data_dir(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "fichier"
    target.write_text("pas un dossier", encoding="utf-8")
    result = runner.invoke(cli, ["--data-dir", str(target), "init"])
    assert result.exit_code == 2  # click's usage error: the option names a file
    assert "is a file" in result.output
    assert "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == "pas un dossier"


def test_demo_twice_creates_nothing_the_second_time(beffroi: Invoke, data_dir: Path) -> None:
    beffroi("init")
    first = beffroi("demo")
    assert "CA Lorient Agglomération, 25 communes membres" in first.output
    assert "30 organisation(s), 5 compte(s), 6 jeu(x) de données créés" in first.output
    credentials = data_dir / CREDENTIALS_FILE
    assert mode(credentials) == 0o600
    content = credentials.read_text(encoding="utf-8")
    users = dict(line.split("\t") for line in content.splitlines())
    assert set(users) == {
        "admin",
        "referente-sig",
        "editeur-mobilites",
        "lecteur-eau",
        "partenaire-eau",
    }
    for password in users.values():
        assert password in first.output  # shown once

    second = beffroi("demo")
    assert "0 organisation(s), 0 compte(s), 0 jeu(x) de données créés" in second.output
    assert credentials.read_text(encoding="utf-8") == content
    assert mode(credentials) == 0o600
    for password in users.values():
        assert password not in second.output

    orgs = json_lines(beffroi("org", "list", "--json"))
    assert len(orgs) == 30
    # The printed password signs in.
    app = create_app(make_settings(data_dir))
    try:
        with TestClient(app) as client:
            form = client.get("/connexion")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token
            response = client.post(
                "/connexion",
                data={"username": "admin", "password": users["admin"], "csrf_token": token[1]},
                follow_redirects=False,
            )
            assert response.status_code == 303
    finally:
        app.state.engine.dispose()


# ---------------------------------------------------------------- organisations, users, tokens


def test_org_create_and_list(instance: Invoke) -> None:
    siren = a_siren("25560001")
    created = instance(
        "org", "create", "Syndicat mixte du SCoT du Pays de Lorient",
        "--kind", "other", "--siren", siren, "--website", "https://scot.example.org",
    )  # fmt: skip
    assert "Organisation créée : syndicat-mixte-du-scot-du-pays-de-lorient" in created.output
    orgs = {o["slug"]: o for o in json_lines(instance("org", "list", "--json"))}
    assert len(orgs) == 31
    new = orgs["syndicat-mixte-du-scot-du-pays-de-lorient"]
    assert new["siren"] == siren
    assert new["kind"] == "other"
    communes = json_lines(instance("org", "list", "--kind", "commune", "--json"))
    assert len(communes) == 25
    assert {o["kind"] for o in communes} == {"commune"}
    table = instance("org", "list")
    assert "Organisations" in table.output


def test_org_create_commune_with_parent(instance: Invoke) -> None:
    instance("org", "create", "Service des sports", "--kind", "service", "--parent", "lorient")
    orgs = {o["slug"]: o for o in json_lines(instance("org", "list", "--json"))}
    assert orgs["service-des-sports"]["parent"] == "lorient"


def test_users_members_and_tokens_work_against_the_api(instance: Invoke, api: TestClient) -> None:
    created = instance(
        "user", "create", "camille", "--email", "camille@lorient.example.org",
        "--name", "Camille Le Goff", "--password", PASSWORD,
    )  # fmt: skip
    assert "Compte créé : camille" in created.output
    instance("member", "add", "camille", "lorient", "--role", "editor")
    users = {u["username"]: u for u in json_lines(instance("user", "list", "--json"))}
    assert users["camille"]["roles"] == "lorient:editor"
    assert users["camille"]["email"] == "camille@lorient.example.org"
    assert users["admin"]["platform_admin"] is True

    issued = instance("token", "create", "camille", "--name", "import")
    secret = issued.stdout.strip()
    assert re.fullmatch(r"bfr_[A-Za-z0-9_-]{20,}", secret)
    token_id = re.search(r"Jeton n° (\d+)", issued.stderr)
    assert token_id
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"title": "Horaires des piscines", "publisher": "lorient"}
    response = api.post("/api/v1/datasets", json=body, headers=headers)
    assert response.status_code == 201, response.text

    revoked = instance("token", "revoke", token_id[1])
    assert f"Jeton n° {token_id[1]} révoqué" in revoked.output
    again = api.post("/api/v1/datasets", json={**body, "slug": "autre"}, headers=headers)
    assert again.status_code == 401


def test_member_add_replaces_the_role(instance: Invoke) -> None:
    instance("member", "add", "lecteur-eau", "direction-eau-assainissement", "--role", "steward")
    users = {u["username"]: u for u in json_lines(instance("user", "list", "--json"))}
    assert users["lecteur-eau"]["roles"] == "direction-eau-assainissement:steward"


def test_user_password_replaces_the_password_and_signs_out(
    instance: Invoke, data_dir: Path, api: TestClient
) -> None:
    def sign_in(password: str) -> int:
        form = api.get("/connexion")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        data = {"username": "lecteur-eau", "password": password, "csrf_token": token[1]}
        return api.post("/connexion", data=data, follow_redirects=False).status_code

    old = dict(
        line.split("\t")
        for line in (data_dir / CREDENTIALS_FILE).read_text(encoding="utf-8").splitlines()
    )["lecteur-eau"]
    assert sign_in(old) == 303
    assert "<strong>lecteur-eau</strong>" in api.get("/").text

    result = instance("user", "password", "lecteur-eau", "--password", PASSWORD)
    assert "Mot de passe de lecteur-eau remplacé" in result.output
    assert "<strong>lecteur-eau</strong>" not in api.get("/").text  # session closed
    assert sign_in(old) == 401
    assert sign_in(PASSWORD) == 303

    short = instance("user", "password", "lecteur-eau", "--password", "court", expect=1)
    assert "Mot de passe trop court" in short.output
    assert "Pour corriger" in short.output


def test_user_password_from_environment(instance: Invoke) -> None:
    instance("user", "create", "dominique", "--email", "d@example.org",
             env={"BEFFROI_NEW_PASSWORD": PASSWORD})  # fmt: skip
    assert "dominique" in {u["username"] for u in json_lines(instance("user", "list", "--json"))}


def test_user_list_table(instance: Invoke) -> None:
    assert "referente-sig" in instance("user", "list").output


# ---------------------------------------------------------------- datasets


def test_dataset_create_list_show(instance: Invoke) -> None:
    created = instance(
        "dataset", "create", "Points d'apport volontaire",
        "--publisher", "lorient-agglomeration",
        "--description", "Conteneurs **verre** et papier.",
        "--keyword", "déchets", "--keyword", "tri",
        "--theme", "ENVI", "--frequency", "MONTHLY",
        "--spatial", "commune:56121", "--spatial", "commune:56098",
        "--granularity", "poi", "--access", "internal",
    )  # fmt: skip
    assert "Jeu de données créé : points-d-apport-volontaire" in created.output

    listed = {d["slug"]: d for d in json_lines(instance("dataset", "list", "--json"))}
    assert len(listed) == 7  # the operator sees every dataset
    assert listed["points-d-apport-volontaire"]["access_level"] == "internal"
    mine = json_lines(instance("dataset", "list", "--publisher", "lorient-agglomeration",
                               "--json"))  # fmt: skip
    assert {d["slug"] for d in mine} == {
        "points-d-apport-volontaire",
        "subventions-associations",
        "budget-primitif-agglomeration",
    }
    found = json_lines(instance("dataset", "list", "-q", "apport", "--json"))
    assert [d["slug"] for d in found] == ["points-d-apport-volontaire"]
    assert "Jeux de données (7)" in instance("dataset", "list").output

    shown = json.loads(instance("dataset", "show", "points-d-apport-volontaire").stdout)
    assert shown["keywords"] == ["déchets", "tri"]
    assert shown["spatial"] == ["commune:56121", "commune:56098"]
    assert shown["themes"] == ["ENVI"]
    assert shown["frequency"] == "MONTHLY"
    assert shown["license"] == "etalab-2.0"


def test_dataset_create_bad_fields_lists_each(instance: Invoke) -> None:
    result = instance(
        "dataset", "create", "Titre correct", "--publisher", "lorient",
        "--license", "WTFPL", "--spatial", "commune:1",
        expect=EXIT_USER_ERROR,
    )  # fmt: skip
    assert "Erreur :" in result.output
    assert "licence inconnue « WTFPL »" in result.output
    assert "spatial" in result.output
    assert "Pour corriger" in result.output
    assert "Traceback" not in result.output


def test_dataset_slug_reuse_is_an_error(instance: Invoke) -> None:
    result = instance(
        "dataset", "create", "Arbres", "--publisher", "service-sig",
        "--slug", "arbres-alignement", expect=EXIT_USER_ERROR,
    )  # fmt: skip
    assert "arbres-alignement" in result.output
    assert "déjà utilisé" in result.output


def test_dataset_show_unknown(instance: Invoke) -> None:
    result = instance("dataset", "show", "atlantide", expect=EXIT_USER_ERROR)
    assert "Erreur : Jeu de données introuvable : atlantide" in result.output


# ---------------------------------------------------------------- errors


def test_missing_data_dir_is_a_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nulle-part"
    result = runner.invoke(cli, ["--data-dir", str(missing), "org", "list"])
    assert result.exit_code == EXIT_USER_ERROR
    assert "Erreur :" in result.output
    assert str(missing) in result.output
    assert "Pour corriger" in result.output
    assert "beffroi init" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not missing.exists()


def test_missing_data_dir_from_the_environment(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nulle-part"
    result = runner.invoke(cli, ["dataset", "list"], env={"BEFFROI_DATA_DIR": str(missing)})
    assert result.exit_code == EXIT_USER_ERROR
    assert str(missing) in result.output


def test_uninitialised_catalogue_says_to_run_init(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "vide"
    empty.mkdir()
    result = runner.invoke(cli, ["--data-dir", str(empty), "user", "list"])
    assert result.exit_code == EXIT_USER_ERROR
    assert "Erreur :" in result.output
    assert "beffroi init" in result.output


def test_invalid_siren_names_the_field(instance: Invoke) -> None:
    assert not is_siren("123456789")
    result = instance(
        "org", "create", "Syndicat fictif", "--kind", "other", "--siren", "123456789",
        expect=EXIT_USER_ERROR,
    )  # fmt: skip
    assert "Erreur :" in result.output
    assert "siren" in result.output
    assert "« 123456789 » n'est pas un SIREN valide" in result.output
    assert "Pour corriger" in result.output
    assert "Traceback" not in result.output
    names = {o["name"] for o in json_lines(instance("org", "list", "--json"))}
    assert "Syndicat fictif" not in names


def test_duplicate_siren_is_a_conflict(instance: Invoke) -> None:
    result = instance(
        "org", "create", "Lorient bis", "--kind", "other", "--siren", "215601212",
        expect=EXIT_USER_ERROR,
    )  # fmt: skip
    assert "SIREN 215601212" in result.output


def test_debug_reraises_the_beffroi_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nulle-part"
    result = runner.invoke(cli, ["--debug", "--data-dir", str(missing), "org", "list"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert isinstance(result.exception, BeffroiError)
    assert "Pour corriger" not in result.output


def test_unreachable_database_is_transient(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "serveur"
    data_dir.mkdir()
    env = {"BEFFROI_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/absente"}
    result = runner.invoke(cli, ["--data-dir", str(data_dir), "org", "list"], env=env)
    assert result.exit_code == EXIT_TRANSIENT, result.output
    assert "Erreur : Base du catalogue injoignable" in result.output
    assert "BEFFROI_DATABASE_URL" in result.output


def test_bad_setting_is_explained(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["--data-dir", str(tmp_path), "org", "list"], env={"BEFFROI_PORT": "99999"}
    )
    assert result.exit_code == EXIT_USER_ERROR
    assert "Erreur : Réglages invalides" in result.output
    assert "port" in result.output


# ---------------------------------------------------------------- help and docs


def _command_paths(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _command_paths(sub, (*path, name))


cli.load_all()
COMMANDS = list(_command_paths(cli))


def test_the_lazy_command_table_matches_the_modules() -> None:
    """Every module under beffroi/cli registers exactly the commands COMMAND_MODULES names."""
    import importlib
    import pkgutil

    import beffroi.cli as package
    from beffroi.cli import COMMAND_MODULES

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"beffroi.cli.{info.name}")
    registered = {name: command.callback.__module__ for name, command in cli.commands.items()}  # type: ignore[union-attr]
    assert registered == COMMAND_MODULES


def test_starting_the_cli_imports_no_heavy_library() -> None:
    """`beffroi --help` and `beffroi ingest` must not pay for what other commands use."""
    import subprocess
    import sys

    heavy = ("duckdb", "pyarrow", "deltalake", "rdflib", "numpy", "fastapi", "frictionless")
    code = (
        "import sys, beffroi.cli; from beffroi.cli import cli; "
        "cli.get_command(None, 'ingest'); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_command_is_listed() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {
        "init", "demo", "serve", "docs", "org create", "org list", "user create",
        "user list", "member add", "token create", "token revoke", "dataset create",
        "dataset list", "dataset show",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "beffroi")
def test_help(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = runner.invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("beffroi, version ")


def test_generated_reference_docs_are_current(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs", "--check", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "Documentation à jour." in result.output


def test_docs_check_fails_on_stale_docs(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["docs", "--check", "--root", str(tmp_path)])
    assert result.exit_code == EXIT_USER_ERROR
    assert "Documentation périmée" in result.output
    assert "beffroi docs" in result.output
    written = runner.invoke(cli, ["docs", "--root", str(tmp_path)])
    assert written.exit_code == 0
    assert (tmp_path / "docs" / "reference" / "settings.md").is_file()
    assert runner.invoke(cli, ["docs", "--check", "--root", str(tmp_path)]).exit_code == 0
