"""Sharing agreements through the HTTP API and the command line, on the demo instance.

:func:`build_world` (also used by the authorisation matrix) adds to the demo one dataset
of each access level owned by the water directorate, a steward and an editor of it, a
viewer of another commune, and two partners: one with an agreement in force on the
restricted dataset, one whose agreement has expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.access import Actor, clock
from beffroi.access import agreements as ag
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AccessLevel, AuditEvent, OrgKind, Role
from beffroi.catalog.schemas import parse
from beffroi.cli import cli
from beffroi.ingest.pipeline import ingest_file
from beffroi.store import store_for
from tests.factories import cheap_password_hashing, make_dataset, make_org, make_user
from tests.functional.conftest import DemoInstance, bearer

OWNER = "direction-eau-assainissement"
LORIENT, LANESTER = "56121", "56098"
NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
CSV = (
    "code_insee,commune,volume_m3,abonne_nom,abonne_email\n"
    f"{LORIENT},Lorient,120,Jean Dupont,jean.dupont@example.org\n"
    f"{LORIENT},Lorient,80,Marie Curie,marie.curie@example.org\n"
    f"{LANESTER},Lanester,200,Paul Martin,paul.martin@example.org\n"
)


@dataclass
class World:
    """What :func:`build_world` added: datasets by access level, users by actor label."""

    datasets: dict[str, str] = field(default_factory=dict)  # access level -> slug
    users: dict[str, str | None] = field(default_factory=dict)  # actor label -> username
    active_agreement: int = 0
    expired_agreement: int = 0


def build_world(client: TestClient, demo: DemoInstance, tmp_path: Path) -> World:
    """Datasets of every level with data, actors of every kind, two agreements."""
    world = World()
    factory = client.app.state.session_factory
    with cheap_password_hashing(), transaction(factory) as session:
        old_partner = make_org(session, kind=OrgKind.PARTNER, slug="ancien-delegataire")
        world.users = {
            "anonymous": None,
            "other_commune_viewer": make_user(
                session, username="lecteur-lanester", memberships={"lanester": Role.VIEWER}
            ).username,
            "editor": make_user(
                session, username="editeur-eau", memberships={OWNER: Role.EDITOR}
            ).username,
            "steward": make_user(
                session, username="referent-eau", memberships={OWNER: Role.STEWARD}
            ).username,
            "partner_active": "partenaire-eau",
            "partner_expired": make_user(
                session, username="ancien-partenaire", memberships={old_partner: Role.EDITOR}
            ).username,
            "admin": "admin",
        }
        for level in AccessLevel:
            slug = f"releves-eau-{level.value}"
            make_dataset(session, slug=slug, publisher=OWNER, access_level=level)
            world.datasets[level.value] = slug
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "releves.csv"
    source.write_text(CSV, encoding="utf-8")
    store = store_for(demo.settings)
    operator = Actor.system(name="test")
    for slug in world.datasets.values():
        ingest_file(factory, store, operator, slug, source, publish=True)
    restricted = world.datasets["restricted"]
    with transaction(factory) as session:
        active = ag.create_agreement(
            session,
            operator,
            parse(
                ag.AgreementCreate,
                {
                    "title": "Délégation eau potable",
                    "owner": OWNER,
                    "grantees": ["eau-du-morbihan-delegataire"],
                    "datasets": [restricted],
                    "purpose": "Exploitation du service public de l'eau",
                    "legal_basis": "Contrat de délégation, CCP L3131-2",
                    "row_filter": {"column": "code_insee", "in": [LORIENT]},
                    "columns": ["code_insee", "commune", "volume_m3"],
                    "starts_at": (NOW - DAY).isoformat(),
                    "ends_at": (NOW + 365 * DAY).isoformat(),
                },
            ),
        )
        ag.approve_agreement(session, operator, active.id)
        expired = ag.create_agreement(
            session,
            operator,
            parse(
                ag.AgreementCreate,
                {
                    "title": "Ancienne délégation",
                    "owner": OWNER,
                    "grantees": [old_partner.slug],
                    "datasets": [restricted],
                    "purpose": "Ancien contrat",
                    "legal_basis": "Contrat échu",
                    "starts_at": (NOW - 400 * DAY).isoformat(),
                    "ends_at": (NOW - 35 * DAY).isoformat(),
                },
            ),
        )
        ag.approve_agreement(session, operator, expired.id)
        world.active_agreement, world.expired_agreement = active.id, expired.id
    return world


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    return build_world(client, demo_instance, tmp_path)


def headers(client: TestClient, username: str | None) -> dict[str, str]:
    return bearer(client, username) if username else {}


def test_partner_reads_its_rows_and_columns_only(client: TestClient, world: World) -> None:
    restricted = world.datasets["restricted"]
    partner = headers(client, "partenaire-eau")
    shown = client.get(f"/api/v1/datasets/{restricted}", headers=partner)
    assert shown.status_code == 200
    records = client.get(f"/api/v1/datasets/{restricted}/records", headers=partner)
    assert records.status_code == 200, records.text
    data = records.json()["data"]
    assert [str(r["code_insee"]) for r in data] == [LORIENT, LORIENT]
    assert all(set(r) == {"code_insee", "commune", "volume_m3"} for r in data)
    sql = client.post(
        "/api/v1/sql",
        json={"sql": f'SELECT count(*) AS n FROM "{restricted}"'},  # noqa: S608
        headers=partner,
    )
    assert sql.status_code == 200, sql.text
    assert sql.json()["data"] == [{"n": 2}]
    export = client.get(f"/api/v1/datasets/{restricted}/export.csv", headers=partner)
    assert export.status_code == 200
    assert "abonne" not in export.text
    assert LANESTER not in export.text
    # The expired partner: the dataset does not exist for it.
    expired = headers(client, "ancien-partenaire")
    assert client.get(f"/api/v1/datasets/{restricted}", headers=expired).status_code == 404
    listed = client.get("/api/v1/datasets", params={"publisher": OWNER}, headers=expired).json()
    assert restricted not in {d["slug"] for d in listed["data"]}


def test_api_life_cycle(client: TestClient, world: World) -> None:
    editor = headers(client, "editeur-eau")
    steward = headers(client, "referent-eau")
    viewer = headers(client, "lecteur-lanester")
    body = {
        "title": "Convention Lanester",
        "owner": OWNER,
        "grantees": ["lanester"],
        "datasets": [world.datasets["restricted"]],
        "purpose": "Tableau de bord communal",
        "legal_basis": "Mission de service public",
        "row_filter": {"column": "code_insee", "in_grantee_communes": True},
        "starts_at": (NOW - DAY).isoformat(),
        "ends_at": (NOW + 10 * DAY).isoformat(),
    }
    assert client.post("/api/v1/agreements", json=body).status_code == 401
    assert client.post("/api/v1/agreements", json=body, headers=viewer).status_code == 403
    created = client.post("/api/v1/agreements", json=body, headers=editor)
    assert created.status_code == 201, created.text
    agreement = created.json()
    assert agreement["status"] == "draft"
    assert agreement["in_force"] is False
    number = agreement["id"]
    target = f"/api/v1/datasets/{world.datasets['restricted']}/records"
    assert client.get(target, headers=viewer).status_code == 404
    assert client.post(f"/api/v1/agreements/{number}/approve", headers=editor).status_code == 403
    approved = client.post(f"/api/v1/agreements/{number}/approve", headers=steward)
    assert approved.status_code == 200
    assert approved.json()["status"] == "active"
    assert approved.json()["approver"] == "referent-eau"
    rows = client.get(target, headers=viewer).json()["data"]
    assert {str(r["code_insee"]) for r in rows} == {LANESTER}
    # No column subset in this agreement, but the personal columns detected on upload
    # (names, e-mails) never leave the owner.
    assert set(rows[0]) == {"code_insee", "commune", "volume_m3"}
    # The grantee sees the agreement; another partner does not know it exists.
    assert client.get(f"/api/v1/agreements/{number}", headers=viewer).status_code == 200
    other = headers(client, "ancien-partenaire")
    assert client.get(f"/api/v1/agreements/{number}", headers=other).status_code == 404
    listed = client.get("/api/v1/agreements", headers=other).json()
    assert number not in {a["id"] for a in listed}
    # Suspension takes effect on the next request.
    assert client.post(f"/api/v1/agreements/{number}/suspend", headers=steward).status_code == 200
    assert client.get(target, headers=viewer).status_code == 404
    assert client.post(f"/api/v1/agreements/{number}/approve", headers=steward).status_code == 200
    assert client.get(target, headers=viewer).status_code == 200
    # Time travel past the end date: expired without anyone acting.
    with clock.frozen_at(NOW + 11 * DAY):
        assert client.get(target, headers=viewer).status_code == 404
        shown = client.get(f"/api/v1/agreements/{number}", headers=steward).json()
        assert shown["status"] == "expired"
        expired = client.get("/api/v1/agreements?status=expired", headers=steward).json()
        assert number in {a["id"] for a in expired}
    assert client.get(target, headers=viewer).status_code == 200
    ended = client.post(f"/api/v1/agreements/{number}/end", headers=steward)
    assert ended.json()["status"] == "expired"
    assert client.get(target, headers=viewer).status_code == 404
    again = client.post(f"/api/v1/agreements/{number}/suspend", headers=steward)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


def test_invalid_bodies_are_problems(client: TestClient, world: World) -> None:
    editor = headers(client, "editeur-eau")
    body = {
        "title": "x",
        "owner": OWNER,
        "grantees": ["lanester"],
        "datasets": [world.datasets["restricted"]],
        "purpose": "x",
        "legal_basis": "x",
        "row_filter": {"column": "code_insee", "sql": "1=1; DROP TABLE x"},
        "starts_at": (NOW - DAY).isoformat(),
        "ends_at": (NOW + DAY).isoformat(),
    }
    refused = client.post("/api/v1/agreements", json=body, headers=editor)
    assert refused.status_code == 422
    assert refused.json()["hint"]
    body["row_filter"] = None
    body["datasets"] = ["releves-inexistant"]
    assert client.post("/api/v1/agreements", json=body, headers=editor).status_code == 404


def test_reads_are_audited(client: TestClient, world: World) -> None:
    restricted = world.datasets["restricted"]
    partner = headers(client, "partenaire-eau")
    client.get(f"/api/v1/datasets/{restricted}/records", headers=partner)
    with transaction(client.app.state.session_factory) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agreement.read")
        ).all()
        assert events
        last = events[-1]
        assert last.details["agreement"] == world.active_agreement
        assert last.details["dataset"] == restricted
        assert last.surface == "api"
        assert last.actor.startswith("user:partenaire-eau")


def test_cli(client: TestClient, world: World, demo_instance: DemoInstance) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    created = runner.invoke(
        cli,
        [
            *base,
            "agreement",
            "create",
            "Convention CLI",
            "--owner",
            OWNER,
            "--grantee",
            "lanester",
            "--dataset",
            world.datasets["restricted"],
            "--purpose",
            "Essai",
            "--legal-basis",
            "Essai",
            "--row-filter",
            '{"column": "code_insee", "in_grantee_communes": true}',
            "--column",
            "volume_m3",
            "--start",
            (NOW - DAY).isoformat(),
            "--end",
            (NOW + DAY).isoformat(),
        ],
    )
    assert created.exit_code == 0, created.output
    number = int(created.output.split()[1])
    listed = runner.invoke(cli, [*base, "agreement", "list", "--json", "--status", "draft"])
    assert listed.exit_code == 0, listed.output
    assert f'"id": {number}' in listed.output
    assert runner.invoke(cli, [*base, "agreement", "approve", str(number)]).exit_code == 0
    viewer = headers(client, "lecteur-lanester")
    rows = client.get(
        f"/api/v1/datasets/{world.datasets['restricted']}/records", headers=viewer
    ).json()["data"]
    assert rows == [{"volume_m3": 200}]
    assert runner.invoke(cli, [*base, "agreement", "suspend", str(number)]).exit_code == 0
    bad = runner.invoke(cli, [*base, "agreement", "suspend", str(number)])
    assert bad.exit_code == 1
    assert "approve" in bad.output or "active" in bad.output
    broken = runner.invoke(
        cli,
        [
            *base,
            "agreement",
            "create",
            "x",
            "--owner",
            OWNER,
            "--grantee",
            "lanester",
            "--dataset",
            world.datasets["restricted"],
            "--purpose",
            "x",
            "--legal-basis",
            "x",
            "--row-filter",
            "{oops",
            "--start",
            NOW.isoformat(),
            "--end",
            (NOW + DAY).isoformat(),
        ],
    )
    assert broken.exit_code == 1
    assert "JSON" in broken.output
