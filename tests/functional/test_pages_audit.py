"""The audit log viewer: administrators only (404 to anyone else), filters, pages, CSV."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from .conftest import DemoInstance, bearer, login

HTML = {"Accept": "text/html"}


def _signed_in(client: TestClient, demo: DemoInstance, username: str) -> None:
    client.cookies.clear()
    response = login(client, username, demo.password(username))
    assert response.status_code == 303, response.text


def test_only_administrators_see_the_log(client: TestClient, demo_instance: DemoInstance) -> None:
    assert client.get("/admin/journal", headers=HTML).status_code == 404
    _signed_in(client, demo_instance, "referente-sig")
    assert client.get("/admin/journal", headers=HTML).status_code == 404
    assert 'href="/admin/journal"' not in client.get("/", headers=HTML).text
    _signed_in(client, demo_instance, "admin")
    page = client.get("/admin/journal", headers=HTML)
    assert page.status_code == 200
    assert 'href="/admin/journal"' in client.get("/", headers=HTML).text  # header link


def test_filters_pages_and_csv(client: TestClient, demo_instance: DemoInstance) -> None:
    for name in ("premier", "deuxième", "troisième"):
        answer = client.post(
            "/api/v1/tokens", json={"name": f"jeton {name}"}, headers=bearer(client, "admin")
        )
        assert answer.status_code == 201, answer.text
    _signed_in(client, demo_instance, "admin")
    text = html.unescape(client.get("/admin/journal?action=token.*", headers=HTML).text)
    rows = text.count("<code>token.create</code>")
    assert rows >= 3
    assert "<code>dataset.create</code>" not in text  # filtered out
    assert 'href="/api/v1/audit.csv?action=token.%2A"' in text
    csv = client.get("/api/v1/audit.csv?action=token.%2A")
    assert csv.status_code == 200
    assert csv.text.count("token.create") == rows

    # Keyset pages of 50: every event shows once over the pages.
    seen: list[str] = []
    url = "/admin/journal"
    while url:
        page = html.unescape(client.get(url, headers=HTML).text)
        seen += [line for line in page.splitlines() if "<time datetime=" in line]
        start = page.find('rel="next"')
        if start < 0:
            break
        href = page.rfind('href="', 0, start)
        url = "/admin/journal" + page[href + 6 : page.index('"', href + 6)]
    everything = client.get("/api/v1/audit.csv").text.strip().splitlines()
    assert len(seen) == len(everything) - 1  # minus the header

    english = client.get("/admin/journal?lang=en", headers=HTML).text
    assert "Audit log" in english
    bad = client.get("/admin/journal?du=01/12/2026&lang=fr", headers=HTML)
    assert bad.status_code == 422
    assert "AAAA-MM-JJ" in html.unescape(bad.text)
    future = client.get("/admin/journal?du=2999-01-01", headers=HTML)
    assert "Aucun événement ne correspond" in html.unescape(future.text)
