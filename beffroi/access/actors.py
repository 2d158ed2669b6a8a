"""Who is acting: anonymous visitor, signed-in user, API token, or the local operator."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from beffroi.catalog.models import OrgKind, Role, TokenScope, User

# Organisations "of the EPCI": the EPCI itself, its member communes and their services.
# Partners (concessionaires) and other organisations are outside; they read through
# sharing agreements.
TERRITORY_KINDS = frozenset({OrgKind.EPCI.value, OrgKind.COMMUNE.value, OrgKind.SERVICE.value})


class ActorKind(enum.StrEnum):
    """How the actor was identified."""

    ANONYMOUS = "anonymous"
    USER = "user"
    TOKEN = "token"  # noqa: S105 - an enum label
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """An identified (or anonymous) actor and the roles it holds, by organisation id."""

    kind: ActorKind
    user_id: int | None = None
    username: str | None = None
    is_platform_admin: bool = False
    roles: dict[int, Role] = field(default_factory=dict)
    token_id: int | None = None
    surface: str = "internal"
    is_territory_member: bool = False
    token_scope: str | None = None
    """``read`` or ``write`` for an API token (None: not a token, or an unscoped one)."""
    token_datasets: frozenset[int] | None = None
    """Ids of the only datasets an API token may reach (None: no such limit)."""

    @classmethod
    def anonymous(cls, surface: str = "web") -> Actor:
        """The visitor who did not sign in."""
        return cls(ActorKind.ANONYMOUS, surface=surface)

    @classmethod
    def system(cls, name: str = "cli", surface: str = "cli") -> Actor:
        """The operator of the instance (command line on the server): full rights."""
        return cls(ActorKind.SYSTEM, username=name, is_platform_admin=True, surface=surface)

    @classmethod
    def for_user(
        cls,
        user: User,
        *,
        surface: str,
        token_id: int | None = None,
        token_scope: str | None = None,
        token_datasets: frozenset[int] | None = None,
    ) -> Actor:
        """The actor of a signed-in user (by session or by API token, with its scope)."""
        return cls(
            ActorKind.TOKEN if token_id is not None else ActorKind.USER,
            user_id=user.id,
            username=user.username,
            is_platform_admin=user.is_platform_admin,
            roles={m.organization_id: Role(m.role) for m in user.memberships},
            token_id=token_id,
            surface=surface,
            is_territory_member=any(
                m.organization.kind in TERRITORY_KINDS for m in user.memberships
            ),
            token_scope=token_scope,
            token_datasets=token_datasets,
        )

    @property
    def is_authenticated(self) -> bool:
        """True for anyone but the anonymous visitor."""
        return self.kind is not ActorKind.ANONYMOUS

    @property
    def read_only(self) -> bool:
        """True for an API token of scope ``read``: it may change nothing."""
        return self.token_scope == TokenScope.READ.value

    @property
    def label(self) -> str:
        """How the actor appears in the audit log."""
        if self.kind is ActorKind.ANONYMOUS:
            return "anonymous"
        if self.kind is ActorKind.SYSTEM:
            return f"system:{self.username}"
        if self.kind is ActorKind.TOKEN:
            return f"user:{self.username} (token {self.token_id})"
        return f"user:{self.username}"

    def role_in(self, organization_id: int) -> Role | None:
        """The actor's role in one organisation, if any."""
        return self.roles.get(organization_id)
