"""CKAN-compatible Action API (read-only): ``/api/3/action/{name}`` and ``/api/action/{name}``.

Answers CKAN's envelope (``help``, ``success``, ``result`` or ``error`` with ``__type``), never
problem+json, so that CKAN clients (``ckanapi``, harvesters) understand every answer. It reads
as the anonymous visitor whatever the credentials sent: only public datasets appear.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from beffroi.catalog.usage import DatasetRef, record_use
from beffroi.errors import BeffroiError, UserError
from beffroi.publish import ckan
from beffroi.web.deps import SessionDep, SettingsDep

logger = logging.getLogger("beffroi.web")
router = APIRouter(tags=["ckan"])

_STATUS = {
    "Not Found Error": 404,
    "Validation Error": 409,
    "Search Query Error": 409,
    "Bad Request": 400,
}
_DESCRIPTION = (
    "CKAN Action API v3 (read-only, public datasets): "
    + ", ".join(sorted(ckan.ALL_ACTIONS))
    + ". Parameters as a query string (GET) or a JSON object (POST)."
)


def _answer(
    request: Request, session: SessionDep, settings: SettingsDep, name: str, params: Any
) -> Any:
    base_url = settings.base_url
    help_url = f"{base_url}/api/3/action/help_show?name={name}"
    if not isinstance(params, dict):
        params = {}
    try:
        result = ckan.call(session, base_url, name, params, settings=settings)
    except BeffroiError as error:
        kind = ckan.ckan_error_type(error)
        status = _STATUS.get(kind, 400 if isinstance(error, UserError) else 500)
        if status >= 500:
            logger.exception("CKAN action %s failed on %s", name, request.url.path)
        body: dict[str, Any] = {"__type": kind, "message": f"{kind}: {error.message}"}
        if error.hint:
            body["hint"] = error.hint
        for problem in error.details.get("errors", []):
            if problem.get("field"):
                body[problem["field"]] = [problem["message"]]
        return JSONResponse({"help": help_url, "success": False, "error": body}, status_code=status)
    used = _dataset_used(name, params, result)
    if used is not None:
        record_use(session, used, "api")  # in memory: flushed in batches
    return JSONResponse({"help": help_url, "success": True, "result": result})


_STORE_KEY = re.compile(r"ds-([0-9]{1,18})")


def _ref(key: str) -> DatasetRef:
    """A dataset id for a store key (``ds-<n>``), else the slug as given."""
    match = _STORE_KEY.fullmatch(key)
    return int(match.group(1)) if match else key


def _dataset_used(name: str, params: dict[str, Any], result: Any) -> DatasetRef | None:
    """The one dataset a successful action read: ``package_show`` and ``resource_show``
    (its metadata), ``datastore_search`` (its records). Listings and searches count none,
    and neither does ``datastore_search_sql`` (the query service does not say which tables
    a query read)."""
    if not isinstance(result, dict):
        return None
    if name == "package_show":
        return _ref(str(result.get("id") or "")) or None
    if name == "resource_show":
        return _ref(str(result.get("package_id") or "")) or None
    if name == "datastore_search":
        # As the DataStore resolves it: ``ds-<n>-<format>``, else a package id or a slug.
        resource = str(params.get("resource_id") or params.get("id") or "")
        key, _, _suffix = resource.rpartition("-")
        return _ref(key if key.startswith("ds-") else resource) or None
    return None


def _register(prefix: str, *, in_schema: bool) -> None:
    @router.get(
        f"{prefix}/{{name}}",
        summary="CKAN action (GET)",
        description=_DESCRIPTION,
        include_in_schema=in_schema,
        operation_id=f"ckan_get_{prefix.strip('/').replace('/', '_')}",
    )
    def get_action(name: str, request: Request, session: SessionDep, settings: SettingsDep) -> Any:
        """Run a CKAN action with query-string parameters."""
        params: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            params[key] = [*params[key], value] if key in params and key == "facet.field" else value
        return _answer(request, session, settings, name, params)

    @router.post(
        f"{prefix}/{{name}}",
        summary="CKAN action (POST JSON)",
        description=_DESCRIPTION,
        include_in_schema=in_schema,
        operation_id=f"ckan_post_{prefix.strip('/').replace('/', '_')}",
    )
    def post_action(
        name: str,
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> Any:
        """Run a CKAN action with a JSON object of parameters."""
        return _answer(request, session, settings, name, body or {})


_register("/api/3/action", in_schema=True)
_register("/api/action", in_schema=False)  # the address ckanapi and older clients call
