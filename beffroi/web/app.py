"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import logging
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from beffroi import __version__
from beffroi.catalog.db import check_schema_current, engine_for, session_factory
from beffroi.settings import Settings, load_settings
from beffroi.web import errors
from beffroi.web.api import router as api_router
from beffroi.web.pages import router as pages_router

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
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    errors.install(app)
    app.include_router(api_router)
    app.include_router(pages_router)
    static_dir = resources.files("beffroi.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    return app
