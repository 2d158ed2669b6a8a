"""A version's validation report as a page, ``/jeux-de-donnees/{slug}/versions/{n}/rapport``
(verdict, counts per error type and per column with a bar chart, the first errors of each
column with the catalogue's hint), and its invalid rows as CSV (``…/rapport.csv``).

Both are access-controlled like the version (:mod:`beffroi.validate.export`): the cells'
values, and the rows, only for the dataset's editors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from beffroi.web.deps import ActorDep, SessionDep
from beffroi.web.i18n import negotiate, translator
from beffroi.web.pages.rendering import render

router = APIRouter()

BAR_WIDTH: Final = 320
BAR_HEIGHT: Final = 22


def _bars(fields: list[Any], label: Callable[[str], str]) -> dict[str, Any]:
    """An SVG bar chart of the errors per column (drawn server-side, no script)."""
    top = max((item.total for item in fields), default=0) or 1
    bars = [
        {
            "y": index * (BAR_HEIGHT + 6),
            "width": max(2, round(BAR_WIDTH * item.total / top)),
            "label": item.field or label("Lignes entières"),
            "total": item.total,
        }
        for index, item in enumerate(fields)
    ]
    return {"bars": bars, "height": len(bars) * (BAR_HEIGHT + 6), "bar_height": BAR_HEIGHT}


@router.get(
    "/jeux-de-donnees/{slug}/versions/{number}/rapport",
    response_class=HTMLResponse,
    name="validation_report",
)
def validation_report(
    slug: str, number: int, request: Request, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    """The validation report of one version."""
    from beffroi.validate.export import report_view  # noqa: PLC0415 - heavy, on demand

    view = report_view(session, actor, slug, number)
    locale = negotiate(request, request.app.state.settings.default_locale)
    _ = translator(locale)
    return render(
        request,
        "validation_report.html",
        {
            "actor": actor,
            "view": view,
            "chart": _bars(view.fields, _),
            "_": _,
        },
    )


@router.get("/jeux-de-donnees/{slug}/versions/{number}/rapport.csv", name="validation_rows")
def validation_rows(
    slug: str, number: int, session: SessionDep, actor: ActorDep, bom: bool = False
) -> Response:
    """The invalid rows kept with the version, as CSV (UTF-8; ``?bom=true`` for Excel)."""
    from beffroi.validate.export import csv_chunks, version_invalid_rows  # noqa: PLC0415

    kept = version_invalid_rows(session, actor, slug, number)
    return StreamingResponse(
        csv_chunks(kept.header, kept.rows, bom=bom),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{kept.filename}"',
            "X-Invalid-Rows-Truncated": "true" if kept.truncated else "false",
        },
    )
