"""The steward's review queue ``/relecture``: pending version publications and metadata
changes of the organisations they review for, approve / reject with a comment, and the
decisions taken. Actors who review nowhere get 404 (the page is not theirs to know of).

The header's link to the queue, with its count of pending requests, comes from the template
global ``review_badge`` registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.access import Actor
from beffroi.catalog import metadata_reviews as service
from beffroi.catalog import reviews as version_reviews
from beffroi.catalog.vocabularies import FREQUENCIES, GRANULARITIES, LICENSES, THEMES
from beffroi.errors import BeffroiError
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep, short_session
from beffroi.web.i18n import negotiate
from beffroi.web.pages.rendering import render, templates
from beffroi.web.security import check_csrf

router = APIRouter()

#: Labels of the metadata fields (French; the templates translate them).
FIELD_LABELS: Final = {
    "title": "Titre",
    "description": "Description",
    "keywords": "Mots-clés",
    "themes": "Thèmes",
    "license": "Licence",
    "frequency": "Fréquence de mise à jour",
    "spatial": "Couverture géographique",
    "spatial_granularity": "Granularité",
    "temporal_start": "Début de la période couverte",
    "temporal_end": "Fin de la période couverte",
    "contact_name": "Nom du contact",
    "contact_email": "Adresse e-mail du contact",
    "access_level": "Niveau d'accès",
    "schema_ref": "Schéma de données",
    "hvd_category": "Catégorie de données de forte valeur (HVD)",
    "applicable_legislation": "Législation applicable (ELI)",
}
ACCESS_LABELS: Final = {
    "public": "public",
    "registered": "inscrits",
    "internal": "interne",
    "organization": "organisation",
    "restricted": "restreint",
}
DECISIONS: Final = ("approuver", "refuser")


def display_value(name: str, value: Any) -> str:
    """A metadata value as a person reads it (vocabulary labels, lists joined)."""
    if value is None or value in ("", []):
        return "—"
    labels: dict[str, Any] = {
        "themes": THEMES,
        "frequency": FREQUENCIES,
        "spatial_granularity": GRANULARITIES,
        "access_level": ACCESS_LABELS,
    }
    if name == "license":
        return LICENSES[value][0] if value in LICENSES else str(value)
    if isinstance(value, list):
        vocabulary = labels.get(name, {})
        return ", ".join(str(vocabulary.get(v, v)) for v in value)
    if name in labels:
        return str(labels[name].get(value, value))
    return str(value)


def review_badge(request: Request, actor: Actor | None) -> int | None:
    """Pending requests for the header link; ``None`` when the actor reviews nowhere."""
    if actor is None or not service.is_reviewer(actor):
        return None
    with short_session(request) as session:
        return service.pending_count(session, actor)


templates.env.globals["review_badge"] = review_badge
templates.env.globals["metadata_value"] = display_value
templates.env.globals["metadata_labels"] = FIELD_LABELS


def _page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    *,
    error: tuple[str, int, str, str | None] | None = None,
    comment: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    queue = service.review_queue(session, actor)
    done = request.query_params.get("traite", "")
    return render(
        request,
        "review_queue.html",
        {
            "actor": actor,
            "queue": queue,
            "error": error,
            "comment": comment,
            "done": done if done in {"approuve", "refuse"} else "",
        },
        status_code=status_code,
    )


@router.get("/relecture", response_class=HTMLResponse, name="review_queue")
def review_queue_page(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The review queue of a steward (404 for everyone else)."""
    return _page(request, session, actor)


#: A catalogue service deciding on a request: (session, actor, request id, comment).
_Decider = Callable[[SessionDep, Actor, int, str], object]
#: The services deciding on each kind of request: (approve, reject).
_DECIDERS: Final[dict[str, tuple[_Decider, _Decider]]] = {
    "version": (version_reviews.approve_review, version_reviews.reject_review),
    "metadata": (service.approve_proposal, service.reject_proposal),
}


def _decide(
    kind: str,
    review_id: int,
    request: Request,
    session: SessionDep,
    actor: Actor,
    decision: str,
    comment: str,
) -> Response:
    service.review_queue(session, actor)  # 404 for those who review nowhere
    approve, reject = _DECIDERS[kind]
    try:
        (approve if decision == "approuver" else reject)(session, actor, review_id, comment)
    except BeffroiError as exc:
        if exc.status >= 500 or exc.status in {401, 403, 404}:
            raise
        session.rollback()
        locale = negotiate(request, request.app.state.settings.default_locale)
        message, hint = exc.localized(locale)
        return _page(
            request,
            session,
            actor,
            error=(kind, review_id, message, hint),
            comment=comment,
            status_code=exc.status,
        )
    session.commit()
    outcome = "approuve" if decision == "approuver" else "refuse"
    return RedirectResponse(f"/relecture?traite={outcome}", status_code=303)


def _add_decision_route(kind: str, segment: str, name: str, doc: str) -> None:
    """``POST /relecture/<segment>/{review_id}``: the form deciding on one kind of request."""

    def decide(
        review_id: int,
        request: Request,
        session: SessionDep,
        actor: ActorDep,
        settings: SettingsDep,
        decision: Annotated[str, Form(pattern="^(approuver|refuser)$")],
        comment: Annotated[str, Form(max_length=5000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        check_csrf(request, csrf_token, settings.signing_key())
        return _decide(kind, review_id, request, session, actor, decision, comment)

    router.add_api_route(
        f"/relecture/{segment}/{{review_id}}",
        decide,
        methods=["POST"],
        name=name,
        description=doc,
    )


_add_decision_route(
    "version",
    "versions",
    "review_version_decide",
    "Approve (the version is published) or reject a version publication request.",
)
_add_decision_route(
    "metadata",
    "metadonnees",
    "review_metadata_decide",
    "Approve (the changes are applied) or reject a metadata change proposal.",
)
