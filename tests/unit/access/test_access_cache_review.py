"""Security review of the access epoch and the decision cache, on SQLite and PostgreSQL.

* every catalogue table is either watched by migration 0012's triggers or reviewed as
  deciding nothing (a new table must be classified here);
* Core statements, ORM bulk updates/deletes, raw SQL, cascades and (PostgreSQL) TRUNCATE
  all bump the epoch — triggers see them where ORM hooks would not;
* the cache stays bounded and consistent under threads; actors that differ in anything a
  decision reads never share a key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.actors import ActorKind
from beffroi.access.cache import (
    EPOCH_TABLES,
    UNCACHED,
    DecisionCache,
    Entry,
    actor_key,
    read_epoch,
)
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.models import (
    ApiToken,
    ApiTokenScope,
    Base,
    ColumnFlag,
    Dataset,
    DatasetVersion,
    LicenceAcceptance,
    Membership,
    Organization,
    Role,
    SharingAgreement,
    User,
    agreement_dataset,
    agreement_grantee,
)
from tests.factories import cheap_password_hashing, make_dataset, make_org, make_user

# Catalogue tables no access decision reads, and why (reviewed 2026-12-02). The actor is
# resolved afresh at every request (tokens, sessions, lockouts), so its tables need no bump.
DECIDES_NOTHING: dict[str, str] = {
    "access_epoch": "the epoch itself",
    "alembic_version": "migrations",
    "audit_event": "append-only log, read by nobody's decision",
    "web_session": "actor resolution, done afresh at each request",
    "login_throttle": "sign-in lockout, before any actor exists",
    "oidc_identity": "sign-in mapping, before any actor exists",
    "slug_redirect": "308 of renamed routes; the dataset row itself is watched",
    "job": "background jobs",
    "organization_setting": "review-required flag: only gates publishing (dataset watched)",
    "publication_review": "publishing workflow (dataset.published_version_id watched)",
    "metadata_review": "metadata proposals",
    "indicator": "indicators computed from readable tables",
    "indicator_computation": "indicator history",
    "indicator_value": "indicator values",
    "indicator_alert": "alerts",
    "indicator_source_alert": "alerts",
    "dataset_conformance": "schema conformance",
    "version_conformance": "schema conformance",
    "harvest_source": "harvesting configuration",
    "harvest_run": "harvest runs",
    "harvest_record": "harvested records",
    "crossing_view": "a view materialises into a dataset/version (watched)",
    "crossing_source": "a view's sources (read with its creator's rights at build time)",
    "version_lineage": "provenance",
    "dataset_usage": "usage counters",
}


def test_review_every_catalogue_table_is_watched_or_reviewed() -> None:
    tables = set(Base.metadata.tables) | {"alembic_version"}
    unwatched = tables - set(EPOCH_TABLES)
    assert unwatched == set(DECIDES_NOTHING), (
        "classify the new table: add it to EPOCH_TABLES and migration triggers, or to "
        "DECIDES_NOTHING with the reason"
    )
    # The columns a partial watch names exist (a typo would silently watch nothing).
    for table, columns in EPOCH_TABLES.items():
        assert table in Base.metadata.tables
        for column in columns or ():
            assert column in Base.metadata.tables[table].c, (table, column)


@dataclasses.dataclass
class Rows:
    org_id: int
    other_org_id: int
    user_id: int
    dataset_id: int


def _rows(engine: Engine) -> Rows:
    factory = session_factory(engine)
    with cheap_password_hashing(), transaction(factory) as session:
        org = make_org(session)
        other = make_org(session)
        user = make_user(session, memberships={org: Role.VIEWER})
        dataset = make_dataset(session, publisher=org)
        return Rows(org.id, other.id, user.id, dataset.id)


def _epoch(engine: Engine) -> tuple[int, int]:
    with session_factory(engine)() as session:
        return read_epoch(session)


NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _writes(r: Rows) -> list[tuple[str, Callable[[Session], object]]]:
    """(label, write) — each must move the epoch. Core, ORM bulk and raw SQL."""
    agreement = SharingAgreement.__table__

    def new_agreement(s: Session) -> object:
        return s.execute(
            insert(agreement).values(
                id=9001,
                owner_id=r.org_id,
                title="t",
                purpose="p",
                legal_basis="l",
                starts_at=NOW,
                ends_at=NOW + dt.timedelta(days=30),
                status="active",
                created_by="revue",
                created_at=NOW,
                modified_at=NOW,
            )
        )

    return [
        ("core insert sharing_agreement", new_agreement),
        (
            "core insert agreement_grantee",
            lambda s: s.execute(
                insert(agreement_grantee).values(agreement_id=9001, organization_id=r.other_org_id)
            ),
        ),
        (
            "core insert agreement_dataset",
            lambda s: s.execute(
                insert(agreement_dataset).values(agreement_id=9001, dataset_id=r.dataset_id)
            ),
        ),
        (
            "orm bulk update sharing_agreement ends_at",
            lambda s: s.execute(
                update(SharingAgreement)
                .where(SharingAgreement.id == 9001)
                .values(ends_at=NOW + dt.timedelta(days=1))
            ),
        ),
        (
            "raw update sharing_agreement row_filter",
            lambda s: s.execute(
                text(
                    "UPDATE sharing_agreement SET row_filter = NULL, columns = NULL WHERE id = 9001"
                )
            ),
        ),
        (
            "orm bulk delete agreement_grantee",
            lambda s: s.execute(
                delete(agreement_grantee).where(agreement_grantee.c.agreement_id == 9001)
            ),
        ),
        (
            "delete sharing_agreement (cascades agreement_dataset)",
            lambda s: s.execute(text("DELETE FROM sharing_agreement WHERE id = 9001")),
        ),
        (
            "orm bulk update dataset access_level",
            lambda s: s.execute(
                update(Dataset).where(Dataset.id == r.dataset_id).values(access_level="internal")
            ),
        ),
        (
            "raw update dataset published pointer",
            lambda s: s.execute(
                text("UPDATE dataset SET published_version_id = NULL WHERE id = :i"),
                {"i": r.dataset_id},
            ),
        ),
        (
            "raw rename dataset",
            lambda s: s.execute(
                text("UPDATE dataset SET slug = slug || '-x' WHERE id = :i"), {"i": r.dataset_id}
            ),
        ),
        (
            "core insert dataset_version",
            lambda s: s.execute(
                insert(DatasetVersion.__table__).values(
                    dataset_id=r.dataset_id,
                    number=1,
                    upload_id="00000000-0000-0000-0000-000000009001",
                    store_version=1,
                    mode="replace",
                    row_count=0,
                    columns=[],
                    profile=[],
                    dialect={},
                    source_name="x.csv",
                    source_bytes=0,
                    created_by="revue",
                    created_at=NOW,
                )
            ),
        ),
        (
            "orm bulk update dataset_version published_at",
            lambda s: s.execute(
                update(DatasetVersion)
                .where(DatasetVersion.dataset_id == r.dataset_id)
                .values(published_at=NOW)
            ),
        ),
        (
            "core insert column_flag",
            lambda s: s.execute(
                insert(ColumnFlag.__table__).values(
                    dataset_id=r.dataset_id,
                    column_name="nom",
                    category="person_name",
                    confidence=0.5,
                    status="suggested",
                    created_at=NOW,
                )
            ),
        ),
        (
            "orm bulk update column_flag confidence",
            lambda s: s.execute(
                update(ColumnFlag)
                .where(ColumnFlag.dataset_id == r.dataset_id)
                .values(confidence=0.99)
            ),
        ),
        (
            "raw insert dataset_privacy",
            lambda s: s.execute(
                text(
                    "INSERT INTO dataset_privacy (dataset_id, min_cell_size, modified_at) "
                    "VALUES (:i, 5, CURRENT_TIMESTAMP)"
                ),
                {"i": r.dataset_id},
            ),
        ),
        (
            "raw update dataset_privacy",
            lambda s: s.execute(text("UPDATE dataset_privacy SET min_cell_size = 11")),
        ),
        (
            "core insert licence_acceptance",
            lambda s: s.execute(
                insert(LicenceAcceptance.__table__).values(
                    user_id=r.user_id,
                    dataset_id=r.dataset_id,
                    licence="etalab-2.0",
                    accepted_at=NOW,
                    surface="api",
                )
            ),
        ),
        (
            "orm bulk delete licence_acceptance",
            lambda s: s.execute(
                delete(LicenceAcceptance).where(LicenceAcceptance.user_id == r.user_id)
            ),
        ),
        (
            "orm bulk update organization kind",
            lambda s: s.execute(
                update(Organization).where(Organization.id == r.other_org_id).values(kind="commune")
            ),
        ),
        (
            "raw update organization insee_code",
            lambda s: s.execute(
                text("UPDATE organization SET insee_code = '98999' WHERE id = :i"),
                {"i": r.other_org_id},
            ),
        ),
        (
            "core insert membership",
            lambda s: s.execute(
                insert(Membership.__table__).values(
                    user_id=r.user_id, organization_id=r.other_org_id, role="viewer", created_at=NOW
                )
            ),
        ),
        (
            "orm bulk update membership role",
            lambda s: s.execute(
                update(Membership).where(Membership.user_id == r.user_id).values(role="steward")
            ),
        ),
        (
            "orm bulk update user is_active",
            lambda s: s.execute(update(User).where(User.id == r.user_id).values(is_active=False)),
        ),
        (
            "core insert api_token",
            lambda s: s.execute(
                insert(ApiToken.__table__).values(
                    id=9002,
                    user_id=r.user_id,
                    name="n",
                    prefix="p",
                    digest="d" * 64,
                    created_at=NOW,
                    expires_at=NOW,
                )
            ),
        ),
        (
            "core insert api_token_scope",
            lambda s: s.execute(
                insert(ApiTokenScope.__table__).values(token_id=9002, scope="read", dataset_ids=[1])
            ),
        ),
        (
            "orm bulk update api_token_scope datasets",
            lambda s: s.execute(update(ApiTokenScope).values(dataset_ids=None, scope="write")),
        ),
        (
            "raw revoke api_token",
            lambda s: s.execute(text("UPDATE api_token SET revoked_at = CURRENT_TIMESTAMP")),
        ),
        (
            "delete user (cascades membership, api_token, licence_acceptance)",
            lambda s: s.execute(delete(User).where(User.id == r.user_id)),
        ),
        (
            "delete dataset (cascades version, flags, privacy, agreement_dataset)",
            lambda s: s.execute(delete(Dataset).where(Dataset.id == r.dataset_id)),
        ),
    ]


def test_review_core_bulk_raw_and_cascading_writes_bump_the_epoch(engine: Engine) -> None:
    rows = _rows(engine)
    factory = session_factory(engine)
    for label, write in _writes(rows):
        before = _epoch(engine)
        with transaction(factory) as session:
            write(session)
        after = _epoch(engine)
        assert after[0] > before[0], label


def test_review_sign_in_and_token_use_do_not_bump(engine: Engine) -> None:
    rows = _rows(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.execute(
            insert(ApiToken.__table__).values(
                id=9003, user_id=rows.user_id, name="n", prefix="p", digest="e" * 64, created_at=NOW
            )
        )
    before = _epoch(engine)
    with transaction(factory) as session:
        session.execute(text("UPDATE api_token SET last_used_at = CURRENT_TIMESTAMP"))
        session.execute(text("UPDATE user_account SET last_login_at = CURRENT_TIMESTAMP"))
    assert _epoch(engine) == before


@pytest.mark.postgres
def test_review_truncate_bumps_on_postgresql(postgres_url: str) -> None:
    """TRUNCATE (PostgreSQL only: SQLite has none) fires no row trigger; the statement
    trigger must still bump."""
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        _rows(engine)
        before = _epoch(engine)
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE agreement_grantee"))
        assert _epoch(engine)[0] > before[0]
    finally:
        engine.dispose()


def test_review_a_rolled_back_write_leaves_no_reachable_entry(engine: Engine) -> None:
    rows = _rows(engine)
    factory = session_factory(engine)
    cache: DecisionCache[str] = DecisionCache()
    anonymous = Actor.anonymous()
    with factory() as session:
        session.execute(
            update(Dataset).where(Dataset.id == rows.dataset_id).values(access_level="public")
        )
        cache.get_or_compute(session, anonymous, ("q",), lambda: Entry("inside"))
        session.rollback()
    with factory() as session:
        value = cache.get_or_compute(session, anonymous, ("q",), lambda: Entry("after"))
    assert value == "after"


def test_review_the_cache_is_bounded_and_consistent_under_threads(engine: Engine) -> None:
    factory = session_factory(engine)
    cache: DecisionCache[tuple[object, ...]] = DecisionCache(size=16)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with factory() as session:
                for i in range(150):
                    actor = Actor(ActorKind.USER, user_id=(worker + i) % 5)
                    question = (i % 7,)
                    value = cache.get_or_compute(
                        session, actor, question, lambda a=actor, q=question: Entry((a.user_id, q))
                    )
                    assert value == (actor.user_id, question)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache._entries) <= 16
    assert cache.hits + cache.misses == 4 * 150


def test_review_actors_that_differ_in_what_decides_never_share_a_key() -> None:
    user = Actor(ActorKind.USER, user_id=7, roles={3: Role.VIEWER}, is_territory_member=True)
    token = dataclasses.replace(user, kind=ActorKind.TOKEN, token_id=1)
    variants = [
        Actor.anonymous(),
        Actor.system(name="x"),
        user,
        token,
        dataclasses.replace(token, token_scope="read"),
        dataclasses.replace(token, token_datasets=frozenset({5})),
        dataclasses.replace(token, token_datasets=frozenset()),
        dataclasses.replace(user, roles={3: Role.EDITOR}),
        dataclasses.replace(user, roles={3: Role.VIEWER, 4: Role.VIEWER}),
        dataclasses.replace(user, is_territory_member=False),
        dataclasses.replace(user, is_platform_admin=True),
        dataclasses.replace(user, user_id=8),  # licence acceptances are per user
    ]
    assert len({actor_key(a) for a in variants}) == len(variants)
    # An admin token and the system operator both read everything but are told apart.
    assert actor_key(Actor.system(name="x")) != actor_key(Actor.anonymous())


def test_review_the_epoch_is_read_in_the_decisions_transaction(engine: Engine) -> None:
    """A write flushed but not committed moves the epoch this session sees, not others'."""
    rows = _rows(engine)
    factory = session_factory(engine)
    with factory() as writer:
        before = read_epoch(writer)
        dataset = writer.get(Dataset, rows.dataset_id)
        assert dataset is not None
        dataset.access_level = "internal"  # pending, not flushed: read_epoch flushes it
        inside = read_epoch(writer)
        if engine.dialect.name == "postgresql":
            assert inside == UNCACHED  # bump at commit: meanwhile decided without the cache
        else:
            assert inside[0] > before[0]
        with factory() as other:
            assert read_epoch(other) == before  # uncommitted: not seen elsewhere
        writer.rollback()
    with factory() as session:
        assert read_epoch(session) == before
        assert (
            session.scalar(select(Dataset.access_level).where(Dataset.id == rows.dataset_id))
            != "internal"
        )


@pytest.mark.postgres
def test_review_the_epoch_never_overflows_into_refused_writes(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        rows = _rows(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE access_epoch SET value = 2147483647"))
        with engine.begin() as connection:  # any watched write, e.g. a membership change
            connection.execute(
                text("UPDATE membership SET role = 'editor' WHERE user_id = :u"),
                {"u": rows.user_id},
            )
        assert _epoch(engine) != (2147483647, 0)
    finally:
        engine.dispose()
