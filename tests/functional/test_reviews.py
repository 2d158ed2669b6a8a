"""Publication review: editors request, stewards approve (publishes) or reject with a comment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.access.accounts import get_user
from beffroi.catalog.db import transaction
from beffroi.cli import cli
from beffroi.ingest.pipeline import ingest_file
from beffroi.store import store_for
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_agreements import OWNER, World, build_world

NEW_ROWS = "code_insee,commune,volume_m3\n56121,Lorient,999\n"


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    return build_world(client, demo_instance, tmp_path / "world")


def stage(client: TestClient, demo: DemoInstance, tmp_path: Path, slug: str) -> int:
    """A new, unpublished version of ``slug``; its number."""
    source = tmp_path / "nouveau.csv"
    source.write_text(NEW_ROWS, encoding="utf-8")
    summary = ingest_file(
        client.app.state.session_factory,
        store_for(demo.settings),
        Actor.system(name="test"),
        slug,
        source,
    )
    return summary.version


def public_volumes(client: TestClient, slug: str) -> list[int]:
    records = client.get(f"/api/v1/datasets/{slug}/records")
    assert records.status_code == 200, records.text
    return sorted(r["volume_m3"] for r in records.json()["data"])


def require_review(client: TestClient, on: bool = True) -> None:
    admin = bearer(client, "admin")
    answer = client.put(
        f"/api/v1/reviews/organizations/{OWNER}", json={"review_required": on}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"organization": OWNER, "review_required": on}


def test_only_administrators_set_review(client: TestClient, world: World) -> None:
    assert client.get(f"/api/v1/reviews/organizations/{OWNER}").json()["review_required"] is False
    body = {"review_required": True}
    url = f"/api/v1/reviews/organizations/{OWNER}"
    assert client.put(url, json=body).status_code == 401
    for username in ("editeur-eau", "referent-eau"):
        assert client.put(url, json=body, headers=bearer(client, username)).status_code == 403
    require_review(client)
    assert client.get(url).json()["review_required"] is True


def test_request_reject_then_approve(
    client: TestClient, demo_instance: DemoInstance, world: World, tmp_path: Path
) -> None:
    slug = world.datasets["public"]
    require_review(client)
    number = stage(client, demo_instance, tmp_path, slug)
    editor = bearer(client, "editeur-eau")
    steward = bearer(client, "referent-eau")
    before = public_volumes(client, slug)
    asked = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=editor)
    assert asked.status_code == 202, asked.text
    review = asked.json()
    assert review["status"] == "pending"
    assert review["requested_by"].startswith("user:editeur-eau")
    assert public_volumes(client, slug) == before  # nothing moved
    # Asking twice gives the same request.
    again = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=editor)
    assert again.json()["id"] == review["id"]
    # Who sees the request: the steward (to decide), the editor (own), nobody else.
    assert [r["id"] for r in client.get("/api/v1/reviews", headers=steward).json()] == [
        review["id"]
    ]
    assert [r["id"] for r in client.get("/api/v1/reviews", headers=editor).json()] == [review["id"]]
    outsider = bearer(client, "referente-sig")
    assert client.get("/api/v1/reviews", headers=outsider).json() == []
    assert client.get(f"/api/v1/reviews/{review['id']}", headers=outsider).status_code == 404
    assert client.get("/api/v1/reviews").status_code == 401
    # The editor may not decide; a rejection needs a comment.
    url = f"/api/v1/reviews/{review['id']}"
    assert client.post(f"{url}/approve", headers=editor).status_code == 403
    empty = client.post(f"{url}/reject", json={"comment": " "}, headers=steward)
    assert empty.status_code == 422
    rejected = client.post(f"{url}/reject", json={"comment": "Volumes à vérifier"}, headers=steward)
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["comment"] == "Volumes à vérifier"
    assert client.post(f"{url}/approve", headers=steward).status_code == 409
    assert public_volumes(client, slug) == before
    # A second request, approved: published at once.
    second = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=editor)
    assert second.status_code == 202
    approved = client.post(f"/api/v1/reviews/{second.json()['id']}/approve", headers=steward)
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"].startswith("user:referent-eau")
    assert public_volumes(client, slug) == [999]
    history = client.get(f"/api/v1/reviews?status=all&dataset={slug}", headers=steward).json()
    assert [r["status"] for r in history] == ["rejected", "approved"]


def test_stewards_and_organisations_without_review_publish_directly(
    client: TestClient, demo_instance: DemoInstance, world: World, tmp_path: Path
) -> None:
    slug = world.datasets["public"]
    number = stage(client, demo_instance, tmp_path, slug)
    editor = bearer(client, "editeur-eau")
    direct = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=editor)
    assert direct.status_code == 200  # review not required here
    assert direct.json()["published"] is True
    require_review(client)
    number = stage(client, demo_instance, tmp_path, slug)
    steward = bearer(client, "referent-eau")
    by_steward = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=steward)
    assert by_steward.status_code == 200
    assert by_steward.json()["number"] == number


def test_ingest_with_publish_goes_through_review(
    client: TestClient, demo_instance: DemoInstance, world: World, tmp_path: Path
) -> None:
    slug = world.datasets["public"]
    require_review(client)
    before = public_volumes(client, slug)
    factory = client.app.state.session_factory
    with transaction(factory) as session:
        editor = Actor.for_user(get_user(session, "editeur-eau"), surface="api")
    source = tmp_path / "nouveau.csv"
    source.write_text(NEW_ROWS, encoding="utf-8")
    summary = ingest_file(
        factory, store_for(demo_instance.settings), editor, slug, source, publish=True
    )
    assert summary.published is False  # a pending review, not a publication
    assert public_volumes(client, slug) == before
    pending = client.get("/api/v1/reviews", headers=bearer(client, "referent-eau")).json()
    assert [r["dataset"] for r in pending] == [slug]


def test_cli(client: TestClient, demo_instance: DemoInstance, world: World, tmp_path: Path) -> None:
    slug = world.datasets["public"]
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    assert runner.invoke(cli, [*base, "review", "require", OWNER]).exit_code == 0
    number = stage(client, demo_instance, tmp_path, slug)
    editor = bearer(client, "editeur-eau")
    asked = client.post(f"/api/v1/datasets/{slug}/versions/{number}/publish", headers=editor)
    listed = runner.invoke(cli, [*base, "review", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert f'"id": {asked.json()["id"]}' in listed.output
    refused = runner.invoke(cli, [*base, "review", "reject", str(asked.json()["id"])])
    assert refused.exit_code != 0  # --comment is required
    approved = runner.invoke(cli, [*base, "review", "approve", str(asked.json()["id"])])
    assert approved.exit_code == 0, approved.output
    assert public_volumes(client, slug) == [999]
    assert runner.invoke(cli, [*base, "review", "require", OWNER, "--off"]).exit_code == 0
    assert client.get(f"/api/v1/reviews/organizations/{OWNER}").json()["review_required"] is False
