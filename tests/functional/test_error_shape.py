"""One error shape for the whole API (RFC 9457 problem+json), pinned here.

Like datasette's ``tests/test_error_shape.py``: whatever fails — routing, validation,
authentication, permissions, conflicts — the client gets the same keys, so it can handle
errors in one place. Pages asking for HTML get the same content as an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beffroi.errors import all_error_classes

from .conftest import bearer

REQUIRED = {"type", "title", "status", "detail", "instance", "code"}
# The other language's text (RFC 9457 extension members): *_en in French answers, *_fr in
# English ones, when the error has English text.
OTHER_LANGUAGE = {"fr": {"detail_en", "hint_en"}, "en": {"detail_fr", "hint_fr"}}
OPTIONAL = {"hint", "errors"} | OTHER_LANGUAGE["fr"] | OTHER_LANGUAGE["en"]
LANGUAGES = {"fr": None, "en": "en-GB,en;q=0.9,fr;q=0.5"}
VALID_BODY = {"title": "Aires de covoiturage", "publisher": "direction-mobilites"}


@dataclass(frozen=True)
class Case:
    """A failing request and what it must answer."""

    method: str
    path: str
    status: int
    code: str
    json: Any = None
    content: bytes | None = None
    as_user: str | None = None
    headers: dict[str, str] | None = None


CASES = {
    "unknown api route": Case("GET", "/api/v1/nulle-part", 404, "not-found"),
    "unknown route outside the api": Case("GET", "/nulle-part", 404, "not-found"),
    "unknown dataset": Case("GET", "/api/v1/datasets/atlantide", 404, "not-found"),
    "hidden dataset": Case(
        "GET", "/api/v1/datasets/budget-primitif-agglomeration", 404, "not-found"
    ),
    "unknown organisation": Case("GET", "/api/v1/organizations/atlantide", 404, "not-found"),
    "method not allowed": Case("PUT", "/api/v1/datasets", 405, "method-not-allowed"),
    "method not allowed on health": Case("DELETE", "/health", 405, "method-not-allowed"),
    "no credentials": Case(
        "POST", "/api/v1/datasets", 401, "authentication-required", json=VALID_BODY
    ),
    "malformed authorization": Case(
        "GET",
        "/api/v1/datasets",
        401,
        "authentication-required",
        headers={"Authorization": "Basic eDp5"},
    ),
    "unknown token": Case(
        "GET",
        "/api/v1/datasets",
        401,
        "authentication-required",
        headers={"Authorization": "Bearer bfr_inconnu"},
    ),
    "forbidden": Case(
        "POST",
        "/api/v1/datasets",
        403,
        "permission-denied",
        json={**VALID_BODY, "publisher": "service-sig"},
        as_user="editeur-mobilites",
    ),
    "conflict": Case(
        "POST",
        "/api/v1/datasets",
        409,
        "conflict",
        json={**VALID_BODY, "slug": "arbres-alignement"},
        as_user="editeur-mobilites",
    ),
    "body validation": Case(
        "POST",
        "/api/v1/datasets",
        422,
        "invalid-input",
        json={**VALID_BODY, "license": "WTFPL", "spatial": ["commune:1"]},
        as_user="editeur-mobilites",
    ),
    "body missing fields": Case(
        "POST", "/api/v1/datasets", 422, "invalid-input", json={}, as_user="editeur-mobilites"
    ),
    "body not json": Case(
        "POST",
        "/api/v1/datasets",
        422,
        "invalid-input",
        content=b"{pas du json",
        as_user="editeur-mobilites",
        headers={"Content-Type": "application/json"},
    ),
    "query validation": Case("GET", "/api/v1/datasets?page=0", 422, "invalid-input"),
    "query enum": Case("GET", "/api/v1/organizations?kind=planete", 422, "invalid-input"),
    "query type": Case("GET", "/api/v1/datasets?page_size=beaucoup", 422, "invalid-input"),
}


@pytest.fixture
def send(client: TestClient) -> Callable[..., Any]:
    """Send a case's request (with a token of its user, if any; in English when asked)."""

    def _send(case: Case, accept_language: str | None = None) -> Any:
        headers = dict(case.headers or {})
        if case.as_user:
            headers.update(bearer(client, case.as_user))
        if accept_language:
            headers["Accept-Language"] = accept_language
        return client.request(
            case.method, case.path, json=case.json, content=case.content, headers=headers
        )

    return _send


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_error_has_the_one_shape(send: Callable[..., Any], case: Case, lang: str) -> None:
    response = send(case, LANGUAGES[lang])
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= REQUIRED
    assert set(body) <= REQUIRED | OPTIONAL, set(body) - REQUIRED - OPTIONAL
    assert body["status"] == case.status
    assert body["code"] == case.code
    assert body["type"] == f"/docs/reference/errors#{case.code}"
    assert body["instance"] == case.path.partition("?")[0]
    for key in ("title", "detail"):
        assert isinstance(body[key], str)
        assert body[key]
    if "hint" in body:
        assert isinstance(body["hint"], str)
        assert body["hint"]
    # Only the other language's members, each a non-empty text different from the answer's.
    other = {key for key in body if key.endswith(("_en", "_fr"))}
    assert other <= OTHER_LANGUAGE[lang], other
    for key in other:
        assert isinstance(body[key], str)
        assert body[key]
        assert body[key] != body[key.rpartition("_")[0]]
    assert ("hint_en" in body or "hint_fr" in body) <= ("hint" in body)
    # Content-Language names the language of ``detail``: English only when it was asked and
    # the error has English text (its French then travels in detail_fr).
    answered = "en" if "detail_fr" in body else "fr"
    assert response.headers["content-language"] == answered
    assert "accept-language" in response.headers["vary"].lower()
    if lang == "en":
        assert body["title"] == _english_title(case.code)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    if case.status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.status == 422])
def test_validation_errors_list_each_field(send: Callable[..., Any], name: str) -> None:
    body = send(CASES[name]).json()
    assert isinstance(body["errors"], list)
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert isinstance(error["message"], str)
        assert error["message"]
        assert not error["message"].startswith("Value error")
    # The summary in ``detail`` names every field.
    for error in body["errors"]:
        if error["field"]:
            assert error["field"] in body["detail"]


def test_body_validation_names_the_bad_fields(send: Callable[..., Any]) -> None:
    body = send(CASES["body validation"]).json()
    fields = {e["field"].split(".")[0] for e in body["errors"]}
    assert fields == {"license", "spatial"}
    assert "WTFPL" in body["detail"]


def test_query_validation_names_the_parameter(send: Callable[..., Any]) -> None:
    body = send(CASES["query validation"]).json()
    assert [e["field"] for e in body["errors"]] == ["query.page"]


def test_errors_do_not_depend_on_the_accept_header_under_api(client: TestClient) -> None:
    response = client.get("/api/v1/datasets/atlantide", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_page_asked_as_html_gets_a_french_error_page(client: TestClient) -> None:
    response = client.get(
        "/page-inexistante", headers={"Accept": "text/html,application/xhtml+xml"}
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="fr">' in html
    assert "Introuvable" in html
    assert "/page-inexistante" in html
    assert "Retour à l'accueil" in html or "Retour à l&#39;accueil" in html
    assert "Traceback" not in html


def test_error_page_follows_the_chosen_language(client: TestClient) -> None:
    response = client.get("/page-inexistante?lang=en", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert '<html lang="en">' in response.text
    assert "Not found" in response.text
    assert "Back to home" in response.text


def test_hidden_dataset_page_is_a_404_page_like_an_unknown_one(client: TestClient) -> None:
    html = {"Accept": "text/html"}
    hidden = client.get("/jeux-de-donnees/budget-primitif-agglomeration", headers=html)
    unknown = client.get("/jeux-de-donnees/atlantide", headers=html)
    assert hidden.status_code == unknown.status_code == 404
    assert "Introuvable" in hidden.text
    assert "Budget primitif" not in hidden.text  # the title does not leak


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/datasets", "GET, POST"),
        ("POST", "/api/v1/datasets/arbres-alignement", "GET, PATCH, DELETE"),
        ("DELETE", "/health", "GET, HEAD"),
        ("GET", "/deconnexion", "POST"),
    ],
)
def test_405_lists_every_allowed_method(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_problem_type_links_to_the_error_catalogue(
    client: TestClient, send: Callable[..., Any]
) -> None:
    one_per_code = {case.code: case for case in CASES.values()}
    for case in one_per_code.values():
        problem_type = send(case).json()["type"]
        path, _, anchor = problem_type.partition("#")
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, problem_type
        assert f'id="{anchor}"' in page.text, problem_type


def _english_title(code: str) -> str:
    return next(cls.title_en for cls in all_error_classes() if cls.code == code)


@pytest.mark.parametrize(
    "name", ["unknown api route", "method not allowed", "body validation", "query type"]
)
def test_errors_raised_by_the_renderer_speak_both_languages(
    send: Callable[..., Any], name: str
) -> None:
    french = send(CASES[name]).json()
    english = send(CASES[name], "en").json()
    assert english["detail"] == french["detail_en"]
    assert english["detail_fr"] == french["detail"]
    assert english["hint"] == french["hint_en"]
    assert english["hint_fr"] == french["hint"]
    assert english.get("errors") == french.get("errors")
