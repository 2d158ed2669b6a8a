"""Catalogue services: create, read, update and delete organisations and datasets.

The web and CLI layers call these; they never touch SQLAlchemy themselves. Every change
writes an audit event in the same transaction; every read of datasets goes through
:func:`beffroi.access.readable_datasets`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from beffroi.access import Action, Actor, readable_datasets, require
from beffroi.access.policy import not_found
from beffroi.catalog import audit
from beffroi.catalog.identifiers import slugify
from beffroi.catalog.models import Dataset, Organization, SlugRedirect, utcnow
from beffroi.errors import ConflictError, InvalidInputError

if TYPE_CHECKING:  # the API schemas (pydantic, e-mail checks) load only when used
    from beffroi.catalog.schemas import (
        DatasetCreate,
        DatasetPublic,
        DatasetUpdate,
        OrganizationCreate,
        OrganizationPublic,
    )

# ---------------------------------------------------------------- organisations


def get_organization(session: Session, slug: str) -> Organization:
    """An organisation by slug (organisations are public knowledge)."""
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise not_found("Organisation", slug)
    return org


def list_organizations(
    session: Session, *, kind: str | None = None, parent: str | None = None
) -> list[Organization]:
    """Organisations sorted by kind then name, optionally one kind or one parent's children."""
    query = select(Organization).order_by(Organization.kind, Organization.name)
    if kind:
        query = query.where(Organization.kind == kind)
    if parent:
        query = query.where(Organization.parent_id == get_organization(session, parent).id)
    return list(session.scalars(query))


def create_organization(session: Session, actor: Actor, data: OrganizationCreate) -> Organization:
    """Create an organisation (platform administrators only)."""
    require(actor, Action.ORG_CREATE)
    slug = data.slug or slugify(data.name)
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise ConflictError(
            f"L'identifiant d'organisation « {slug} » est déjà pris",
            hint="choisissez un autre identifiant (--slug)",
        )
    if data.siren and session.scalar(
        select(Organization.slug).where(Organization.siren == data.siren)
    ):
        raise ConflictError(
            f"Une organisation porte déjà le SIREN {data.siren}",
            hint="vérifiez le SIREN ou mettez à jour l'organisation existante",
        )
    parent = get_organization(session, data.parent) if data.parent else None
    org = Organization(
        slug=slug,
        name=data.name,
        kind=data.kind.value,
        siren=data.siren,
        insee_code=data.insee_code,
        parent=parent,
        website=data.website,
        logo_url=data.logo_url,
        description=data.description,
    )
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor,
        "organization.create",
        "organization",
        org.slug,
        {"name": org.name, "kind": org.kind},
    )
    return org


def organization_public(org: Organization) -> OrganizationPublic:
    """The API view of an organisation."""
    from beffroi.catalog.schemas import OrganizationPublic  # noqa: PLC0415

    values = {f: getattr(org, f) for f in OrganizationPublic.model_fields if f != "parent"}
    return OrganizationPublic.model_validate(
        {**values, "parent": org.parent.slug if org.parent else None}
    )


# ---------------------------------------------------------------- datasets


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """One page of a dataset list."""

    items: list[Dataset]
    total: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        """Whether a further page exists."""
        return self.page * self.page_size < self.total


def _slug_taken(session: Session, slug: str) -> bool:
    in_use = session.scalar(select(Dataset.id).where(Dataset.slug == slug))
    redirected = session.get(SlugRedirect, slug)
    return in_use is not None or redirected is not None


def _json_list_has(column: Any, value: str) -> Any:
    """Portable 'JSON list contains this string' (same json.dumps form on SQLite and PG)."""
    needle = json.dumps(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, String).like(f"%{needle}%", escape="\\")


def create_dataset(session: Session, actor: Actor, data: DatasetCreate) -> Dataset:
    """Create a dataset record for an organisation the actor edits for."""
    publisher = get_organization(session, data.publisher)
    require(actor, Action.DATASET_CREATE, publisher.id)
    slug = data.slug or slugify(data.title)
    if not slug:
        raise InvalidInputError(
            f"Impossible de tirer un identifiant du titre « {data.title} »",
            hint="donnez un identifiant explicite (slug)",
        )
    if _slug_taken(session, slug):
        raise ConflictError(
            f"L'identifiant de jeu de données « {slug} » est déjà utilisé ou l'a été",
            hint="les identifiants ne sont jamais réutilisés : choisissez-en un autre",
        )
    fields = data.model_dump(exclude={"publisher", "slug"}, exclude_none=True)
    dataset = Dataset(slug=slug, publisher=publisher, **fields)
    dataset.access_level = data.access_level.value
    session.add(dataset)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent creation won the race for the slug
        raise ConflictError(
            f"L'identifiant de jeu de données « {slug} » vient d'être pris",
            hint="réessayez avec un autre identifiant",
        ) from exc
    audit.record(
        session,
        actor,
        "dataset.create",
        "dataset",
        slug,
        {"title": dataset.title, "access_level": dataset.access_level},
    )
    return dataset


def resolve_dataset(session: Session, actor: Actor, slug: str) -> tuple[Dataset, bool]:
    """A readable dataset by current or former slug; True when ``slug`` was a former one."""
    visible = readable_datasets(actor)
    dataset = session.scalar(select(Dataset).where(Dataset.slug == slug, visible))
    if dataset is not None:
        return dataset, False
    redirect = session.get(SlugRedirect, slug)
    if redirect is not None:
        dataset = session.scalar(select(Dataset).where(Dataset.id == redirect.dataset_id, visible))
        if dataset is not None:
            return dataset, True
    raise not_found("Jeu de données", slug)


def get_dataset(session: Session, actor: Actor, slug: str) -> Dataset:
    """A readable dataset by its current or a former slug."""
    return resolve_dataset(session, actor, slug)[0]


def list_datasets(
    session: Session,
    actor: Actor,
    *,
    page: int = 1,
    page_size: int = 20,
    publisher: str | None = None,
    access_level: str | None = None,
    theme: str | None = None,
    keyword: str | None = None,
    commune: str | None = None,
    q: str | None = None,
) -> DatasetPage:
    """Readable datasets, newest first, filtered and paged."""
    conditions: list[Any] = [readable_datasets(actor)]
    if publisher:
        conditions.append(Dataset.publisher_id == get_organization(session, publisher).id)
    if access_level:
        conditions.append(Dataset.access_level == access_level)
    if theme:
        conditions.append(_json_list_has(Dataset.themes, theme))
    if keyword:
        conditions.append(_json_list_has(Dataset.keywords, keyword))
    if commune:
        conditions.append(_json_list_has(Dataset.spatial, f"commune:{commune}"))
    if q:
        pattern = f"%{q.lower()}%"
        conditions.append(
            or_(
                func.lower(Dataset.title).like(pattern),
                func.lower(Dataset.description).like(pattern),
            )
        )
    total = session.scalar(select(func.count()).select_from(Dataset).where(*conditions)) or 0
    query = (
        select(Dataset)
        .where(*conditions)
        .order_by(Dataset.modified_at.desc(), Dataset.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return DatasetPage(list(session.scalars(query)), total, page, page_size)


def update_dataset(session: Session, actor: Actor, slug: str, data: DatasetUpdate) -> Dataset:
    """Change a dataset's metadata; a new slug leaves a redirect from the old one."""
    dataset = get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    changes = data.model_dump(exclude_unset=True)
    before = {key: _jsonable(getattr(dataset, key)) for key in changes if key != "slug"}
    new_slug = changes.pop("slug", None)
    if new_slug and new_slug != dataset.slug:
        if _slug_taken(session, new_slug):
            raise ConflictError(
                f"L'identifiant « {new_slug} » est déjà utilisé ou l'a été",
                hint="les identifiants ne sont jamais réutilisés : choisissez-en un autre",
            )
        session.add(SlugRedirect(old_slug=dataset.slug, dataset_id=dataset.id))
        before["slug"] = dataset.slug
        dataset.slug = new_slug
    for key, value in changes.items():
        if value is None and key in {"title", "license", "access_level", "description"}:
            raise InvalidInputError(
                f"Le champ {key} ne peut pas être vidé", hint=f"donnez une valeur à {key}"
            )
        setattr(dataset, key, value.value if key == "access_level" else value)
    dataset.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "dataset.update",
        "dataset",
        dataset.slug,
        {"before": before, "after": {k: _jsonable(v) for k, v in changes.items()}},
    )
    return dataset


def delete_dataset(session: Session, actor: Actor, slug: str) -> None:
    """Withdraw a dataset; its slug stays reserved forever."""
    dataset = get_dataset(session, actor, slug)
    require(actor, Action.DATASET_DELETE, dataset.publisher_id)
    dataset.deleted_at = utcnow()
    audit.record(session, actor, "dataset.delete", "dataset", dataset.slug, {})


def dataset_public(dataset: Dataset) -> DatasetPublic:
    """The API view of a dataset."""
    from beffroi.catalog.schemas import DatasetPublic  # noqa: PLC0415

    values = {c: getattr(dataset, c) for c in DatasetPublic.model_fields if c != "publisher"}
    return DatasetPublic.model_validate({**values, "publisher": dataset.publisher.slug})


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


@dataclass(frozen=True, slots=True)
class Place:
    """One item of a dataset's spatial coverage, named for display."""

    code: str
    label: str
    organization_slug: str | None


def describe_spatial(session: Session, codes: list[str]) -> list[Place]:
    """Names (from the shipped reference) and organisation pages of spatial coverage codes."""
    from beffroi import reference  # noqa: PLC0415 - loads the commune table on first use

    insee = [c.partition(":")[2] for c in codes if c.startswith("commune:")]
    sirens = [c.partition(":")[2] for c in codes if c.startswith("epci:")]
    slugs: dict[str | None, str] = {}
    if insee or sirens:
        query = select(Organization.insee_code, Organization.siren, Organization.slug).where(
            or_(Organization.insee_code.in_(insee), Organization.siren.in_(sirens))
        )
        for code, siren, slug in session.execute(query):
            slugs[code if code in insee else siren] = slug
    places = []
    for item in codes:
        kind, _, code = item.partition(":")
        if kind == "commune":
            commune = reference.communes().get(code)
            label = f"{commune.name} ({code})" if commune else code
        else:
            epci = reference.epcis().get(code)
            label = epci.name if epci else code
        places.append(Place(item, label, slugs.get(code)))
    return places


# ---------------------------------------------------------------- territory


@dataclass(frozen=True, slots=True)
class Territory:
    """What the home page shows: the EPCI, its communes, other organisations, datasets."""

    epci: Organization | None
    communes: list[Organization]
    others: list[Organization]
    latest: DatasetPage
    dataset_counts: dict[int, int]


def territory_overview(session: Session, actor: Actor, latest: int = 10) -> Territory:
    """The platform's territory as the actor may see it."""
    epci = session.scalar(
        select(Organization)
        .where(Organization.kind == "epci", Organization.parent_id.is_(None))
        .order_by(Organization.id)
        .limit(1)
    )
    orgs = list_organizations(session)
    communes = sorted((o for o in orgs if o.kind == "commune"), key=lambda o: slugify(o.name))
    others = [o for o in orgs if o.kind not in {"commune", "epci"}]
    counts_query = (
        select(Dataset.publisher_id, func.count())
        .where(readable_datasets(actor))
        .group_by(Dataset.publisher_id)
    )
    counts: dict[int, int] = dict(session.execute(counts_query).all())
    return Territory(
        epci, communes, others, list_datasets(session, actor, page_size=latest), counts
    )
