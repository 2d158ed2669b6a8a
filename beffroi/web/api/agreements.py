"""Sharing agreements: create (draft), list, show, approve, suspend, end."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from beffroi.access import agreements as service
from beffroi.access.agreements import AgreementCreate, AgreementPublic
from beffroi.catalog.models import AgreementStatus
from beffroi.web.api.common import ERROR_RESPONSES
from beffroi.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/agreements", tags=["agreements"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[AgreementPublic])
def list_agreements(
    session: SessionDep,
    actor: ActorDep,
    status_: Annotated[
        AgreementStatus | None, Query(alias="status", description="Effective status.")
    ] = None,
) -> list[AgreementPublic]:
    """Agreements the caller's organisations own or are granted, newest first."""
    found = service.list_agreements(session, actor, status=status_)
    return [service.agreement_public(a, actor) for a in found]


@router.post("", response_model=AgreementPublic, status_code=status.HTTP_201_CREATED)
def create_agreement(
    body: AgreementCreate, session: SessionDep, actor: ActorDep
) -> AgreementPublic:
    """Draft a sharing agreement (editors of the owner); a steward of the owner approves it."""
    agreement = service.create_agreement(session, actor, body)
    session.commit()
    return service.agreement_public(agreement, actor)


@router.get("/{agreement_id}", response_model=AgreementPublic)
def show_agreement(agreement_id: int, session: SessionDep, actor: ActorDep) -> AgreementPublic:
    """One agreement (its owner's and its grantees' members)."""
    return service.agreement_public(service.get_agreement(session, actor, agreement_id), actor)


@router.post("/{agreement_id}/approve", response_model=AgreementPublic)
def approve_agreement(agreement_id: int, session: SessionDep, actor: ActorDep) -> AgreementPublic:
    """Approve a draft — or resume a suspended agreement (stewards of the owner)."""
    agreement = service.approve_agreement(session, actor, agreement_id)
    session.commit()
    return service.agreement_public(agreement, actor)


@router.post("/{agreement_id}/suspend", response_model=AgreementPublic)
def suspend_agreement(agreement_id: int, session: SessionDep, actor: ActorDep) -> AgreementPublic:
    """Suspend an agreement: from the next read on, it opens nothing."""
    agreement = service.suspend_agreement(session, actor, agreement_id)
    session.commit()
    return service.agreement_public(agreement, actor)


@router.post("/{agreement_id}/end", response_model=AgreementPublic)
def end_agreement(agreement_id: int, session: SessionDep, actor: ActorDep) -> AgreementPublic:
    """End an agreement now (status expired)."""
    agreement = service.end_agreement(session, actor, agreement_id)
    session.commit()
    return service.agreement_public(agreement, actor)
