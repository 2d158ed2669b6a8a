"""The metadata form of a dataset ``/jeux-de-donnees/{slug}/modifier`` (editors and stewards of
its owner), with the data.gouv.fr quality checklist beside it.

Fields are validated on the server by the API's own schema (:class:`DatasetUpdate`); errors
are shown next to their field and in a summary at the top. A valid change goes through
:func:`beffroi.catalog.metadata_reviews.change_metadata`: applied at once, or proposed to the
owner's stewards when the organisation requires review.

The checklist is also shown on the dataset page to those who may edit it (template global
``metadata_checklist``).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from beffroi.access import Action, Actor, can, require
from beffroi.catalog import metadata_reviews as service
from beffroi.catalog import services
from beffroi.catalog.models import AccessLevel, Dataset
from beffroi.catalog.reviews import review_required
from beffroi.catalog.schemas import DatasetUpdate
from beffroi.catalog.vocabularies import (
    FREQUENCIES,
    GRANULARITIES,
    HVD_CATEGORIES,
    LICENSES,
    THEMES,
)
from beffroi.errors import BeffroiError
from beffroi.publish.check import Readiness
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep, short_session
from beffroi.web.i18n import negotiate
from beffroi.web.pages.rendering import render, templates
from beffroi.web.pages.reviews import ACCESS_LABELS, FIELD_LABELS
from beffroi.web.security import check_csrf

router = APIRouter()

#: Form fields holding a list: one value per line or separated by commas.
LIST_FIELDS: Final = {"keywords", "spatial", "applicable_legislation"}
#: Fields that cannot be emptied (the others are cleared when left empty).
REQUIRED: Final = {"title", "license", "access_level"}
#: Where the checklist's criteria are fixed in the form (check code → field id).
CHECK_FIELDS: Final = {
    "description": "description",
    "license": "license",
    "frequency": "frequency",
    "spatial": "spatial",
    "granularity": "spatial_granularity",
    "temporal": "temporal_start",
    "schema": "schema_ref",
}
OUTCOMES: Final = {"appliquee", "proposee", "aucune"}


def _editable(session: SessionDep, actor: Actor, slug: str) -> Dataset:
    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    return dataset


def _as_form(values: dict[str, Any]) -> dict[str, Any]:
    """Catalogue values as the form shows them (lists on lines, ``None`` empty)."""
    shown: dict[str, Any] = {}
    for name, value in values.items():
        if name in LIST_FIELDS:
            shown[name] = "\n".join(value or [])
        elif name == "themes":
            shown[name] = list(value or [])
        else:
            shown[name] = "" if value is None else str(value)
    return shown


def _read(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The submitted values: as typed (to show back) and as the update schema takes them."""
    typed: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for name in service.FIELDS:
        if name == "themes":
            chosen = [v for v in form.getlist("themes") if isinstance(v, str) and v]
            typed[name] = chosen
            data[name] = chosen
            continue
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        typed[name] = text
        if name in LIST_FIELDS:
            parts = text.replace(",", "\n").splitlines()
            data[name] = [p.strip() for p in parts if p.strip()]
        elif name == "description" or text or name in REQUIRED:
            data[name] = text
        else:
            data[name] = None
    return typed, data


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in exc.errors():
        where = str(item["loc"][0]) if item["loc"] else "temporal_end"
        message = str(item["msg"]).removeprefix("Value error, ")
        errors.setdefault(where if where in service.FIELDS else "temporal_end", message)
    return errors


def readiness_for(session: SessionDep, dataset: Dataset) -> Readiness:
    """The checklist of the dataset (what data.gouv.fr would score)."""
    return service.readiness(session, dataset)


def metadata_checklist(request: Request, actor: Actor | None, dataset: Dataset) -> Any:
    """The checklist for the dataset page, for those who may edit the dataset (else None)."""
    if actor is None or not can(actor, Action.DATASET_UPDATE, dataset.publisher_id):
        return None
    with short_session(request) as session:
        fresh = session.get(Dataset, dataset.id)
        return None if fresh is None else readiness_for(session, fresh)


templates.env.globals["metadata_checklist"] = metadata_checklist


def _render(
    request: Request,
    session: SessionDep,
    actor: Actor,
    dataset: Dataset,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    general: tuple[str, str | None] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    outcome = request.query_params.get("etat", "")
    return render(
        request,
        "dataset_edit.html",
        {
            "actor": actor,
            "dataset": dataset,
            "values": values,
            "errors": errors or {},
            "general": general,
            "labels": FIELD_LABELS,
            "licenses": LICENSES,
            "frequencies": FREQUENCIES,
            "themes": THEMES,
            "granularities": GRANULARITIES,
            "hvd_categories": HVD_CATEGORIES,
            "access_levels": {level.value: ACCESS_LABELS[level.value] for level in AccessLevel},
            "readiness": readiness_for(session, dataset),
            "check_fields": CHECK_FIELDS,
            "reviewed": service.is_reviewer(actor)
            and can(actor, Action.REVIEW_DECIDE, dataset.publisher_id),
            "review_required": review_required(session, dataset.publisher_id),
            "pending": service.list_proposals(session, actor, dataset=dataset.slug),
            "outcome": outcome if outcome in OUTCOMES else "",
        },
        status_code=status_code,
    )


@router.get("/jeux-de-donnees/{slug}/modifier", response_class=HTMLResponse, name="dataset_edit")
def edit_form(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The metadata form, filled with the current values."""
    if not actor.is_authenticated:
        return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    dataset = _editable(session, actor, slug)
    values = _as_form(service.current_values(dataset))
    return _render(request, session, actor, dataset, values)


@router.post("/jeux-de-donnees/{slug}/modifier", name="dataset_edit_save")
async def edit_save(
    slug: str, request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> Response:
    """Validate and apply (or propose) the change; errors next to their fields."""
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None, settings.signing_key())
    dataset = _editable(session, actor, slug)
    typed, data = _read(form)
    try:
        update = DatasetUpdate.model_validate(data)
    except ValidationError as exc:
        return _render(request, session, actor, dataset, typed, _field_errors(exc), status_code=422)
    try:
        outcome = service.change_metadata(session, actor, dataset.slug, update)
    except BeffroiError as exc:
        if exc.status >= 500 or exc.status in {401, 403, 404}:
            raise
        session.rollback()
        locale = negotiate(request, settings.default_locale)
        return _render(
            request,
            session,
            actor,
            dataset,
            typed,
            general=exc.localized(locale),
            status_code=exc.status,
        )
    session.commit()
    state = "proposee" if outcome.review else ("appliquee" if outcome.changed else "aucune")
    return RedirectResponse(f"/jeux-de-donnees/{dataset.slug}/modifier?etat={state}", 303)
