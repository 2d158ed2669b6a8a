"""Sharing agreements: life cycle, permissions, time travel, rows and columns, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Actor, clock, dataset_visible, readable_datasets
from beffroi.access import agreements as ag
from beffroi.access.reading import readable_table, readable_tables
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AgreementStatus, AuditEvent, Dataset
from beffroi.catalog.schemas import parse
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from beffroi.query import service
from tests.unit.access.conftest import World

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def session(world: World) -> Iterator[Session]:
    with world.factory() as db:
        yield db


def conso(world: World) -> str:
    return f"conso-{world.commune_a}"


def agreement_data(world: World, **changes: Any) -> ag.AgreementCreate:
    data: dict[str, Any] = {
        "title": "Convention eau",
        "owner": world.orgs["owner"],
        "grantees": [world.orgs["commune_a"]],
        "datasets": [conso(world)],
        "purpose": "Suivi des consommations par commune",
        "legal_basis": "Code de la commande publique, L3131-2",
        "row_filter": {"column": "code_insee", "in_grantee_communes": True},
        "columns": ["code_insee", "commune", "volume_m3"],
        "starts_at": (NOW - DAY).isoformat(),
        "ends_at": (NOW + 30 * DAY).isoformat(),
    }
    data.update(changes)
    return parse(ag.AgreementCreate, data)


def active_agreement(world: World, **changes: Any) -> int:
    """A new agreement, created by the editor and approved by the steward; its id."""
    with transaction(world.factory) as db:
        created = ag.create_agreement(
            db, world.actor(db, "editor"), agreement_data(world, **changes)
        )
        ag.approve_agreement(db, world.actor(db, "steward"), created.id)
        return created.id


def readable(world: World, label: str) -> bool:
    with world.factory() as db:
        actor = world.actor(db, label)
        try:
            readable_table(db, actor, conso(world))
        except NotFoundError:
            return False
        return True


def rows(world: World, label: str) -> list[dict[str, Any]]:
    with world.factory() as db:
        page = service.records(db, world.actor(db, label), world.settings, conso(world), [])
        return page.data


def test_draft_opens_nothing_and_approval_opens_the_grantees_rows(world: World) -> None:
    with transaction(world.factory) as db:
        created = ag.create_agreement(db, world.actor(db, "editor"), agreement_data(world))
        agreement_id = created.id
        assert created.status == AgreementStatus.DRAFT.value
    assert not readable(world, "commune_a")
    with transaction(world.factory) as db:
        ag.approve_agreement(db, world.actor(db, "steward"), agreement_id)
    got = rows(world, "commune_a")
    assert {str(r["code_insee"]) for r in got} == {world.commune_a}
    assert len(got) == 2
    assert set(got[0]) == {"code_insee", "commune", "volume_m3"}  # column subset
    # Commune B is no grantee: the dataset does not exist for it.
    assert not readable(world, "commune_b")
    # The owner's members read everything.
    assert len(rows(world, "owner_viewer")) == 5
    assert "abonne_email" in rows(world, "owner_viewer")[0]
    with transaction(world.factory) as db:
        ag.end_agreement(db, world.actor(db, "steward"), agreement_id)


def test_suspension_and_expiry_take_effect_immediately(world: World) -> None:
    agreement_id = active_agreement(world)
    assert readable(world, "commune_a")
    with transaction(world.factory) as db:
        ag.suspend_agreement(db, world.actor(db, "steward"), agreement_id)
    assert not readable(world, "commune_a")
    with transaction(world.factory) as db:
        ag.approve_agreement(db, world.actor(db, "steward"), agreement_id)  # resumed
    assert readable(world, "commune_a")
    with clock.frozen_at(NOW + 31 * DAY):  # after its end date: nothing to do, it expired
        assert not readable(world, "commune_a")
        with world.factory() as db:
            found = ag.get_agreement(db, world.actor(db, "steward"), agreement_id)
            assert ag.effective_status(found) is AgreementStatus.EXPIRED
    with clock.frozen_at(NOW - 2 * DAY):  # before its start
        assert not readable(world, "commune_a")
    assert readable(world, "commune_a")
    with transaction(world.factory) as db:
        ended = ag.end_agreement(db, world.actor(db, "steward"), agreement_id)
        assert ended.status == AgreementStatus.EXPIRED.value
    assert not readable(world, "commune_a")
    with transaction(world.factory) as db, pytest.raises(ConflictError, match="expired"):
        ag.approve_agreement(db, world.actor(db, "steward"), agreement_id)


def test_permissions(world: World) -> None:
    with transaction(world.factory) as db:
        for label in ("owner_viewer", "commune_a", "partner", "other_steward"):
            with pytest.raises(PermissionDeniedError):
                ag.create_agreement(db, world.actor(db, label), agreement_data(world))
        created = ag.create_agreement(db, world.actor(db, "editor"), agreement_data(world))
        with pytest.raises(PermissionDeniedError):
            ag.approve_agreement(db, world.actor(db, "editor"), created.id)
        # A grantee knows of the agreement but may not manage it.
        with pytest.raises(PermissionDeniedError):
            ag.approve_agreement(db, world.actor(db, "commune_a"), created.id)
        # Outsiders do not even know it exists.
        with pytest.raises(NotFoundError):
            ag.approve_agreement(db, world.actor(db, "other_steward"), created.id)
        with pytest.raises(NotFoundError):
            ag.get_agreement(db, Actor.anonymous(), created.id)
        with pytest.raises(AuthenticationError):
            ag.list_agreements(db, Actor.anonymous())
        assert created.id not in {a.id for a in ag.list_agreements(db, world.actor(db, "partner"))}
        assert created.id in {a.id for a in ag.list_agreements(db, world.actor(db, "commune_a"))}
        ag.end_agreement(db, world.actor(db, "steward"), created.id)


def test_invalid_agreements_are_refused(world: World) -> None:
    with transaction(world.factory) as db:
        editor = world.actor(db, "editor")
        foreign = agreement_data(world, datasets=[f"foreign-{world.commune_a}"])
        with pytest.raises(InvalidInputError, match="n'appartient pas"):
            ag.create_agreement(db, editor, foreign)
        with pytest.raises(InvalidInputError, match="absente"):
            ag.create_agreement(
                db, editor, agreement_data(world, row_filter={"column": "nope", "eq": "x"})
            )
        with pytest.raises(InvalidInputError, match="absente"):
            ag.create_agreement(db, editor, agreement_data(world, columns=["volume_m3", "nope"]))
        with pytest.raises(InvalidInputError, match="Filtre de lignes invalide"):
            ag.create_agreement(
                db, editor, agreement_data(world, row_filter={"sql": "1=1 OR TRUE"})
            )
    with pytest.raises(InvalidInputError, match="fin"):
        agreement_data(world, ends_at=(NOW - 2 * DAY).isoformat())


def test_fixed_values_filter_for_a_partner_without_commune(world: World) -> None:
    agreement_id = active_agreement(
        world,
        grantees=[world.orgs["partner"]],
        row_filter={"column": "code_insee", "in": [world.commune_b]},
        columns=None,
    )
    got = rows(world, "partner")
    assert len(got) == 3
    assert {str(r["code_insee"]) for r in got} == {world.commune_b}
    with transaction(world.factory) as db:
        ag.end_agreement(db, world.actor(db, "steward"), agreement_id)
    assert not readable(world, "partner")


def test_reads_under_an_agreement_are_audited(world: World) -> None:
    agreement_id = active_agreement(world)
    with world.factory() as db:
        before = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
    rows(world, "commune_a")
    with world.factory() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.id > before, AuditEvent.action == "agreement.read")
        ).all()
        assert len(events) == 1
        event = events[0]
        assert event.details["agreement"] == agreement_id
        assert event.details["dataset"] == conso(world)
        assert event.details["version"] == 1
        assert event.details["rows_stored"] == 5
        assert event.surface == "api"
        assert event.actor.startswith("user:")
    # The owner's own reads are not agreement reads.
    rows(world, "owner_viewer")
    with world.factory() as db:
        count = len(
            db.scalars(
                select(AuditEvent).where(
                    AuditEvent.id > before, AuditEvent.action == "agreement.read"
                )
            ).all()
        )
        assert count == 1
    with transaction(world.factory) as db:
        ag.end_agreement(db, world.actor(db, "steward"), agreement_id)


def test_sql_and_policy_twin_agree(world: World) -> None:
    agreement_id = active_agreement(world)
    with world.factory() as db:
        for label in world.users:
            actor = world.actor(db, label)
            in_sql = set(db.scalars(select(Dataset.slug).where(readable_datasets(actor))))
            for dataset in db.scalars(select(Dataset)):
                assert dataset_visible(actor, dataset) == (dataset.slug in in_sql), (label,)
        tables = {t.slug: t for t in readable_tables(db, world.actor(db, "commune_a"))}
        assert tables[conso(world)].row_filter is not None
        assert tables[conso(world)].columns == ("code_insee", "commune", "volume_m3")
        result = service.run_sql(
            db,
            world.actor(db, "commune_a"),
            world.settings,
            f'SELECT count(*) AS n, sum(volume_m3) AS v FROM "{conso(world)}"',  # noqa: S608
        )
        assert result.rows == [{"n": 2, "v": 200}]
    with transaction(world.factory) as db:
        ag.end_agreement(db, world.actor(db, "steward"), agreement_id)


def test_two_agreements_union_rows_and_intersect_columns(world: World) -> None:
    first = active_agreement(world, columns=["code_insee", "volume_m3", "commune"])
    second = active_agreement(
        world,
        row_filter={"column": "code_insee", "in": [world.commune_b]},
        columns=["code_insee", "volume_m3"],
    )
    got = rows(world, "commune_a")
    assert len(got) == 5
    assert set(got[0]) == {"code_insee", "volume_m3"}
    with transaction(world.factory) as db:
        for agreement_id in (first, second):
            ag.end_agreement(db, world.actor(db, "steward"), agreement_id)


def test_views_show_only_readable_datasets(world: World) -> None:
    agreement_id = active_agreement(world)
    with world.factory() as db:
        found = ag.get_agreement(db, world.actor(db, "commune_a"), agreement_id)
        assert ag.agreement_public(found, world.actor(db, "commune_a")).datasets == [conso(world)]
    with transaction(world.factory) as db:
        ag.end_agreement(db, world.actor(db, "steward"), agreement_id)
    with world.factory() as db:
        found = ag.get_agreement(db, world.actor(db, "commune_a"), agreement_id)
        view = ag.agreement_public(found, world.actor(db, "commune_a"))
        assert view.datasets == []  # expired: the grantee no longer learns the slug
        assert view.status is AgreementStatus.EXPIRED
        assert not view.in_force
