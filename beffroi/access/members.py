"""Members and roles of an organisation, as its stewards and administrators see them.

Who may *see* the members: the organisation's stewards and administrators, and platform
administrators (others get the same 404 as for a missing organisation). Who may *change*
them: :data:`beffroi.access.Action.MEMBER_MANAGE` (the organisation's administrators and
platform administrators). Adding goes through :func:`beffroi.access.accounts.add_member`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from beffroi.access.actors import Actor
from beffroi.access.policy import Action, can, not_found, require
from beffroi.catalog import audit
from beffroi.catalog.models import Membership, Organization, Role, User
from beffroi.catalog.services import get_organization
from beffroi.errors import NotFoundError


def may_view_members(actor: Actor, organization_id: int) -> bool:
    """Whether the actor may see who belongs to the organisation (steward or stronger)."""
    if actor.is_platform_admin:
        return True
    role = actor.role_in(organization_id)
    return role is not None and role.rank >= Role.STEWARD.rank


def may_manage_members(actor: Actor, organization_id: int) -> bool:
    """Whether the actor may add, change or remove members of the organisation."""
    return can(actor, Action.MEMBER_MANAGE, organization_id)


def may_list_agreements(actor: Actor) -> bool:
    """Whether the actor is a steward (or stronger) somewhere: the agreements back office."""
    if actor.is_platform_admin:
        return True
    return any(role.rank >= Role.STEWARD.rank for role in actor.roles.values())


def list_members(
    session: Session, actor: Actor, slug: str
) -> tuple[Organization, list[Membership]]:
    """An organisation and its memberships by username (404 for those who may not see)."""
    org = get_organization(session, slug)
    if not may_view_members(actor, org.id):
        raise not_found("Organisation", slug)
    members = session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == org.id)
        .options(selectinload(Membership.user))
        .order_by(User.username)
    )
    return org, list(members)


def remove_member(session: Session, actor: Actor, slug: str, username: str) -> None:
    """Take a user's role in the organisation away (its administrators only)."""
    org, members = list_members(session, actor, slug)
    require(actor, Action.MEMBER_MANAGE, org.id)
    found = next((m for m in members if m.user.username == username), None)
    if found is None:
        raise NotFoundError(
            f"{username} n'est pas membre de {org.name}",
            hint="la liste des membres est sur la page de l'organisation",
            message_en=f"{username} is not a member of {org.name}",
            hint_en="the list of members is on the organisation's page",
        )
    role = found.role
    session.delete(found)
    session.flush()
    audit.record(
        session,
        actor,
        "membership.remove",
        "organization",
        org.slug,
        {"user": username, "role": role},
    )


__all__ = [
    "list_members",
    "may_list_agreements",
    "may_manage_members",
    "may_view_members",
    "remove_member",
]
