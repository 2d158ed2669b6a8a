"""Ingestion from a URL (a real HTTP server on 127.0.0.1) and upserts, through the CLI and API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.errors import InvalidInputError
from beffroi.ingest.fetch import check_url, fetch, is_url
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_ingest import DATASET, EDITOR, SUBVENTIONS, SUBVENTIONS_ROWS, wait_job

BIG_BYTES = 3 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}  # noqa: RUF012 - set per server

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"introuvable"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:  # quiet: the tests read the responses
        return


@pytest.fixture
def server() -> Iterator[str]:
    """A real HTTP server on a free port of 127.0.0.1, serving a few files."""
    data = SUBVENTIONS.read_bytes()
    routes = {
        "/exports/subventions.csv": (200, {"Content-Type": "text/csv"}, data),
        "/download?id=42": (
            200,
            {"Content-Disposition": 'attachment; filename="aides-2024.csv"'},
            data,
        ),
        "/old-address": (302, {"Location": "/exports/subventions.csv"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/"}, b""),
        "/big.csv": (200, {}, b"a;b\n" + b"1;2\n" * (BIG_BYTES // 4)),
        "/liar.csv": (200, {"Content-Length": str(50 * 1024 * 1024 * 1024)}, b"a;b\n1;2\n"),
    }
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def intranet_client(demo_instance: DemoInstance) -> Iterator[TestClient]:
    """The API of an instance whose administrator allows private-network sources."""
    settings = demo_instance.settings.model_copy(
        update={"fetch_allow_private_networks": True, "upload_max_mb": 1}
    )
    app = create_app(settings)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


def post_url(client: TestClient, url: str, headers: dict[str, str], **form: str) -> Any:
    return client.post(
        f"/api/v1/datasets/{DATASET}/uploads", data={"url": url, **form}, headers=headers
    )


def test_is_url() -> None:
    assert is_url("https://data.example.fr/a.csv")
    assert is_url("HTTP://x/y")
    assert not is_url("exports/a.csv")
    assert not is_url("ftp://x/y")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.csv",
        "http://localhost:8000/x.csv",
        "http://[::1]/x.csv",
        "http://10.1.2.3/x.csv",
        "http://192.168.0.10/x.csv",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata endpoint
        "http://0.0.0.0/",
    ],
)
def test_internal_addresses_are_refused_by_default(url: str) -> None:
    with pytest.raises(InvalidInputError, match="Adresse interne refusée") as caught:
        check_url(url)
    assert "BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS" in (caught.value.hint or "")
    check_url(url, allow_private=True)  # an intranet source, when the admin allows it


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/a.csv", "http://", "gopher://x/"]
)
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError, match="Adresse non prise en charge"):
        check_url(url, allow_private=True)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="identifiants") as caught:
        check_url("https://user:secret@8.8.8.8/a.csv")
    assert "secret" not in str(caught.value.details)


def test_a_public_address_passes_the_check() -> None:
    check_url("http://8.8.8.8/a.csv")  # a literal: no DNS needed


def test_fetch_follows_redirects_and_names_the_file(server: str, tmp_path: Path) -> None:
    fetched = fetch(
        f"{server}/old-address", tmp_path, max_bytes=1 << 20, timeout=5, allow_private=True
    )
    assert fetched.name == "subventions.csv"
    assert fetched.path == tmp_path / "source.csv"
    assert fetched.path.read_bytes() == SUBVENTIONS.read_bytes()
    named = fetch(
        f"{server}/download?id=42", tmp_path, max_bytes=1 << 20, timeout=5, allow_private=True
    )
    assert named.name == "aides-2024.csv"


def test_a_redirect_to_an_internal_address_is_refused(server: str, tmp_path: Path) -> None:
    # The first URL is allowed here only because the check is done per host: the redirect
    # target (a metadata endpoint) is checked again, with the instance's own policy.
    from beffroi.ingest import fetch as fetch_module

    opener_policy = fetch_module._Redirects(allow_private=False)
    with pytest.raises(InvalidInputError, match=r"169\.254\.169\.254"):
        opener_policy.redirect_request(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            302,
            "Found",
            None,  # type: ignore[arg-type]
            "http://169.254.169.254/latest/",
        )


def test_fetch_limits_size_even_when_the_length_is_unknown_or_wrong(
    server: str, tmp_path: Path
) -> None:
    from beffroi.errors import PayloadTooLargeError

    with pytest.raises(PayloadTooLargeError):
        fetch(f"{server}/big.csv", tmp_path, max_bytes=1 << 20, timeout=5, allow_private=True)
    with pytest.raises(PayloadTooLargeError):  # announced 50 GB: refused before reading
        fetch(f"{server}/liar.csv", tmp_path, max_bytes=1 << 20, timeout=5, allow_private=True)
    assert not list(tmp_path.iterdir())  # nothing half-written is left


def test_api_ingests_from_a_url_in_the_background(intranet_client: TestClient, server: str) -> None:
    headers = bearer(intranet_client, EDITOR)
    response = post_url(intranet_client, f"{server}/old-address", headers, publish="true")
    assert response.status_code == 202, response.text
    job = wait_job(intranet_client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    assert job["result"]["rows"] == SUBVENTIONS_ROWS
    version = intranet_client.get(f"/api/v1/datasets/{DATASET}/versions/1").json()
    assert version["source_name"] == "subventions.csv"
    assert version["published"] is True
    assert not any(intranet_client.app.state.jobs.uploads_dir.iterdir())


def test_api_reports_a_remote_404_and_a_too_large_file(
    intranet_client: TestClient, server: str
) -> None:
    headers = bearer(intranet_client, EDITOR)
    missing = post_url(intranet_client, f"{server}/nothing-here.csv", headers)
    job = wait_job(intranet_client, missing.headers["location"], headers)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid-input"
    assert "404" in job["error"]["detail"]
    big = post_url(intranet_client, f"{server}/big.csv", headers)  # the instance takes 1 MB
    job = wait_job(intranet_client, big.headers["location"], headers)
    assert job["error"]["code"] == "payload-too-large", job
    versions = intranet_client.get(f"/api/v1/datasets/{DATASET}/versions", headers=headers)
    assert versions.json() == []


def test_api_refuses_internal_urls_by_default(client: TestClient, server: str) -> None:
    headers = bearer(client, EDITOR)
    response = post_url(client, f"{server}/exports/subventions.csv", headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-input"
    assert "Adresse interne refusée" in response.json()["detail"]
    assert not any(client.app.state.jobs.uploads_dir.iterdir())


def test_api_needs_exactly_one_source(client: TestClient) -> None:
    headers = bearer(client, EDITOR)
    neither = client.post(f"/api/v1/datasets/{DATASET}/uploads", headers=headers)
    assert neither.status_code == 422
    assert "file" in neither.json()["hint"]
    with SUBVENTIONS.open("rb") as handle:
        both = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": ("a.csv", handle, "text/csv")},
            data={"url": "https://example.org/a.csv"},
            headers=headers,
        )
    assert both.status_code == 422


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "code_insee;annee;population\n" + "".join(f"{a};{b};{c}\n" for a, b, c in rows),
        encoding="utf-8",
    )
    return path


def test_api_upsert_updates_known_keys_and_adds_the_others(
    client: TestClient, tmp_path: Path
) -> None:
    headers = bearer(client, EDITOR)
    first = _csv(tmp_path / "v1.csv", [("56121", "2023", "57000"), ("56098", "2023", "9000")])
    with first.open("rb") as handle:
        response = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": ("v1.csv", handle, "text/csv")},
            data={"publish": "true"},
            headers=headers,
        )
    assert wait_job(client, response.headers["location"], headers)["status"] == "succeeded"
    change = _csv(tmp_path / "v2.csv", [("56121", "2023", "57500"), ("56034", "2023", "1200")])
    for form, expected in (({"mode": "upsert"}, 422), ({"key": "code_insee"}, 422)):
        with change.open("rb") as handle:
            refused = client.post(
                f"/api/v1/datasets/{DATASET}/uploads",
                files={"file": ("v2.csv", handle, "text/csv")},
                data=form,
                headers=headers,
            )
        assert refused.status_code == expected, refused.text
    with change.open("rb") as handle:
        response = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": ("v2.csv", handle, "text/csv")},
            data={"mode": "upsert", "key": "code_insee, annee", "publish": "true"},
            headers=headers,
        )
    job = wait_job(client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    assert job["result"]["rows"] == 3
    from beffroi.store import store_for
    from tests.functional.test_ingest import _dataset_id

    store = store_for(client.app.state.settings)
    table = store.read(
        f"ds-{_dataset_id(client)}", store.versions(f"ds-{_dataset_id(client)}")[-1].version
    )
    by_code = dict(
        zip(table["code_insee"].to_pylist(), table["population"].to_pylist(), strict=True)
    )
    assert by_code == {"56121": 57500, "56098": 9000, "56034": 1200}


def test_cli_ingests_from_a_url_and_upserts(
    demo_instance: DemoInstance, server: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    env = {
        "BEFFROI_SECRET_KEY": demo_instance.settings.signing_key().decode(),
        "BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
    }
    fetched = runner.invoke(
        cli,
        [*base, "ingest", f"{server}/download?id=42", "--dataset", DATASET, "--publish"],
        env=env,
    )
    assert fetched.exit_code == 0, fetched.output
    assert f"{SUBVENTIONS_ROWS}" in fetched.output
    assert not [p for p in demo_instance.settings.data_dir.iterdir() if p.name.startswith("fetch-")]

    refused = runner.invoke(
        cli,
        [*base, "ingest", f"{server}/download?id=42", "--dataset", DATASET],
        env={k: v for k, v in env.items() if k != "BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS"},
    )
    assert refused.exit_code == 1
    assert "Adresse interne refusée" in refused.output
    assert "Traceback" not in refused.output

    first = _csv(tmp_path / "v1.csv", [("56121", "2023", "57000"), ("56098", "2023", "9000")])
    schema = tmp_path / "schema.json"
    schema.write_text(
        '{"fields": [{"name": "code_insee", "type": "string"}, {"name": "annee", "type": '
        '"integer"}, {"name": "population", "type": "integer"}], "primaryKey": '
        '["code_insee", "annee"]}',
        encoding="utf-8",
    )
    args = [*base, "ingest", "--dataset", DATASET, "--schema", str(schema), "--publish"]
    assert runner.invoke(cli, [*args, str(first)], env=env).exit_code == 0
    change = _csv(tmp_path / "v2.csv", [("56098", "2023", "9100"), ("56034", "2023", "1200")])
    upsert = runner.invoke(cli, [*args, str(change), "--mode", "upsert"], env=env)
    assert upsert.exit_code == 0, upsert.output
    assert "3" in upsert.output  # 2 kept or updated + 1 added
    missing_key = runner.invoke(
        cli, [*base, "ingest", str(change), "--dataset", DATASET, "--mode", "upsert"], env=env
    )
    assert missing_key.exit_code == 1
    assert "--key" in missing_key.output
    missing_file = runner.invoke(cli, [*base, "ingest", "nope.csv", "--dataset", DATASET], env=env)
    assert missing_file.exit_code == 1
    assert "Fichier introuvable" in missing_file.output


def test_cli_and_api_take_fixed_width_column_widths(
    demo_instance: DemoInstance, client: TestClient
) -> None:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "messy" / "laposte-fimoct-acheminement-fixed-width.txt"
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    env = {"BEFFROI_SECRET_KEY": demo_instance.settings.signing_key().decode()}
    args = [*base, "ingest", str(path), "--dataset", DATASET]
    done = runner.invoke(cli, [*args, "--widths", "5,4,8,11,8,5,38"], env=env)
    assert done.exit_code == 0, done.output
    assert "7 colonnes" in done.output
    for bad in ("5,x", "0,3", ""):
        refused = runner.invoke(cli, [*args, "--widths", bad], env=env)
        assert refused.exit_code == 1, refused.output
        assert "--widths 5,4,8,38" in refused.output
    mixed = runner.invoke(cli, [*args, "--widths", "5,4", "--format", "csv"], env=env)
    assert mixed.exit_code == 1
    assert "--format fwf" in mixed.output

    headers = bearer(client, EDITOR)
    with path.open("rb") as handle:
        response = client.post(
            f"/api/v1/datasets/{DATASET}/uploads",
            files={"file": (path.name, handle, "text/plain")},
            data={"widths": "5,4,8,11,8,5,38"},
            headers=headers,
        )
    job = wait_job(client, response.headers["location"], headers)
    assert job["status"] == "succeeded", job
    assert len(job["result"]["columns"]) == 7
    assert job["result"]["dialect"]["format"] == "fwf"
