"""The access epoch (migration 0012's triggers) and the decision cache, on both backends."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.access.cache import (
    EPOCH_TABLES,
    UNCACHED,
    DecisionCache,
    Entry,
    actor_key,
    read_epoch,
    window,
)
from beffroi.catalog.db import session_factory, transaction
from beffroi.catalog.models import Role
from tests.factories import cheap_password_hashing, make_dataset, make_org, make_user

MIGRATION = (
    Path(__file__).resolve().parents[3] / "beffroi/catalog/migrations/versions/0012_access_epoch.py"
)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_watched_tables_match_the_migration() -> None:
    spec = importlib.util.spec_from_file_location("migration_0012", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.WATCHED == EPOCH_TABLES


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text(
                    "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                    "AND name LIKE 'access_epoch_%'"
                )
            )
        else:
            rows = connection.execute(
                text(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE t.tgname = 'access_epoch_bump'"
                )
            )
        return {str(r[0]) for r in rows}


def test_every_watched_table_has_its_trigger(engine: Engine) -> None:
    assert _triggers(engine) == set(EPOCH_TABLES)


def test_writes_that_decide_access_bump_the_epoch(engine: Engine) -> None:
    factory = session_factory(engine)
    with factory() as session:
        start = read_epoch(session)
    assert start[0] == 0
    seen = [start]

    def moved() -> bool:
        with factory() as session:
            now = read_epoch(session)
        changed = now != seen[-1] and now[0] > seen[-1][0]
        seen.append(now)
        return changed

    with cheap_password_hashing(), transaction(factory) as session:
        org = make_org(session, slug="org-epoque")
    assert moved()
    with transaction(factory) as session:
        dataset = make_dataset(session, publisher="org-epoque", slug="jeu-epoque")
        dataset_id = dataset.id
    assert moved()
    with cheap_password_hashing(), transaction(factory) as session:
        user = make_user(session, username="lecteur-epoque", memberships={org.slug: Role.VIEWER})
        user_id = user.id
    assert moved()
    statements = [
        ("UPDATE dataset SET access_level = 'internal' WHERE id = :i", {"i": dataset_id}),
        (
            (
                "INSERT INTO dataset_privacy (dataset_id, min_cell_size, modified_at) "
                "VALUES (:i, 5, CURRENT_TIMESTAMP)"
            ),
            {"i": dataset_id},
        ),
        ("DELETE FROM dataset_privacy WHERE dataset_id = :i", {"i": dataset_id}),
        ("UPDATE user_account SET is_platform_admin = :t WHERE id = :u", {"t": True, "u": user_id}),
        ("DELETE FROM membership WHERE user_id = :u", {"u": user_id}),
    ]
    for sql, params in statements:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
        assert moved(), sql
    # Signing in and using a token write too, but decide nothing: the epoch stays.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE user_account SET last_login_at = CURRENT_TIMESTAMP WHERE id = :u"),
            {"u": user_id},
        )
    assert not moved()


def test_a_rolled_back_bump_never_comes_back(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        make_org(session, slug="org-annulee")
    with factory() as session:
        before = read_epoch(session)
        session.execute(text("UPDATE organization SET name = 'x' WHERE slug = 'org-annulee'"))
        inside = read_epoch(session)  # what a decision made in this transaction is keyed by
        session.rollback()
    with transaction(factory) as session:
        session.execute(text("UPDATE organization SET name = 'y' WHERE slug = 'org-annulee'"))
    with factory() as session:
        after = read_epoch(session)
    if engine.dialect.name == "postgresql":
        # The bump waits for the commit: the rolled-back transaction never bumped, and its
        # decisions were made without the cache.
        assert inside == UNCACHED
        assert after[0] == before[0] + 1
        return
    assert inside[0] == before[0] + 1
    assert after[0] == inside[0]  # the same counter…
    assert after != inside  # …but not the same epoch: the rolled-back decision is unreachable


def test_an_open_access_write_does_not_hold_back_another(engine: Engine) -> None:
    """Two transactions writing access data to different rows do not wait on the epoch row
    (PostgreSQL bumps it at commit), and both bumps count."""
    factory = session_factory(engine)
    with transaction(factory) as session:
        make_org(session, slug="org-une")
        make_org(session, slug="org-deux")
    with factory() as session:
        before = read_epoch(session)
    with engine.connect() as first:
        first.execute(text("UPDATE organization SET name = 'a' WHERE slug = 'org-une'"))
        if engine.dialect.name == "postgresql":
            with engine.connect() as second:
                second.execute(text("SET lock_timeout = '2s'"))
                second.execute(text("UPDATE organization SET name = 'b' WHERE slug = 'org-deux'"))
                second.commit()  # would time out if the epoch row were locked by `first`
        first.commit()
    with factory() as session:
        after = read_epoch(session)
    expected = 2 if engine.dialect.name == "postgresql" else 1
    assert after[0] == before[0] + expected


def test_the_cache_answers_until_the_epoch_moves(session: Session) -> None:
    cache: DecisionCache[str] = DecisionCache(size=2)
    anonymous = Actor.anonymous()
    computed: list[str] = []

    def compute(value: str) -> Entry[str]:
        computed.append(value)
        return Entry(value)

    assert cache.get_or_compute(session, anonymous, ("q",), lambda: compute("a")) == "a"
    assert cache.get_or_compute(session, anonymous, ("q",), lambda: compute("b")) == "a"
    assert computed == ["a"]
    make_org(session, slug="org-cache")  # bumps the epoch (same transaction: seen at once)
    assert cache.get_or_compute(session, anonymous, ("q",), lambda: compute("c")) == "c"
    # Another actor, another question: other entries; the oldest one leaves (size 2).
    user = Actor(kind=Actor.anonymous().kind, user_id=1)
    assert cache.get_or_compute(session, user, ("q",), lambda: compute("d")) == "d"
    assert cache.get_or_compute(session, anonymous, ("r",), lambda: compute("e")) == "e"
    assert cache.get_or_compute(session, anonymous, ("q",), lambda: compute("f")) == "f"
    assert (cache.hits, cache.misses) == (1, 5)


def test_entries_hold_between_agreement_dates() -> None:
    day = dt.timedelta(days=1)
    since, until = window(T0, [T0 - 3 * day, T0 + 2 * day, T0 + 5 * day, T0])
    assert (since, until) == (T0, T0 + 2 * day)
    entry = Entry("x", since, until)
    assert entry.holds_at(T0 + day)
    assert not entry.holds_at(T0 + 2 * day)
    assert not entry.holds_at(T0 - day)
    assert Entry("x").holds_at(T0)


def test_actor_key_covers_what_decides() -> None:
    base = Actor.anonymous()
    keys = {
        actor_key(a)
        for a in (
            base,
            Actor(kind=base.kind, user_id=1),
            Actor(kind=base.kind, user_id=1, roles={3: Role.VIEWER}),
            Actor(kind=base.kind, user_id=1, roles={3: Role.EDITOR}),
            Actor(kind=base.kind, user_id=1, is_territory_member=True),
            Actor(kind=base.kind, user_id=1, token_scope="read"),
            Actor(kind=base.kind, user_id=1, token_datasets=frozenset({4})),
            Actor(kind=base.kind, user_id=1, is_platform_admin=True),
        )
    }
    assert len(keys) == 8
    # Surfaces and token ids are not decisions (they are logged from the actor at hand).
    assert actor_key(Actor.anonymous("web")) == actor_key(Actor.anonymous("api"))
