"""Functional fixtures: a demo instance initialised by the real code, served in-process.

The demo (CA Lorient Agglomération, 25 communes, five users) is loaded once per session
into an SQLite template through :func:`beffroi.catalog.db.upgrade` and
:func:`beffroi.catalog.demo.load_demo`; each test gets a private copy of that file (so
tests may write freely) and the passwords of its :class:`DemoReport`. Tests that
parametrise ``backend`` with ``postgresql`` load the demo afresh into a private schema of
the real PostgreSQL server instead — or, for tests marked ``shares_instance`` (they write
nothing but API tokens), reuse one such schema loaded once for the session.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient  # uses httpx2 (the [test] extra)
from sqlalchemy import Engine, text

from beffroi.access import Actor
from beffroi.access.accounts import create_token, revoke_token
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.demo import DemoReport, load_demo
from beffroi.cli import cli
from beffroi.settings import Settings
from beffroi.web.app import create_app
from beffroi.web.security import CSRF_FIELD
from tests.conftest import POSTGRES_URL, SHARED_DATA, make_settings
from tests.functional.harvest_helpers import wait_until_up
from tests.functional.test_serve import free_port, stop_server

if TYPE_CHECKING:
    import httpx2 as httpx

#: Parametrise ``backend`` with this to run a test on SQLite and on the real PostgreSQL.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shares_instance: reads only (API tokens aside), so may share a demo instance",
    )


_KEPT_ENV = {"BEFFROI_REQUIRE_SERVICES", "BEFFROI_TEST_POSTGRES_URL"}
_CSRF_INPUT = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _no_instance_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No BEFFROI_* variable of the developer leaks in, and none a test sets leaks out.

    (``beffroi init --data-dir`` exports BEFFROI_DATA_DIR for child processes.)
    """
    for name in list(os.environ):
        if name.startswith("BEFFROI_") and name not in _KEPT_ENV:
            monkeypatch.delenv(name)
    # The CLI speaks English when the locale does: tests expect the French default.
    for name in ("LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    yield
    for name in list(os.environ):
        if name.startswith("BEFFROI_") and name not in _KEPT_ENV:
            del os.environ[name]  # monkeypatch restores the ones it removed afterwards


@dataclass(frozen=True)
class DemoInstance:
    """An initialised instance holding the demo EPCI."""

    settings: Settings
    report: DemoReport
    backend: str

    def password(self, username: str) -> str:
        """The demo password of ``username`` (as printed once by ``beffroi demo``)."""
        return self.report.created_users[username]


def _load(url: str) -> DemoReport:
    """Migrate the catalogue at ``url`` and load the demo, as ``beffroi init && demo`` do."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            return load_demo(session, Actor.system(name="test"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoReport]:
    """An SQLite catalogue with the demo loaded, built once for the session."""
    path = tmp_path_factory.mktemp("demo-template") / "catalog.sqlite3"
    report = _load(f"sqlite:///{path}")
    assert report.communes == 25
    assert len(report.created_users) == 5
    return path, report


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a WAL database (the backup API, not a file copy)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture(scope="session")
def shared_postgres_demo(postgres_admin: Engine) -> Iterator[tuple[str, DemoReport]]:
    """One PostgreSQL schema with the demo, for the tests marked ``shares_instance``."""
    schema = f"t_shared_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        yield url, _load(url)
    finally:
        with postgres_admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def backend() -> str:
    """Catalogue backend of ``demo_instance``; parametrise it to also run on PostgreSQL."""
    return "sqlite"


@pytest.fixture
def demo_instance(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path: Path,
    demo_template: tuple[Path, DemoReport],
) -> DemoInstance:
    """A private instance (settings + DemoReport) with the demo EPCI loaded."""
    data_dir = tmp_path / "instance"
    data_dir.mkdir()
    if backend == "sqlite":
        template, report = demo_template
        settings = make_settings(data_dir)
        _copy_sqlite(template, data_dir / "catalog.sqlite3")
    elif request.node.get_closest_marker("shares_instance"):
        url, report = request.getfixturevalue("shared_postgres_demo")
        settings = make_settings(data_dir, database_url=url)
    else:
        url = request.getfixturevalue("postgres_url")
        settings = make_settings(data_dir, database_url=url)
        report = _load(url)
    return DemoInstance(settings=settings, report=report, backend=backend)


@pytest.fixture
def client(demo_instance: DemoInstance) -> Iterator[TestClient]:
    """An in-process HTTP client on ``create_app`` for the demo instance."""
    app = create_app(demo_instance.settings)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


def issue_token(client: TestClient, username: str, name: str = "tests") -> tuple[int, str]:
    """A new API token of ``username`` (id, secret), created as ``beffroi token create`` does."""
    with transaction(client.app.state.session_factory) as session:
        token, secret = create_token(session, Actor.system(name="test"), username, name)
        return token.id, secret


def bearer(client: TestClient, username: str) -> dict[str, str]:
    """Authorization header of a fresh token for ``username``."""
    return {"Authorization": f"Bearer {issue_token(client, username)[1]}"}


def revoke(client: TestClient, token_id: int) -> None:
    """Revoke a token, as ``beffroi token revoke`` does."""
    with transaction(client.app.state.session_factory) as session:
        revoke_token(session, Actor.system(name="test"), token_id)


def csrf_from(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = _CSRF_INPUT.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(
    client: TestClient,
    username: str,
    password: str,
    *,
    next_url: str | None = None,
    with_csrf: bool = True,
) -> httpx.Response:
    """Sign in through the HTML form (GET for the CSRF cookie and field, then POST)."""
    form_page = client.get("/connexion", headers={"Accept": "text/html"})
    assert form_page.status_code == 200
    data = {"username": username, "password": password}
    if with_csrf:
        data[CSRF_FIELD] = csrf_from(form_page.text)
    if next_url is not None:
        data["next"] = next_url
    return client.post(
        "/connexion", data=data, headers={"Accept": "text/html"}, follow_redirects=False
    )


# ---------------------------------------------------------------- a served instance


#: The real file published on a served demo (SCDL subsidies), and the dataset it goes to.
SERVED_UPLOAD = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
SERVED_DATASET = "subventions-associations"


@dataclass(frozen=True)
class ServedInstance:
    """A ``beffroi serve`` process on 127.0.0.1 and its data directory."""

    base_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    """``beffroi init``, ``demo``, ``ingest --publish`` of :data:`SERVED_UPLOAD`, then
    ``beffroi serve`` on a free port, stopped (SIGTERM, then kill) after the module."""
    tmp = tmp_path_factory.mktemp("served-demo")
    data_dir = tmp / "instance"
    runner = CliRunner()
    port = free_port()
    env_backup = os.environ.get("BEFFROI_DATA_DIR")
    for args in (
        ["init"],
        ["demo"],
        ["ingest", str(SERVED_UPLOAD), "--dataset", SERVED_DATASET, "--publish"],
    ):
        result = runner.invoke(cli, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == 0, result.output
    if env_backup is None:
        os.environ.pop("BEFFROI_DATA_DIR", None)  # `init` exports it for child processes
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    base = f"http://127.0.0.1:{port}"
    env["BEFFROI_BASE_URL"] = base
    log = tmp / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), "serve",
             "--port", str(port)],
            cwd=tmp, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_up(f"{base}/health", process, log)
        yield ServedInstance(base_url=base, data_dir=data_dir)
    finally:
        stop_server(process)
