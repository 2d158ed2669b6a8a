"""Reference pages the API links to (the ``type`` of every problem+json is one of these)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from beffroi.errors import all_error_classes
from beffroi.web.deps import ActorDep
from beffroi.web.pages.rendering import render

router = APIRouter()


@router.get("/docs/reference/errors", response_class=HTMLResponse, name="error_catalogue")
def error_catalogue(request: Request, actor: ActorDep) -> HTMLResponse:
    """Every error code with its HTTP status and meaning (anchors are the codes)."""
    return render(request, "errors.html", {"actor": actor, "errors": all_error_classes()})
