"""``beffroi reference update`` asks the access layer: platform administrators only."""

from __future__ import annotations

from pathlib import Path

import pytest

from beffroi.access import Actor, ActorKind
from beffroi.catalog.models import Role
from beffroi.errors import AuthenticationError, PermissionDeniedError
from beffroi.reference.update import update, vintages
from tests.conftest import SHARED_DATA

COG_DIR = SHARED_DATA / "reference" / "insee-cog"

STEWARD = Actor(ActorKind.USER, user_id=7, username="referent", roles={1: Role.ADMIN})
READ_ONLY_ADMIN = Actor(
    ActorKind.TOKEN,
    user_id=1,
    username="admin",
    is_platform_admin=True,
    token_id=3,
    token_scope="read",
)


@pytest.mark.parametrize(
    ("actor", "error", "says"),
    [
        (Actor.anonymous(surface="cli"), AuthenticationError, "Connexion requise"),
        (STEWARD, PermissionDeniedError, "reference.update"),
        (READ_ONLY_ADMIN, PermissionDeniedError, "lecture seule"),
    ],
)
def test_only_a_platform_admin_updates_the_reference(
    tmp_path: Path, actor: Actor, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says) as raised:
        update(tmp_path, COG_DIR, actor=actor, year=2026)
    assert getattr(raised.value, "hint", None)  # says how to get the right
    assert vintages(tmp_path) == {}  # nothing written
    assert not (tmp_path / "reference").exists()


def test_the_local_operator_may(tmp_path: Path) -> None:
    summary = update(tmp_path, COG_DIR, actor=Actor.system(name="test"), year=2026)
    assert summary.lines()
    assert 2026 in vintages(tmp_path)
