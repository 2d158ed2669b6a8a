"""Template rendering shared by the pages (language, CSRF, Markdown)."""

from __future__ import annotations

from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from beffroi.errors import BeffroiError
from beffroi.settings import Settings
from beffroi.web.i18n import LANG_COOKIE, negotiate, translator
from beffroi.web.pages.charts import number
from beffroi.web.security import csrf_token, set_csrf_cookie

templates = Jinja2Templates(directory=str(resources.files("beffroi.web") / "templates"))
# Markdown descriptions: raw HTML disabled, so user text cannot inject markup.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown(text: str) -> Markup:
    """Render Markdown safely (no raw HTML)."""
    return Markup(_markdown.render(text))  # noqa: S704 - html is disabled in the parser


def plaintext(text: str) -> str:
    """Markdown reduced to plain text (for summaries in lists)."""
    return markdown(text).striptags()


templates.env.filters["markdown"] = markdown
templates.env.filters["plaintext"] = plaintext
templates.env.globals["number"] = number


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a page with the common context (language, user, CSRF token)."""
    settings: Settings = request.app.state.settings
    locale = negotiate(request, settings.default_locale)
    zone = ZoneInfo(settings.timezone)
    full = {
        "request": request,
        "local": lambda moment: moment.astimezone(zone),
        "locale": locale,
        "_": translator(locale),
        "csrf_token": csrf_token(request, settings.signing_key()),
        "actor": context.pop("actor", None),
        **context,
    }
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    response.headers["Content-Language"] = locale
    set_csrf_cookie(request, response, secure=settings.secure_cookies)
    if request.query_params.get("lang") == locale:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            samesite="lax",
            secure=settings.secure_cookies,
            max_age=365 * 24 * 3600,
        )
    return response


def render_error_page(request: Request, error: BeffroiError, status: int) -> Response:
    """The HTML twin of problem+json."""
    return render(request, "error.html", {"error": error, "status": status}, status_code=status)
