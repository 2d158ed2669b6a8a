"""The audit log viewer for platform administrators: filters, keyset pages, CSV download.

Everyone else gets the same 404 as for an address that does not exist (as on the API's
``/api/v1/audit``); the events come from :func:`beffroi.catalog.audit.list_audit`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from beffroi.access import Action, Actor, can
from beffroi.catalog import audit
from beffroi.catalog.audit import AuditFilters
from beffroi.errors import InvalidInputError, NotFoundError
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages.rendering import render

router = APIRouter()

PAGE_SIZE: Final = 50
#: The form's fields, as the query string names them.
FIELDS: Final = ("acteur", "jeu", "action", "surface", "du", "au")


def may_read_audit(actor: Actor | None) -> bool:
    """Whether the header links to the audit log (platform administrators)."""
    return actor is not None and can(actor, Action.AUDIT_READ)


def _hidden(request: Request) -> NotFoundError:
    return NotFoundError(
        f"Aucune page à l'adresse {request.url.path}",
        hint="vérifiez l'adresse",
        message_en=f"No page at {request.url.path}",
        hint_en="check the address",
    )


def _day(name: str, value: str) -> dt.datetime | None:
    """A date of the form (``AAAA-MM-JJ``) as the start of that day, UTC."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"Date invalide pour « {name} » : {value!r}",
            hint="écrivez la date au format AAAA-MM-JJ, par exemple 2026-12-01",
            message_en=f"Invalid date for “{name}”: {value!r}",
            hint_en="write the date as YYYY-MM-DD, for example 2026-12-01",
        ) from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _filters(values: dict[str, str]) -> AuditFilters:
    until = _day("au", values["au"])
    return AuditFilters(
        actor=values["acteur"] or None,
        dataset=values["jeu"] or None,
        action=values["action"] or None,
        surface=values["surface"] or None,
        since=_day("du", values["du"]),
        until=until + dt.timedelta(days=1) if until else None,  # the whole last day
    )


def _api_query(filters: AuditFilters) -> str:
    """The same filters for ``/api/v1/audit.csv``."""
    pairs = [
        ("actor", filters.actor),
        ("dataset", filters.dataset),
        ("action", filters.action),
        ("surface", filters.surface),
        ("from", filters.since.isoformat() if filters.since else None),
        ("to", filters.until.isoformat() if filters.until else None),
    ]
    return urlencode([(k, v) for k, v in pairs if v])


@router.get("/admin/journal", response_class=HTMLResponse, name="audit_log")
def audit_log(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    """The audit log, newest first, filtered by actor, dataset, action, surface and dates."""
    if not may_read_audit(actor):
        raise _hidden(request)
    values = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    after_raw = request.query_params.get("apres", "")
    after = int(after_raw) if after_raw.isdigit() else None
    error: tuple[str, str | None] | None = None
    events: list[Any] = []
    next_link = csv_link = None
    try:
        filters = _filters(values)
    except InvalidInputError as exc:
        error = exc.localized(negotiate(request, settings.default_locale))
    else:
        page = audit.list_audit(session, actor, filters, after, PAGE_SIZE)
        events = [
            (e, json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else "")
            for e in page.events
        ]
        kept = [(k, v) for k, v in values.items() if v]
        if page.next_after is not None:
            next_link = "?" + urlencode([*kept, ("apres", str(page.next_after))])
        query = _api_query(filters)
        csv_link = "/api/v1/audit.csv" + (f"?{query}" if query else "")
    return render(
        request,
        "audit.html",
        {
            "actor": actor,
            "values": values,
            "events": events,
            "error": error,
            "next_link": next_link,
            "first_link": "?" + urlencode([(k, v) for k, v in values.items() if v])
            if after
            else None,
            "csv_link": csv_link,
        },
        status_code=422 if error else 200,
    )
