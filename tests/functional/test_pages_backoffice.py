"""Back office pages: « Mes jetons », members and roles, sharing agreements."""

from __future__ import annotations

import datetime as dt
import html
import re

from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.access.agreements import AgreementCreate, create_agreement
from beffroi.catalog.db import transaction
from beffroi.web.security import CSRF_FIELD

from .conftest import DemoInstance, csrf_from, login

HTML = {"Accept": "text/html"}


def _signed_in(client: TestClient, demo: DemoInstance, username: str) -> None:
    response = login(client, username, demo.password(username))
    assert response.status_code == 303, response.text


def _get(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == status, response.text
    return html.unescape(response.text)


def _post(client: TestClient, path: str, data: dict[str, str], page: str):  # type: ignore[no-untyped-def]
    form = {CSRF_FIELD: csrf_from(client.get(page, headers=HTML).text), **data}
    return client.post(path, data=form, headers=HTML, follow_redirects=False)


# ---------------------------------------------------------------- tokens


def test_tokens_page_asks_to_sign_in(client: TestClient) -> None:
    response = client.get("/compte/jetons", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?next=/compte/jetons"


def test_create_use_and_revoke_a_token(client: TestClient, demo_instance: DemoInstance) -> None:
    _signed_in(client, demo_instance, "editeur-mobilites")
    assert "Aucun jeton pour le moment." in _get(client, "/compte/jetons")
    created = _post(
        client,
        "/compte/jetons",
        {"name": "script de test", "scope": "read", "days": "30"},
        "/compte/jetons",
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'<code class="secret" id="secret">([^<]+)</code>', created.text)
    assert secret, created.text
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    # The token works, read-only as asked.
    assert client.get("/api/v1/tokens", headers=bearer).status_code == 200
    listed = _get(client, "/compte/jetons")
    assert "script de test" in listed
    assert "lecture seule" in listed
    assert secret.group(1) not in listed  # shown once only
    token_id = re.search(r'action="/compte/jetons/(\d+)/revoquer"', listed)
    assert token_id
    revoked = _post(client, f"/compte/jetons/{token_id.group(1)}/revoquer", {}, "/compte/jetons")
    assert revoked.status_code == 303
    assert "Jeton révoqué" in _get(client, "/compte/jetons?revoque=1")
    client.cookies.clear()
    assert client.get("/api/v1/datasets", headers=bearer).status_code == 401


def test_token_form_errors_are_shown_on_the_page(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    _signed_in(client, demo_instance, "editeur-mobilites")
    response = _post(
        client, "/compte/jetons", {"name": "trop long", "days": "100000"}, "/compte/jetons"
    )
    assert response.status_code == 422
    assert "Durée de validité hors limites" in html.unescape(response.text)
    assert 'value="trop long"' in response.text  # the form keeps what was typed


def test_forms_without_csrf_are_refused(client: TestClient, demo_instance: DemoInstance) -> None:
    _signed_in(client, demo_instance, "editeur-mobilites")
    response = client.post("/compte/jetons", data={"name": "x"}, headers=HTML)
    assert response.status_code == 403
    response = client.post(
        "/organisations/service-sig/membres", data={"username": "x"}, headers=HTML
    )
    assert response.status_code == 403


def test_another_users_token_cannot_be_revoked(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    from .conftest import issue_token

    other, _secret = issue_token(client, "lecteur-eau")
    _signed_in(client, demo_instance, "editeur-mobilites")
    response = _post(client, f"/compte/jetons/{other}/revoquer", {}, "/compte/jetons")
    assert response.status_code == 404


# ---------------------------------------------------------------- members


def test_members_page_is_not_found_for_non_stewards(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    _get(client, "/organisations/service-sig/membres", 404)
    _signed_in(client, demo_instance, "lecteur-eau")  # a viewer of another organisation
    _get(client, "/organisations/direction-eau-assainissement/membres", 404)  # its own: viewer
    _get(client, "/organisations/service-sig/membres", 404)


def test_a_steward_sees_the_members_but_does_not_manage_them(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    _signed_in(client, demo_instance, "referente-sig")
    text = _get(client, "/organisations/service-sig/membres")
    assert "referente-sig" in text
    assert "référent" in text
    assert 'action="/organisations/service-sig/membres"' not in text
    assert "Seuls les administrateurs" in text
    assert "/organisations/service-sig/membres" in _get(client, "/compte/jetons")


def test_an_administrator_adds_changes_and_removes_a_member(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    page = "/organisations/service-sig/membres"
    _signed_in(client, demo_instance, "admin")
    added = _post(client, page, {"username": "lecteur-eau", "role": "editor"}, page)
    assert added.status_code == 303
    text = _get(client, page + "?fait=ajout")
    assert re.search(r"<th scope=\"row\">lecteur-eau</th>.*?<td>éditeur</td>", text, re.S)
    unknown = _post(client, page, {"username": "personne", "role": "viewer"}, page)
    assert unknown.status_code == 422
    assert "Utilisateur introuvable : personne" in html.unescape(unknown.text)
    removed = _post(client, page + "/retirer", {"username": "lecteur-eau"}, page)
    assert removed.status_code == 303
    assert '<th scope="row">lecteur-eau</th>' not in _get(client, page)
    # The steward now sees the change (and the audit log has both).
    client.cookies.clear()
    _signed_in(client, demo_instance, "referente-sig")
    assert "lecteur-eau" not in _get(client, page)


def test_members_page_in_english(client: TestClient, demo_instance: DemoInstance) -> None:
    _signed_in(client, demo_instance, "admin")
    text = _get(client, "/organisations/service-sig/membres?lang=en")
    assert "Members and roles" in text
    assert "steward" in text


# ---------------------------------------------------------------- agreements


def _agreement(client: TestClient) -> None:
    now = dt.datetime.now(dt.UTC)
    with transaction(client.app.state.session_factory) as session:
        create_agreement(
            session,
            Actor.system(name="test"),
            AgreementCreate(
                title="Arbres pour le délégataire",
                owner="service-sig",
                grantees=["eau-du-morbihan-delegataire"],
                datasets=["arbres-alignement"],
                purpose="Entretien des réseaux sous les arbres",
                legal_basis="convention n° 12",
                starts_at=now,
                ends_at=now + dt.timedelta(days=365),
            ),
        )


def test_agreements_page(client: TestClient, demo_instance: DemoInstance) -> None:
    _agreement(client)
    response = client.get("/conventions", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    _signed_in(client, demo_instance, "editeur-mobilites")  # an editor, steward nowhere
    _get(client, "/conventions", 404)
    assert "/conventions" not in _get(client, "/")
    client.cookies.clear()
    _signed_in(client, demo_instance, "referente-sig")
    text = _get(client, "/conventions")
    assert "Arbres pour le délégataire" in text
    assert "brouillon" in text
    assert "Délégataire eau potable (démonstration)" in text
    assert 'href="/jeux-de-donnees/arbres-alignement"' in text
    assert 'href="/conventions"' in _get(client, "/")  # the header link
