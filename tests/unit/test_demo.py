"""The demo intercommunality: the real CA Lorient Agglomération, loaded idempotently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access import Actor
from beffroi.access.accounts import authenticate, get_user
from beffroi.catalog import services
from beffroi.catalog.demo import DEMO_EPCI_SIREN, EPCI_SLUG, SERVICES, DemoReport, load_demo
from beffroi.catalog.models import (
    AuditEvent,
    Dataset,
    Membership,
    Organization,
    OrgKind,
    Role,
    User,
)
from beffroi.errors import NotFoundError
from tests.factories import cheap_password_hashing

TABLES = (Organization, User, Membership, Dataset, AuditEvent)


@pytest.fixture
def demo(session: Session, system: Actor) -> Iterator[DemoReport]:
    with cheap_password_hashing():
        yield load_demo(session, system)


def counts(session: Session) -> dict[str, int]:
    session.flush()
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in TABLES
    }


def orgs(session: Session, kind: OrgKind) -> list[Organization]:
    return list(session.scalars(select(Organization).where(Organization.kind == kind.value)))


def test_epci_is_the_real_one(session: Session, demo: DemoReport) -> None:
    epci_ref = reference.epci(DEMO_EPCI_SIREN)
    assert DEMO_EPCI_SIREN == "200042174"
    assert epci_ref.nature == "CA"
    assert "Lorient" in epci_ref.name
    [epci] = orgs(session, OrgKind.EPCI)
    assert (epci.slug, epci.siren, epci.name, epci.parent_id) == (
        EPCI_SLUG,
        DEMO_EPCI_SIREN,
        epci_ref.name,
        None,
    )
    assert demo.epci == epci_ref.name


def test_member_communes_match_the_reference(session: Session, demo: DemoReport) -> None:
    members = reference.epci_members(DEMO_EPCI_SIREN)
    assert len(members) == 25 == reference.epci(DEMO_EPCI_SIREN).member_count
    communes = orgs(session, OrgKind.COMMUNE)
    epci = services.get_organization(session, EPCI_SLUG)
    assert {(o.insee_code, o.siren, o.name) for o in communes} == {
        (c.code_insee, c.siren, c.name) for c in members
    }
    assert all(o.parent_id == epci.id for o in communes)
    assert all(c.siren and c.departement == "56" for c in members)  # Morbihan
    assert demo.communes == 25


def test_services_partner_and_users(session: Session, demo: DemoReport) -> None:
    epci = services.get_organization(session, EPCI_SLUG)
    service_orgs = orgs(session, OrgKind.SERVICE)
    assert {o.slug for o in service_orgs} == {slug for slug, _ in SERVICES}
    assert all(o.parent_id == epci.id for o in service_orgs)
    [partner] = orgs(session, OrgKind.PARTNER)
    assert partner.parent_id is None

    users = {u.username: u for u in (get_user(session, name) for name in demo.created_users)}
    assert len(users) == len(demo.created_users) == counts(session)["User"]
    roles = {Role(m.role) for u in users.values() for m in u.memberships}
    assert roles == set(Role), "one user per role"
    assert [u.username for u in users.values() if u.is_platform_admin] == ["admin"]
    assert any(m.organization_id == partner.id for u in users.values() for m in u.memberships)
    with cheap_password_hashing():
        for username, password in demo.created_users.items():
            assert authenticate(session, username, password).username == username


def test_datasets(session: Session, system: Actor, demo: DemoReport) -> None:
    assert len(demo.created_datasets) >= 3
    member_codes = {f"commune:{c.code_insee}" for c in reference.epci_members(DEMO_EPCI_SIREN)}
    levels = set()
    for slug in demo.created_datasets:
        dataset = services.get_dataset(session, system, slug)
        levels.add(dataset.access_level)
        assert dataset.description
        assert dataset.themes
        communes = {code for code in dataset.spatial if code.startswith("commune:")}
        assert communes <= member_codes
    assert {"public", "internal", "organization"} <= levels
    assert counts(session)["Dataset"] == len(demo.created_datasets)


def test_demo_access_levels(session: Session, demo: DemoReport) -> None:
    """The demo illustrates the policy: the partner's data stays with the partner."""

    def visible(username: str | None) -> set[str]:
        actor = (
            Actor.anonymous()
            if username is None
            else Actor.for_user(get_user(session, username), surface="web")
        )
        return {d.slug for d in services.list_datasets(session, actor, page_size=100).items}

    everything = visible("admin")
    assert everything == set(demo.created_datasets)
    partner_only = "consommation-eau-potable-par-commune"
    internal = "budget-primitif-agglomeration"
    assert partner_only in visible("partenaire-eau")
    assert internal not in visible("partenaire-eau")
    assert internal in visible("lecteur-eau")
    assert partner_only not in visible("lecteur-eau")
    assert visible(None) == everything - {partner_only, internal}
    with pytest.raises(NotFoundError):
        services.get_dataset(session, Actor.anonymous(), internal)


def test_second_run_creates_nothing(session: Session, system: Actor, demo: DemoReport) -> None:
    before = counts(session)
    assert before["Organization"] == len(demo.created_organizations) == 1 + 25 + len(SERVICES) + 1
    with cheap_password_hashing():
        again = load_demo(session, system)
    assert again.created_organizations == []
    assert again.created_users == {}
    assert again.created_datasets == []
    assert (again.epci, again.communes) == (demo.epci, demo.communes)
    assert counts(session) == before
