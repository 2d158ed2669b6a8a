"""The README's command and API tables name only what exists (docs that cannot drift)."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from beffroi.cli import COMMAND_MODULES
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_command_of_the_readme_exists_and_every_command_is_there() -> None:
    named = set(re.findall(r"^\| `beffroi ([a-z-]+)", README, flags=re.MULTILINE))
    assert named == set(COMMAND_MODULES)


def test_every_api_path_of_the_readme_is_served(client: TestClient) -> None:
    paths = set(client.app.openapi()["paths"])  # type: ignore[attr-defined]
    # docs, openapi and the pages (nested routers, out of the OpenAPI schema)
    paths |= {getattr(c, "path", "") for c in iter_route_contexts(client.app.router.routes)}
    served = {re.sub(r"\{[^}]+\}", "{}", path) for path in paths}
    rows = re.findall(r"^\| `(?:[A-Z]+ )?(/[^`]*)`", README, flags=re.MULTILINE)
    assert rows
    missing = []
    for row in rows:
        for candidate in re.split(r"`, `(?:[A-Z]+ )?", row):
            path = re.sub(r"\{[^}]+\}", "{}", candidate.split(" ")[0].split("?")[0])
            path = path.replace("{}.{csv,json,ndjson,parquet,xlsx}", "{}.{}")
            if path.startswith("/api/3/action"):
                path = "/api/3/action/{}"
            elif path.startswith("/catalog"):
                path = "/catalog"
            elif path.endswith(".zip") and not path.startswith("/"):
                continue
            if not any(s == path or s.startswith(path.rstrip("…").rstrip("/")) for s in served):
                missing.append(candidate)
    assert not missing, missing
