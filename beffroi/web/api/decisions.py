"""A steward's decision on a request (publication, metadata proposal): approve or reject.

Both review resources take the same body and answer the same way, so their two routes are
written once here and added to each resource's router; their lists share the filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from beffroi.access import Actor
from beffroi.catalog.reviews import ReviewStatus
from beffroi.web.deps import ActorDep, SessionDep

RequestT = TypeVar("RequestT")
PublicT = TypeVar("PublicT", bound=BaseModel)

#: The ``status`` filter of a list of requests.
StatusFilter = Annotated[
    ReviewStatus | Literal["all"],
    Query(description="pending (default), approved, rejected, all"),
]
#: The ``dataset`` filter of a list of requests.
DatasetFilter = Annotated[str | None, Query(description="Only this dataset's slug.")]


def chosen_status(status: ReviewStatus | Literal["all"]) -> ReviewStatus | None:
    """The status a list keeps (``None``: all)."""
    return None if status == "all" else ReviewStatus(status)


class Decision(BaseModel):
    """A steward's decision; a rejection needs a comment."""

    comment: str = Field(default="", max_length=5000)


def add_decision_routes(
    router: APIRouter,
    *,
    noun: str,
    response_model: type[PublicT],
    approve: Callable[[SessionDep, Actor, int, str], RequestT],
    reject: Callable[[SessionDep, Actor, int, str], RequestT],
    public: Callable[[RequestT], PublicT],
    approve_doc: str,
    reject_doc: str,
) -> None:
    """Add ``POST /{review_id}/approve`` and ``/reject`` to ``router``.

    ``noun`` names the routes (``approve_<noun>``, ``reject_<noun>``: the OpenAPI operation
    ids); ``approve`` and ``reject`` are the catalogue services, ``public`` their API view.
    """

    def approve_request(
        review_id: int, session: SessionDep, actor: ActorDep, body: Decision | None = None
    ) -> PublicT:
        decided = approve(session, actor, review_id, body.comment if body else "")
        session.commit()
        return public(decided)

    def reject_request(
        review_id: int, body: Decision, session: SessionDep, actor: ActorDep
    ) -> PublicT:
        decided = reject(session, actor, review_id, body.comment)
        session.commit()
        return public(decided)

    for action, endpoint, doc in (
        ("approve", approve_request, approve_doc),
        ("reject", reject_request, reject_doc),
    ):
        router.add_api_route(
            f"/{{review_id}}/{action}",
            endpoint,
            methods=["POST"],
            response_model=response_model,
            name=f"{action}_{noun}",
            description=doc,
        )
