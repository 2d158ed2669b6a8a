"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import logging
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from beffroi import __version__
from beffroi.catalog import usage
from beffroi.catalog.db import check_schema_current, engine_for, session_factory
from beffroi.jobs import JobRunner, recover_interrupted
from beffroi.settings import Settings, load_settings
from beffroi.web import errors
from beffroi.web.api import router as api_router
from beffroi.web.limits import MULTIPART_MARGIN, BodyLimitMiddleware
from beffroi.web.pages import router as pages_router
from beffroi.web.security import SecurityHeadersMiddleware

DESCRIPTION = """API de Beffroi, la plateforme de données mutualisée d'une intercommunalité.

Every error is answered as `application/problem+json` (RFC 9457). Authenticate with
`Authorization: Bearer <token>` (create one with `beffroi token create`)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for one instance (checks the catalogue is migrated)."""
    settings = settings or load_settings()
    settings.signing_key()  # fail now, with a fix hint, if the instance has no secret
    engine = engine_for(settings)
    check_schema_current(engine)
    logging.getLogger("beffroi").setLevel(settings.log_level)

    app = FastAPI(
        title="Beffroi",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below with local assets: nothing is fetched from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.jobs = JobRunner(settings, app.state.session_factory)
    recover_interrupted(app.state.session_factory, app.state.jobs.uploads_dir)
    from beffroi.crossings.services import Worker  # noqa: PLC0415 - issue 5

    app.state.views = Worker(app.state.session_factory, settings).start()  # view recomputation
    app.state.jobs.on_tick(app.state.views.wake)  # view jobs queued by other processes
    app.router.lifespan_context = app.state.jobs.lifespan  # background indicator refresh
    app.state.jobs.on_tick(usage.flusher(engine))  # usage counters, batched (issue 8)
    app.router.lifespan_context = usage.flushing_lifespan(app.state.jobs.lifespan, engine)
    errors.install(app)
    app.include_router(api_router)
    app.include_router(pages_router)
    static_dir = resources.files("beffroi.web") / "static"
    apidocs_dir = resources.files("fastapi_offline") / "static"
    app.mount("/static/apidocs", StaticFiles(directory=str(apidocs_dir)), name="apidocs")
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Beffroi — API",
            swagger_js_url="/static/apidocs/swagger-ui-bundle.js",
            swagger_css_url="/static/apidocs/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.upload_max_mb * 1024 * 1024 + MULTIPART_MARGIN
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
