"""Bodies are bounded before they are read; uploads without credentials stop at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_ingest import DATASET, EDITOR

UPLOADS = f"/api/v1/datasets/{DATASET}/uploads"


@pytest.fixture
def small_client(demo_instance: DemoInstance) -> Iterator[TestClient]:
    """An instance that accepts files of at most 1 MB."""
    app = create_app(demo_instance.settings.model_copy(update={"upload_max_mb": 1}))
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.state.engine.dispose()


def test_an_announced_oversized_body_is_refused_before_it_is_read(small_client: TestClient) -> None:
    headers = {**bearer(small_client, EDITOR), "Content-Type": "multipart/form-data; boundary=x"}

    def body() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * (1024 * 1024)

    response = small_client.post(
        UPLOADS, content=body(), headers={**headers, "Content-Length": str(3 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "payload-too-large"
    assert "BEFFROI_UPLOAD_MAX_MB" in response.json()["hint"]


def test_a_chunked_body_is_stopped_at_the_limit(small_client: TestClient) -> None:
    headers = {**bearer(small_client, EDITOR), "Content-Type": "multipart/form-data; boundary=x"}

    def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(4):
            yield b"x" * (1024 * 1024)

    response = small_client.post(UPLOADS, content=body(), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload-too-large"
    uploads = small_client.app.state.jobs.uploads_dir
    assert not uploads.exists() or not any(uploads.iterdir())


def test_an_upload_without_credentials_is_refused_before_its_body(small_client: TestClient) -> None:
    response = small_client.post(
        UPLOADS,
        content=b"x" * (2 * 1024 * 1024),  # over the limit too: 401 comes first
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication-required"
    english = small_client.post(
        UPLOADS,
        content=b"x",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Accept-Language": "en"},
    )
    assert "Sign-in required" in english.text


def test_a_body_under_the_limit_goes_through(small_client: TestClient) -> None:
    headers = bearer(small_client, EDITOR)
    response = small_client.post(
        UPLOADS, files={"file": ("a.csv", b"a;b\n1;2\n", "text/csv")}, headers=headers
    )
    assert response.status_code == 202, response.text
