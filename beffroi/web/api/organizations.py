"""Organisations: the EPCI, its communes, services and partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from beffroi.catalog import services
from beffroi.catalog.models import OrgKind
from beffroi.catalog.schemas import OrganizationCreate, OrganizationPublic
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/organizations", tags=["organizations"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[OrganizationPublic])
def list_organizations(
    session: SessionDep,
    kind: Annotated[OrgKind | None, Query(description="Only this kind.")] = None,
    parent: Annotated[str | None, Query(description="Only children of this slug.")] = None,
) -> list[OrganizationPublic]:
    """Every organisation of the platform (public knowledge)."""
    orgs = services.list_organizations(session, kind=kind.value if kind else None, parent=parent)
    return [services.organization_public(org) for org in orgs]


@router.get("/{slug}", response_model=OrganizationPublic)
def show_organization(slug: str, session: SessionDep) -> OrganizationPublic:
    """One organisation."""
    return services.organization_public(services.get_organization(session, slug))


@router.post("", response_model=OrganizationPublic, status_code=status.HTTP_201_CREATED)
def create_organization(
    body: OrganizationCreate, session: SessionDep, actor: ActorDep
) -> OrganizationPublic:
    """Create an organisation (platform administrators)."""
    org = services.create_organization(session, actor, body)
    session.commit()
    return services.organization_public(org)
