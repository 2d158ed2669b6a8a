"""Catalogue services (organisations, datasets, audit) and input schemas, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.accounts import get_user
from beffroi.catalog import db, services
from beffroi.catalog.models import AuditEvent, Dataset, OrgKind, Role, SlugRedirect
from beffroi.catalog.schemas import (
    DatasetCreate,
    DatasetUpdate,
    OrganizationCreate,
    UserCreate,
    parse,
)
from beffroi.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from tests.factories import (
    actor_for,
    cheap_password_hashing,
    make_dataset,
    make_org,
    make_user,
    new_siren,
    unique,
)


@pytest.fixture(autouse=True)
def _fast_hashing() -> Iterator[None]:
    with cheap_password_hashing():
        yield


def audit_events(session: Session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


# ---------------------------------------------------------------- organisations


def test_create_get_and_list_organizations(session: Session, system: Actor) -> None:
    epci_siren = new_siren()
    epci = services.create_organization(
        session,
        system,
        parse(
            OrganizationCreate,
            {"name": "Agglo d'Essai", "kind": "epci", "siren": epci_siren},
        ),
    )
    assert epci.slug == "agglo-d-essai"  # derived from the name
    commune = make_org(session, kind=OrgKind.COMMUNE, name="Ville-Test", parent=epci)
    service = make_org(session, kind=OrgKind.SERVICE, name="Service Test", parent=epci)
    partner = make_org(session, kind=OrgKind.PARTNER, name="Délégataire")

    fetched = services.get_organization(session, epci.slug)
    assert fetched.id == epci.id
    assert fetched.siren == epci_siren

    listed = services.list_organizations(session)
    assert [o.slug for o in listed] == [
        o.slug for o in sorted([epci, commune, service, partner], key=lambda o: (o.kind, o.name))
    ]
    assert [o.slug for o in services.list_organizations(session, kind="commune")] == [commune.slug]
    children = services.list_organizations(session, parent=epci.slug)
    assert {o.slug for o in children} == {commune.slug, service.slug}

    public = services.organization_public(commune)
    assert public.parent == epci.slug
    assert public.insee_code == commune.insee_code
    assert services.organization_public(epci).parent is None


def test_unknown_organization_is_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError, match="absente"):
        services.get_organization(session, "absente")
    with pytest.raises(NotFoundError):
        services.list_organizations(session, parent="absente")


def test_organization_slug_conflict(session: Session, system: Actor) -> None:
    org = make_org(session)
    before = audit_count(session)
    with pytest.raises(ConflictError, match=org.slug):
        make_org(session, slug=org.slug)
    assert audit_count(session) == before


def test_organization_siren_conflict(session: Session, system: Actor) -> None:
    siren = new_siren()
    make_org(session, kind=OrgKind.EPCI, siren=siren)
    with pytest.raises(ConflictError, match=siren):
        make_org(session, kind=OrgKind.EPCI, siren=siren)


def test_commune_needs_insee_code() -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse(OrganizationCreate, {"name": "Commune sans code", "kind": "commune"})
    assert "insee_code" in raised.value.message
    with pytest.raises(InvalidInputError, match="seule une commune"):
        parse(
            OrganizationCreate, {"name": "Service codé", "kind": "service", "insee_code": "56121"}
        )
    assert (
        parse(
            OrganizationCreate, {"name": "Ajaccio", "kind": "commune", "insee_code": "2A004"}
        ).insee_code
        == "2A004"
    )


def test_only_platform_admins_create_organizations(session: Session) -> None:
    org = make_org(session)
    steward = actor_for(session, make_user(session, memberships={org: Role.ADMIN}))
    data = parse(OrganizationCreate, {"name": "Nouvelle organisation", "kind": "service"})
    with pytest.raises(PermissionDeniedError):
        services.create_organization(session, steward, data)
    with pytest.raises(AuthenticationError):
        services.create_organization(session, Actor.anonymous(), data)
    admin = actor_for(session, make_user(session, is_platform_admin=True))
    assert services.create_organization(session, admin, data).slug == "nouvelle-organisation"


# ---------------------------------------------------------------- datasets: create, list


def test_create_dataset_derives_slug_and_defaults(session: Session, system: Actor) -> None:
    org = make_org(session)
    dataset = services.create_dataset(
        session,
        system,
        parse(DatasetCreate, {"title": "Vélos & bornes  de recharge", "publisher": org.slug}),
    )
    assert dataset.slug == "velos-bornes-de-recharge"
    assert dataset.license == "etalab-2.0"
    assert dataset.access_level == "public"
    assert dataset.publisher_id == org.id
    assert dataset.keywords == dataset.themes == dataset.spatial == []
    assert dataset.created_at.tzinfo is not None
    public = services.dataset_public(dataset)
    assert public.publisher == org.slug


def test_create_dataset_unknown_publisher(session: Session, system: Actor) -> None:
    with pytest.raises(NotFoundError, match="nulle-part"):
        services.create_dataset(
            session, system, parse(DatasetCreate, {"title": "Titre", "publisher": "nulle-part"})
        )


def test_create_dataset_slug_conflict(session: Session) -> None:
    dataset = make_dataset(session)
    with pytest.raises(ConflictError, match=dataset.slug):
        make_dataset(session, slug=dataset.slug)


def test_untitled_slug_refused(session: Session, system: Actor) -> None:
    org = make_org(session)
    with pytest.raises(InvalidInputError, match="identifiant"):
        services.create_dataset(
            session, system, parse(DatasetCreate, {"title": "«—»", "publisher": org.slug})
        )


def test_list_datasets_pages(session: Session, system: Actor) -> None:
    org = make_org(session)
    created = [make_dataset(session, publisher=org) for _ in range(5)]
    pages = [
        services.list_datasets(session, system, page=page, page_size=2) for page in (1, 2, 3, 4)
    ]
    assert [len(p.items) for p in pages] == [2, 2, 1, 0]
    assert {p.total for p in pages} == {5}
    assert [p.has_next for p in pages] == [True, True, False, False]
    listed = [d.slug for p in pages for d in p.items]
    # Newest first: same modification time is broken by id, the later creation first.
    assert listed == [d.slug for d in reversed(created)]


def test_list_datasets_newest_modified_first(session: Session, system: Actor) -> None:
    first = make_dataset(session)
    second = make_dataset(session)
    services.update_dataset(session, system, first.slug, DatasetUpdate(description="revu"))
    assert [d.slug for d in services.list_datasets(session, system).items] == [
        first.slug,
        second.slug,
    ]


@pytest.fixture
def varied(session: Session) -> dict[str, Dataset]:
    """Datasets differing in one filterable field each."""
    epci = make_org(session, kind=OrgKind.EPCI)
    other = make_org(session)
    return {
        "velo": make_dataset(
            session,
            publisher=epci,
            title="Stationnement vélo",
            keywords=["vélo", "100%_bio"],
            themes=["TRAN"],
            spatial=["commune:56121"],
        ),
        "velos": make_dataset(
            session,
            publisher=epci,
            title="Abris",
            description="Abris pour VÉLOS sécurisés",
            keywords=["vélos"],
            themes=["TRAN", "ENER"],
            spatial=["commune:56162"],
        ),
        "energie": make_dataset(
            session,
            publisher=other,
            title="Énergie consommée",
            keywords=["énergie"],
            themes=["ENER"],
            spatial=["epci:200042174"],
            access_level="internal",
        ),
        "budget": make_dataset(
            session,
            publisher=other,
            title="Budget",
            keywords=["100%"],
            themes=["ECON"],
            access_level="organization",
        ),
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"velo", "velos", "energie", "budget"}),
        ({"theme": "TRAN"}, {"velo", "velos"}),
        ({"theme": "ENER"}, {"velos", "energie"}),
        ({"keyword": "vélo"}, {"velo"}),  # exact list item, not a substring of « vélos »
        ({"keyword": "vélos"}, {"velos"}),
        ({"keyword": "100%"}, {"budget"}),  # LIKE wildcards in the value are literal
        ({"keyword": "100%_bio"}, {"velo"}),
        ({"commune": "56121"}, {"velo"}),
        ({"commune": "56162"}, {"velos"}),
        ({"commune": "5612"}, set()),
        ({"q": "vélos"}, {"velos"}),  # description, case-insensitive beyond ASCII
        ({"q": "ÉNERGIE"}, {"energie"}),
        ({"q": "stationnement"}, {"velo"}),
        ({"access_level": "internal"}, {"energie"}),
        ({"access_level": "organization"}, {"budget"}),
        ({"theme": "TRAN", "keyword": "vélos"}, {"velos"}),
        ({"theme": "ECON", "q": "vélo"}, set()),
    ],
    ids=lambda value: (
        ("&".join(f"{k}={v}" for k, v in value.items()) or "no-filter")
        if isinstance(value, dict)
        else "->" + ("+".join(sorted(value)) or "nothing")
    ),
)
def test_list_datasets_filters(
    session: Session,
    system: Actor,
    varied: dict[str, Dataset],
    filters: dict[str, str],
    expected: set[str],
) -> None:
    page = services.list_datasets(session, system, **filters)  # type: ignore[arg-type]
    names = {name for name, d in varied.items() if d.slug in {i.slug for i in page.items}}
    assert names == expected
    assert page.total == len(expected)


def test_list_datasets_publisher_filter(
    session: Session, system: Actor, varied: dict[str, Dataset]
) -> None:
    publisher = varied["energie"].publisher.slug
    page = services.list_datasets(session, system, publisher=publisher)
    assert {d.slug for d in page.items} == {varied["energie"].slug, varied["budget"].slug}
    with pytest.raises(NotFoundError):
        services.list_datasets(session, system, publisher="absente")


def test_list_datasets_respects_access(session: Session, varied: dict[str, Dataset]) -> None:
    page = services.list_datasets(session, Actor.anonymous())
    assert {d.slug for d in page.items} == {varied["velo"].slug, varied["velos"].slug}
    assert page.total == 2


# ---------------------------------------------------------------- update, rename, delete


def test_update_dataset_fields(session: Session, system: Actor) -> None:
    dataset = make_dataset(session, keywords=["a"])
    updated = services.update_dataset(
        session,
        system,
        dataset.slug,
        parse(
            DatasetUpdate,
            {
                "title": "Nouveau titre",
                "keywords": [" b ", "b", "c"],
                "access_level": "internal",
                "temporal_start": "2024-01-01",
            },
        ),
    )
    assert updated.title == "Nouveau titre"
    assert updated.keywords == ["b", "c"]
    assert updated.access_level == "internal"
    assert updated.temporal_start == dt.date(2024, 1, 1)
    assert updated.description == ""  # absent fields are left alone
    session.expire_all()
    stored = session.get(Dataset, dataset.id)
    assert stored is not None
    assert stored.keywords == ["b", "c"]


def test_update_cannot_empty_required_field(session: Session, system: Actor) -> None:
    dataset = make_dataset(session)
    with pytest.raises(InvalidInputError, match="license"):
        services.update_dataset(
            session, system, dataset.slug, parse(DatasetUpdate, {"license": None})
        )


def test_rename_keeps_redirect(session: Session, system: Actor) -> None:
    dataset = make_dataset(session, slug=unique("ancien"))
    old = dataset.slug
    new = unique("nouveau")
    services.update_dataset(session, system, old, DatasetUpdate(slug=new))

    found, redirected = services.resolve_dataset(session, system, old)
    assert (found.id, found.slug, redirected) == (dataset.id, new, True)
    found, redirected = services.resolve_dataset(session, system, new)
    assert (found.id, redirected) == (dataset.id, False)
    assert services.get_dataset(session, system, old).id == dataset.id

    # A second rename keeps both former slugs pointing at the dataset.
    newest = unique("encore")
    services.update_dataset(session, system, old, DatasetUpdate(slug=newest))
    assert services.resolve_dataset(session, system, old) == (dataset, True)
    assert services.resolve_dataset(session, system, new) == (dataset, True)
    assert services.resolve_dataset(session, system, newest) == (dataset, False)


def test_former_slug_never_reused(session: Session, system: Actor) -> None:
    dataset = make_dataset(session)
    old = dataset.slug
    services.update_dataset(session, system, old, DatasetUpdate(slug=unique("renomme")))
    with pytest.raises(ConflictError, match=old):
        make_dataset(session, slug=old)
    other = make_dataset(session)
    with pytest.raises(ConflictError, match=old):
        services.update_dataset(session, system, other.slug, DatasetUpdate(slug=old))
    with pytest.raises(ConflictError, match=dataset.slug):  # a current slug is taken too
        services.update_dataset(session, system, other.slug, DatasetUpdate(slug=dataset.slug))
    assert services.resolve_dataset(session, system, old) == (dataset, True)


def test_redirect_does_not_reveal_invisible_dataset(session: Session, system: Actor) -> None:
    dataset = make_dataset(session, access_level="organization")
    old = dataset.slug
    services.update_dataset(session, system, old, DatasetUpdate(slug=unique("cache")))
    with pytest.raises(NotFoundError):
        services.resolve_dataset(session, Actor.anonymous(), old)


def test_delete_is_soft_and_hides(session: Session, system: Actor) -> None:
    dataset = make_dataset(session)
    slug = dataset.slug
    services.delete_dataset(session, system, slug)
    session.flush()
    session.expire_all()
    stored = session.get(Dataset, dataset.id)
    assert stored is not None
    assert stored.deleted_at is not None
    for actor in (system, Actor.anonymous()):
        with pytest.raises(NotFoundError):
            services.get_dataset(session, actor, slug)
        assert slug not in {d.slug for d in services.list_datasets(session, actor).items}
    with pytest.raises(ConflictError):  # the slug stays reserved
        make_dataset(session, slug=slug)
    with pytest.raises(NotFoundError):  # deleting twice: it is gone
        services.delete_dataset(session, system, slug)


@pytest.mark.parametrize(
    ("role", "may_update", "may_delete"),
    [
        (Role.VIEWER, False, False),
        (Role.EDITOR, True, False),
        (Role.STEWARD, True, True),
        (Role.ADMIN, True, True),
    ],
)
def test_change_permissions_by_role(
    session: Session, role: Role, may_update: bool, may_delete: bool
) -> None:
    org = make_org(session)
    dataset = make_dataset(session, publisher=org)
    actor = actor_for(session, make_user(session, memberships={org: role}))
    outsider = actor_for(session, make_user(session, memberships={make_org(session): Role.ADMIN}))

    def create(who: Actor) -> Dataset:
        data = parse(DatasetCreate, {"title": unique("Créé"), "publisher": org.slug})
        return services.create_dataset(session, who, data)

    with pytest.raises(PermissionDeniedError):  # an admin elsewhere is nobody here
        create(outsider)
    change = DatasetUpdate(description="modifié")
    if may_update:
        assert create(actor).publisher_id == org.id
        assert services.update_dataset(session, actor, dataset.slug, change).description == (
            "modifié"
        )
    else:
        with pytest.raises(PermissionDeniedError):
            create(actor)
        with pytest.raises(PermissionDeniedError):
            services.update_dataset(session, actor, dataset.slug, change)
    if may_delete:
        services.delete_dataset(session, actor, dataset.slug)
    else:
        with pytest.raises(PermissionDeniedError):
            services.delete_dataset(session, actor, dataset.slug)


# ---------------------------------------------------------------- audit


def test_every_change_is_audited(session: Session, system: Actor) -> None:
    org = make_org(session, name="Organisation auditée")
    user = make_user(session, memberships={org: Role.STEWARD})
    [org_event] = audit_events(session, "organization.create")
    assert (org_event.actor, org_event.surface, org_event.object_type) == (
        "system:factory",
        "cli",
        "organization",
    )
    assert org_event.object_id == org.slug
    assert org_event.details == {"name": "Organisation auditée", "kind": "service"}
    assert org_event.at.tzinfo is not None

    # As authenticated by an API token.
    actor = Actor.for_user(get_user(session, user.username), surface="api", token_id=7)
    dataset = services.create_dataset(
        session,
        actor,
        parse(DatasetCreate, {"title": "Jeu audité", "publisher": org.slug, "slug": "audite"}),
    )
    services.update_dataset(
        session, actor, "audite", DatasetUpdate(slug="audite-2", title="Jeu audité bis")
    )
    services.delete_dataset(session, actor, "audite-2")

    events = audit_events(session)[-3:]
    assert [e.action for e in events] == ["dataset.create", "dataset.update", "dataset.delete"]
    for event in events:
        assert event.actor == f"user:{user.username} (token 7)"
        assert event.actor_user_id == user.id
        assert event.surface == "api"
        assert event.object_type == "dataset"
    assert [e.object_id for e in events] == ["audite", "audite-2", "audite-2"]
    assert events[0].details == {"title": "Jeu audité", "access_level": "public"}
    assert events[1].details == {
        "before": {"title": "Jeu audité", "slug": "audite"},
        "after": {"title": "Jeu audité bis"},
    }
    assert dataset.deleted_at is not None


def test_refused_change_writes_no_audit_event(session: Session) -> None:
    dataset = make_dataset(session)
    before = audit_count(session)
    with pytest.raises(AuthenticationError):
        services.delete_dataset(session, Actor.anonymous(), dataset.slug)
    with pytest.raises(ConflictError):
        make_dataset(session, publisher=dataset.publisher, slug=dataset.slug)
    assert audit_count(session) == before


def test_failing_change_is_rolled_back_with_its_audit_event(engine: Engine) -> None:
    """A change that fails half-way leaves nothing: neither the change nor its event."""
    factory = db.session_factory(engine)
    system = Actor.system(name="test")
    with db.transaction(factory) as session:
        make_dataset(session, slug="jeu-a", description="d'origine")
    with factory() as session:
        events_before = audit_count(session)

    # The rename and the description are applied before the empty licence is refused.
    change = parse(DatasetUpdate, {"slug": "jeu-b", "description": "changée", "license": None})
    with pytest.raises(InvalidInputError), db.transaction(factory) as session:
        services.update_dataset(session, system, "jeu-a", change)

    with factory() as session:
        assert audit_count(session) == events_before
        dataset, redirected = services.resolve_dataset(session, system, "jeu-a")
        assert (dataset.slug, dataset.description, redirected) == ("jeu-a", "d'origine", False)
        assert session.get(SlugRedirect, "jeu-a") is None
        with pytest.raises(NotFoundError):
            services.get_dataset(session, system, "jeu-b")

    with db.transaction(factory) as session:  # and « jeu-b » was never reserved
        make_dataset(session, slug="jeu-b")


# ---------------------------------------------------------------- input schemas

BASE_DATASET = {"title": "Un jeu", "publisher": "une-organisation"}


def problems(model: Any, data: dict[str, Any]) -> dict[str | None, str]:
    """Field → message of the InvalidInputError that ``parse`` raises."""
    with pytest.raises(InvalidInputError) as raised:
        parse(model, data)
    errors = raised.value.details["errors"]
    assert errors, "the error lists the bad fields"
    return {e["field"]: e["message"] for e in errors}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"license": "MIT"}, "license", "etalab-2.0"),
        ({"frequency": "FORTNIGHTLY"}, "frequency", "FORTNIGHTLY"),
        ({"themes": ["ENER", "SPORT"]}, "themes.1", "SPORT"),
        ({"spatial_granularity": "fr:quartier"}, "spatial_granularity", "fr:quartier"),
        ({"spatial": ["commune:5612"]}, "spatial", "commune:5612"),
        ({"spatial": ["epci:200042175"]}, "spatial", "epci:200042175"),  # bad Luhn key
        ({"spatial": ["region:53"]}, "spatial", "region:53"),
        ({"contact_email": "pas-un-courriel"}, "contact_email", "email"),
        ({"slug": "Mauvais Slug"}, "slug", "Mauvais Slug"),
        ({"title": "ab"}, "title", "3"),
        ({"access_level": "secret"}, "access_level", "public"),
        ({"inconnu": 1}, "inconnu", "Extra"),
        (
            {"temporal_start": "2025-12-31", "temporal_end": "2025-01-01"},
            None,
            "temporal_start > temporal_end",
        ),
    ],
)
def test_dataset_schema_rejects(changes: dict[str, Any], field: str | None, words: str) -> None:
    found = problems(DatasetCreate, {**BASE_DATASET, **changes})
    assert field in found
    assert words in found[field]


def test_dataset_schema_accepts_valid_values() -> None:
    data = parse(
        DatasetCreate,
        {
            **BASE_DATASET,
            "license": "https://example.org/ma-licence",
            "frequency": "MONTHLY",
            "themes": ["ENER"],
            "spatial_granularity": "fr:commune",
            "spatial": ["commune:2A004", "epci:200042174"],
            "contact_email": "donnees@example.org",
            "temporal_start": "2025-01-01",
            "temporal_end": "2025-01-01",
        },
    )
    assert data.spatial == ["commune:2A004", "epci:200042174"]
    assert data.temporal_end == dt.date(2025, 1, 1)


def test_schema_reports_every_bad_field_at_once() -> None:
    found = problems(
        DatasetCreate, {**BASE_DATASET, "license": "MIT", "frequency": "X", "themes": ["Y"]}
    )
    assert {"license", "frequency", "themes.0"} <= set(found)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"siren": "200042175"}, "siren"),  # Luhn key off by one
        ({"siren": "20004217"}, "siren"),
        ({"siren": "20004217A"}, "siren"),
        ({"kind": "commune", "insee_code": "5612"}, "insee_code"),
        ({"kind": "commune", "insee_code": "2C004"}, "insee_code"),
        ({"kind": "region"}, "kind"),
        ({"website": "ftp://example.org"}, "website"),
    ],
)
def test_organization_schema_rejects(changes: dict[str, Any], field: str) -> None:
    found = problems(OrganizationCreate, {"name": "Une organisation", "kind": "epci", **changes})
    assert field in found


def test_valid_siren_accepted() -> None:
    data = parse(OrganizationCreate, {"name": "Lorient", "kind": "epci", "siren": "200042174"})
    assert data.siren == "200042174"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "pas-un-courriel"}, "email"),
        ({"password": "court"}, "password"),
        ({"username": "Majuscules"}, "username"),
    ],
)
def test_user_schema_rejects(changes: dict[str, Any], field: str) -> None:
    base = {"username": "marie", "email": "marie@example.org", "password": "x" * 12}
    assert field in problems(UserCreate, {**base, **changes})
