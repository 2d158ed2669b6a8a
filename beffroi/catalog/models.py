"""SQLAlchemy models of the catalogue (organisations, people, datasets, audit).

Dataset fields map 1:1 to DCAT-AP 3 properties; the mapping is documented in
``docs/reference/dcat-mapping.md``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:  # noqa: ARG002
        if value is not None and value.tzinfo is None:
            msg = "naive datetime given to a UTC column"
            raise ValueError(msg)
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:  # noqa: ARG002
        if value is None:
            return None
        assert isinstance(value, dt.datetime)  # noqa: S101 - driver contract
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (same migrations on SQLite and PG)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class OrgKind(enum.StrEnum):
    """Kinds of organisation."""

    EPCI = "epci"
    COMMUNE = "commune"
    SERVICE = "service"
    PARTNER = "partner"
    OTHER = "other"


class Role(enum.StrEnum):
    """Roles a member holds in an organisation, strongest first."""

    ADMIN = "admin"
    STEWARD = "steward"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is stronger."""
        return {"admin": 4, "steward": 3, "editor": 2, "viewer": 1}[self.value]


class AccessLevel(enum.StrEnum):
    """Who may read a dataset."""

    PUBLIC = "public"
    REGISTERED = "registered"
    INTERNAL = "internal"
    ORGANIZATION = "organization"
    RESTRICTED = "restricted"


class Organization(Base):
    """The EPCI, a member commune, a service, a partner."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    siren: Mapped[str | None] = mapped_column(String(9), unique=True)
    insee_code: Mapped[str | None] = mapped_column(String(5), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    website: Mapped[str | None] = mapped_column(String(500))
    logo_url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    parent: Mapped[Organization | None] = relationship(remote_side=[id])


class User(Base):
    """A person who signs in (password hashed with argon2)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A user's role in an organisation."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship()


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 digest is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser session; the cookie carries a random id, stored here hashed."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class Dataset(Base):
    """Catalogue record of a dataset (DCAT-AP 3 ``dcat:Dataset``)."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(default=list)
    themes: Mapped[list[str]] = mapped_column(default=list)
    license: Mapped[str] = mapped_column(String(300))
    publisher_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    frequency: Mapped[str | None] = mapped_column(String(40))
    spatial: Mapped[list[str]] = mapped_column(default=list)
    spatial_granularity: Mapped[str | None] = mapped_column(String(40))
    temporal_start: Mapped[dt.date | None] = mapped_column(Date)
    temporal_end: Mapped[dt.date | None] = mapped_column(Date)
    access_level: Mapped[str] = mapped_column(String(20), index=True)
    schema_ref: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="SET NULL", use_alter=True), index=True
    )
    hvd_category: Mapped[str | None] = mapped_column(String(40))  # EU HVD code (c_…)
    applicable_legislation: Mapped[list[str] | None] = mapped_column(JSON)  # ELI URIs

    publisher: Mapped[Organization] = relationship()
    published_version: Mapped[DatasetVersion | None] = relationship(
        foreign_keys=[published_version_id], post_update=True
    )

    @property
    def store_key(self) -> str:
        """Key of the dataset's table in the version store (stable across renames)."""
        return f"ds-{self.id}"


class DatasetVersion(Base):
    """One upload of a dataset's data: an immutable version of its table in the store.

    A version is invisible until the dataset's ``published_version_id`` points at it.
    """

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… per dataset
    upload_id: Mapped[str] = mapped_column(String(36), unique=True)
    store_version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))
    row_count: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    profile: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dialect: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_name: Mapped[str] = mapped_column(String(300))
    source_bytes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    dataset: Mapped[Dataset] = relationship(foreign_keys=[dataset_id])


class SlugRedirect(Base):
    """An old slug of a renamed dataset; slugs are never reused."""

    __tablename__ = "slug_redirect"

    old_slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """One change (or sensitive read), kept forever."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100))
    surface: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Job(Base):
    """A background task (an upload's ingestion…), with its progress and outcome."""

    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued/running/succeeded/failed
    created_by: Mapped[str] = mapped_column(String(200))
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# ---------------------------------------------------------------- access governance (issue 6)


class AgreementStatus(enum.StrEnum):
    """Life cycle of a sharing agreement (``expired`` is also reached by its end date)."""

    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


agreement_grantee = Table(
    "agreement_grantee",
    Base.metadata,
    Column(
        "agreement_id",
        ForeignKey("sharing_agreement.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "organization_id",
        ForeignKey("organization.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

agreement_dataset = Table(
    "agreement_dataset",
    Base.metadata,
    Column(
        "agreement_id",
        ForeignKey("sharing_agreement.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "dataset_id",
        ForeignKey("dataset.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class SharingAgreement(Base):
    """A sharing agreement: the owner opens some of its datasets to grantee organisations,
    for a purpose and a legal basis, between two dates, with a row filter and a column
    subset (``None``: every row / every column)."""

    __tablename__ = "sharing_agreement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(300))
    row_filter: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    columns: Mapped[list[str] | None] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), index=True)
    approver_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[Organization] = relationship()
    approver: Mapped[User | None] = relationship()
    grantees: Mapped[list[Organization]] = relationship(
        secondary=agreement_grantee, order_by=Organization.slug
    )
    datasets: Mapped[list[Dataset]] = relationship(
        secondary=agreement_dataset, order_by=Dataset.slug
    )


class OrganizationSetting(Base):
    """Governance settings of an organisation, set by platform administrators."""

    __tablename__ = "organization_setting"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    review_required: Mapped[bool] = mapped_column(Boolean, default=False)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublicationReview(Base):
    """A request to publish a version, and the steward's decision (kept as history)."""

    __tablename__ = "publication_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending/approved/rejected
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")

    dataset: Mapped[Dataset] = relationship()
    version: Mapped[DatasetVersion] = relationship()


class DatasetPrivacy(Base):
    """Statistical secrecy of a dataset: the minimum size of a publicly served group."""

    __tablename__ = "dataset_privacy"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True
    )
    min_cell_size: Mapped[int | None] = mapped_column(Integer)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ColumnFlag(Base):
    """A column of a dataset detected or declared as personal data (RGPD).

    ``suggested`` flags (from detection) already hide the column from actors outside the
    owner until the référent confirms or clears them.
    """

    __tablename__ = "column_flag"
    __table_args__ = (UniqueConstraint("dataset_id", "column_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    column_name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(40))  # person_name, email, phone, nir, …
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # suggested/confirmed/cleared
    detected_in_version: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---------------------------------------------------------------- indicators (issue 9)


class Indicator(Base):
    """An indicator: a definition over datasets and ``ref.*``, with unit, breakdown,
    normalisation, target and thresholds, owner organisation, theme and access level.

    ``definition`` is ``{"kind": "sql", "sql": …}`` or ``{"kind": "declarative", "dataset":
    …, "measure": …, "aggregate": …, "filters": […], "commune": …, "date": …}``
    (validated by :mod:`beffroi.indicators.definitions`).
    """

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(60))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    period: Mapped[str] = mapped_column(String(10))  # none/month/quarter/year
    breakdown: Mapped[str] = mapped_column(String(10))  # commune/epci
    normalisation: Mapped[str] = mapped_column(String(20))  # none/per_inhabitant/per_1000
    cumulative: Mapped[bool] = mapped_column(Boolean, default=False)
    target: Mapped[float | None] = mapped_column(Float)
    alert_threshold: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(10))  # higher/lower (is better)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    theme: Mapped[str] = mapped_column(String(40), index=True)
    access_level: Mapped[str] = mapped_column(String(20), index=True)
    sources: Mapped[list[str]] = mapped_column(default=list)  # dataset slugs read
    stale_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[Organization] = relationship()


class IndicatorComputation(Base):
    """One computation of an indicator: its lineage (source versions, SQL and its hash)."""

    __tablename__ = "indicator_computation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # succeeded/failed
    trigger: Mapped[str] = mapped_column(String(200))
    sql: Mapped[str] = mapped_column(Text, default="")
    sql_hash: Mapped[str] = mapped_column(String(64), default="")
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    min_cell_size: Mapped[int | None] = mapped_column(Integer)
    value_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any]] = mapped_column(default=dict)
    computed_by: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class IndicatorValue(Base):
    """A computed value for one commune (``None``: the whole EPCI) and one period."""

    __tablename__ = "indicator_value"
    __table_args__ = (Index("ix_indicator_value_lookup", "indicator_id", "computation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    computation_id: Mapped[int] = mapped_column(
        ForeignKey("indicator_computation.id", ondelete="CASCADE"), index=True
    )
    commune: Mapped[str | None] = mapped_column(String(5))
    period: Mapped[str] = mapped_column(String(10))  # '' / 2025 / 2025-Q1 / 2025-03
    value: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[float | None] = mapped_column(Float)
    population: Mapped[int | None] = mapped_column(Integer)
    cell_count: Mapped[int | None] = mapped_column(Integer)


class IndicatorAlert(Base):
    """An in-app notification: a value crossed the alert threshold of its indicator."""

    __tablename__ = "indicator_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), index=True
    )
    computation_id: Mapped[int] = mapped_column(
        ForeignKey("indicator_computation.id", ondelete="CASCADE")
    )
    commune: Mapped[str | None] = mapped_column(String(5))
    period: Mapped[str] = mapped_column(String(10))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    previous: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class IndicatorSourceAlert(Base):
    """An in-app notification: a source of an indicator is late against its declared update
    frequency (one per indicator, source and publication)."""

    __tablename__ = "indicator_source_alert"
    __table_args__ = (UniqueConstraint("indicator_id", "dataset", "published_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(100))  # the source's slug
    frequency: Mapped[str | None] = mapped_column(String(40))
    published_at: Mapped[str] = mapped_column(String(40))  # its last publication, ISO 8601
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DatasetConformance(Base):
    """The Table Schema a dataset's uploads must follow, and what an invalid upload does:
    ``block`` (refused) or ``flag`` (kept, shown « non conforme »)."""

    __tablename__ = "dataset_conformance"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True
    )
    schema_ref: Mapped[str] = mapped_column(String(500))  # registry name@version, URL
    descriptor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as bound
    on_invalid: Mapped[str] = mapped_column(String(10), default="flag")  # block / flag
    modified_by: Mapped[str] = mapped_column(String(200))
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VersionConformance(Base):
    """The validation of one version against its schema: verdict, counts, first errors."""

    __tablename__ = "version_conformance"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE"), primary_key=True
    )
    schema_ref: Mapped[str] = mapped_column(String(500))
    schema_version: Mapped[str | None] = mapped_column(String(50))
    valid: Mapped[bool] = mapped_column(Boolean)
    rows: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # first errors
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OidcIdentity(Base):
    """An account of an OpenID Connect provider (issuer, subject) linked to a user."""

    __tablename__ = "oidc_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))  # as the provider last sent it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


# ---------------------------------------------------------------- harvesting in (issue 7)


class HarvestSource(Base):
    """A remote source harvested on a schedule: a DCAT catalogue, a CKAN API (datasets into
    ``organization``), or one remote file feeding one dataset (kind ``file``)."""

    __tablename__ = "harvest_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # dcat / ckan / file
    url: Mapped[str] = mapped_column(String(2000))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )  # kind file: the dataset fed
    interval_s: Mapped[int | None] = mapped_column(Integer)  # None: run by hand only
    auto_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new")  # new/running/ok/failed
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization] = relationship()
    dataset: Mapped[Dataset | None] = relationship()


class HarvestRun(Base):
    """One run of a harvest source: counts and errors."""

    __tablename__ = "harvest_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_source.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # running/succeeded/failed
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class HarvestRecord(Base):
    """A remote dataset as last harvested: its stable identifier, the local dataset, and
    what tells a change (metadata digest; data ETag, Last-Modified and content digest)."""

    __tablename__ = "harvest_record"
    __table_args__ = (UniqueConstraint("source_id", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("harvest_source.id", ondelete="CASCADE"), index=True
    )
    remote_id: Mapped[str] = mapped_column(String(500))
    remote_uri: Mapped[str | None] = mapped_column(String(2000))
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), unique=True
    )
    metadata_digest: Mapped[str | None] = mapped_column(String(64))
    data_url: Mapped[str | None] = mapped_column(String(2000))
    data_etag: Mapped[str | None] = mapped_column(String(300))
    data_last_modified: Mapped[str | None] = mapped_column(String(100))
    data_digest: Mapped[str | None] = mapped_column(String(64))
    harvested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ------------------------------------------------ metadata-change reviews (issue 6 §4)


class MetadataReview(Base):
    """A proposed change of a dataset's metadata, waiting for (or decided by) a steward.

    ``changes`` holds the proposed values of the changed fields only and ``before`` their
    values when proposed; both stay once decided (history).
    """

    __tablename__ = "metadata_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending/approved/rejected
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")

    dataset: Mapped[Dataset] = relationship()


# ---------------------------------------------------------------- crossings (issue 5 §5)


class CrossingView(Base):
    """A derived dataset (« croisement »): SQL or a declarative join over source datasets
    and ``ref.*``, materialised as versions of its target dataset.

    ``definition`` is ``{"kind": "sql", "sql": …}`` or ``{"kind": "join", …}`` (validated
    by :mod:`beffroi.crossings.definitions`); ``sql`` is the query actually run (the
    compiled join, shown by the API). ``published_aggregate`` records a steward of the owner
    opening the view wider than its most restrictive source (who and when).
    """

    __tablename__ = "crossing_view"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # sql / join
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sql: Mapped[str] = mapped_column(Text, default="")
    creator_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_by: Mapped[str] = mapped_column(String(200))
    published_aggregate: Mapped[bool] = mapped_column(Boolean, default=False)
    aggregate_by: Mapped[str | None] = mapped_column(String(200))
    aggregate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    stale_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dataset: Mapped[Dataset] = relationship()


class CrossingSource(Base):
    """A source dataset a view reads (the dependency graph of the views)."""

    __tablename__ = "crossing_source"

    view_id: Mapped[int] = mapped_column(
        ForeignKey("crossing_view.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class VersionLineage(Base):
    """Which source version produced a view's version (one row per source)."""

    __tablename__ = "version_lineage"
    __table_args__ = (UniqueConstraint("version_id", "source_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE"), index=True
    )
    source_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE"), index=True
    )


# -------------------------------------------------------- authentication hardening (issue 6)


class TokenScope(enum.StrEnum):
    """What an API token may do: ``read`` only, or ``write`` (which implies read)."""

    READ = "read"
    WRITE = "write"


class ApiTokenScope(Base):
    """The scope of an API token and the datasets it is limited to (by id, stable across
    renames; ``None``: every dataset its user may read). A token without this row (made
    before scopes existed) is a ``write`` token for every dataset."""

    __tablename__ = "api_token_scope"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(10))
    dataset_ids: Mapped[list[int] | None] = mapped_column(JSON)


class LoginThrottle(Base):
    """Failed sign-ins counted per account name (``user:<name>``, known or not) and per
    client address (``ip:<address>``), and the lock they led to."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LicenceAcceptance(Base):
    """A user accepted the licence of a ``registered`` dataset (who, when, which licence)."""

    __tablename__ = "licence_acceptance"
    __table_args__ = (UniqueConstraint("user_id", "dataset_id", "licence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    licence: Mapped[str] = mapped_column(String(300))
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    surface: Mapped[str] = mapped_column(String(20))


# -------------------------------------------------------- usage counters (issue 8)


class DatasetUsage(Base):
    """How much a dataset was used on one day (UTC): page views, downloads (exports) and
    records API calls. Counts only: no address, no user (:mod:`beffroi.catalog.usage`)."""

    __tablename__ = "dataset_usage"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    api_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AccessEpoch(Base):
    """One row, bumped by database triggers (migration 0012) on every write to a table an
    access decision reads: the access layer's cache is keyed by it (``value``, a counter;
    ``salt``, drawn again at each bump so that a rolled-back bump is never seen again)."""

    __tablename__ = "access_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    salt: Mapped[int] = mapped_column(Integer)
