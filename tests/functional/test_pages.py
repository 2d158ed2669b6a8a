"""The server-rendered portal: French first, English available, sign-in with CSRF."""

from __future__ import annotations

import datetime as dt
import html
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from beffroi import reference
from beffroi.catalog.db import transaction
from beffroi.catalog.demo import DEMO_EPCI_SIREN
from beffroi.catalog.models import Dataset
from beffroi.web.app import create_app
from beffroi.web.i18n import LANG_COOKIE
from beffroi.web.security import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE

from .conftest import DemoInstance, bearer, csrf_from, login

HTML = {"Accept": "text/html"}
PUBLIC_TITLES = [
    "Subventions versées aux associations",
    "Bornes de recharge pour véhicules électriques (IRVE)",
    "Stationnement cyclable",
    "Arbres d'alignement",
]
INTERNAL_TITLE = "Budget primitif de l'agglomération"
PARTNER_TITLE = "Consommation d'eau potable par commune"


def page(client: TestClient, path: str) -> str:
    """The unescaped text of a page that must answer 200."""
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def set_cookies(response: object) -> dict[str, SimpleCookie]:
    """The Set-Cookie headers of a response, by cookie name."""
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def stays_on_site(location: str) -> bool:
    """Whether a redirect target resolves, as a browser would, to the same site."""
    target = urljoin("http://testserver/connexion", location.replace("\\", "/"))
    return urlsplit(target).netloc == "testserver"


# ---------------------------------------------------------------- home and language


def test_home_in_french_lists_the_epci_and_every_member_commune(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    assert response.headers["content-language"] == "fr"
    text = page(client, "/")
    assert '<html lang="fr">' in text
    epci = reference.epci(DEMO_EPCI_SIREN)
    assert epci.name in text
    members = reference.epci_members(DEMO_EPCI_SIREN)
    assert len(members) == 25
    for commune in members:
        assert commune.name in text, commune.name
        assert commune.code_insee in text
    assert "25 communes membres" in text
    assert "Communes membres" in text
    assert "Derniers jeux de données" in text


def test_home_shows_public_datasets_only_to_anonymous(client: TestClient) -> None:
    text = page(client, "/")
    for title in PUBLIC_TITLES:
        assert title in text
    assert INTERNAL_TITLE not in text
    assert PARTNER_TITLE not in text
    assert "Jeux de données (4)" in text


def test_home_answers_head(client: TestClient) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_english_on_request_and_remembered(client: TestClient) -> None:
    response = client.get("/?lang=en", headers=HTML)
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert '<html lang="en">' in text
    assert "Member communes" in text
    assert "Latest datasets" in text
    assert "Communes membres" not in text
    assert response.headers["content-language"] == "en"
    cookies = set_cookies(response)
    assert cookies[LANG_COOKIE][LANG_COOKIE].value == "en"
    # The choice sticks without the parameter, and ?lang=fr switches back.
    assert '<html lang="en">' in page(client, "/accessibilite")
    assert '<html lang="fr">' in page(client, "/?lang=fr")
    assert '<html lang="fr">' in page(client, "/")


def test_unknown_language_falls_back_to_french(client: TestClient) -> None:
    response = client.get("/?lang=xx", headers=HTML)
    assert '<html lang="fr">' in response.text
    assert LANG_COOKIE not in set_cookies(response)


def test_security_headers(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


# ---------------------------------------------------------------- dataset and organisation pages


def test_dataset_page_shows_the_metadata(client: TestClient) -> None:
    text = page(client, "/jeux-de-donnees/subventions-associations")
    assert "<h1>Subventions versées aux associations</h1>" in text
    assert "<strong>SCDL Subventions</strong>" in text  # Markdown rendered
    assert "Licence Ouverte / Open Licence 2.0" in text
    assert "annuelle" in text  # frequency label
    assert "CA Lorient Agglomération" in text  # spatial coverage, named
    assert "EPCI (intercommunalité)" in text  # granularity label
    assert "01/01/2025 \u2013 31/12/2025" in text  # en dash
    assert "scdl/subventions" in text
    assert "Économie et finances" in text
    assert "donnees@demo.example.org" in text
    assert 'href="/api/v1/datasets/subventions-associations"' in text


def test_dataset_page_names_the_communes_covered(client: TestClient) -> None:
    text = page(client, "/jeux-de-donnees/stationnement-cyclable")
    assert "Lorient (56121)" in text
    assert 'href="/organisations/lorient"' in text
    assert "Direction des mobilités" in text


def test_dataset_page_in_english(client: TestClient) -> None:
    text = page(client, "/jeux-de-donnees/subventions-associations?lang=en")
    assert "Spatial coverage" in text
    assert "annual" in text
    assert "Economy and finance" in text


def test_dataset_list_page_searches(client: TestClient) -> None:
    text = page(client, "/jeux-de-donnees?q=cyclable")
    assert "1 jeux de données" in text
    assert "Stationnement cyclable" in text
    assert "Arbres" not in text
    assert 'value="cyclable"' in text


def test_organisation_page(client: TestClient) -> None:
    text = page(client, "/organisations/lorient")
    assert "<h1>Lorient</h1>" in text
    assert "56121" in text
    assert "215601212" in text  # SIREN
    assert 'href="/organisations/lorient-agglomeration"' in text  # parent
    epci = page(client, "/organisations/lorient-agglomeration")
    assert "Subventions versées aux associations" in epci
    assert INTERNAL_TITLE not in epci  # its internal dataset is hidden from anonymous
    for commune in reference.epci_members(DEMO_EPCI_SIREN):
        assert commune.name in epci
    partner = page(client, "/organisations/eau-du-morbihan-delegataire")
    assert PARTNER_TITLE not in partner
    assert "Jeux de données (0)" in partner


def test_unknown_organisation_page_is_404(client: TestClient) -> None:
    response = client.get("/organisations/atlantide", headers=HTML)
    assert response.status_code == 404
    assert "Introuvable" in response.text


def test_renamed_dataset_page_redirects(client: TestClient) -> None:
    editor = bearer(client, "editeur-mobilites")
    renamed = client.patch(
        "/api/v1/datasets/stationnement-cyclable", json={"slug": "arceaux-velo"}, headers=editor
    )
    assert renamed.status_code == 200
    response = client.get(
        "/jeux-de-donnees/stationnement-cyclable", headers=HTML, follow_redirects=False
    )
    assert response.status_code == 308
    assert urlsplit(response.headers["location"]).path == "/jeux-de-donnees/arceaux-velo"


def test_accessibility_page(client: TestClient) -> None:
    text = page(client, "/accessibilite")
    assert "Déclaration d'accessibilité" in text
    assert "RGAA" in text
    assert "Accessibility statement" in page(client, "/accessibilite?lang=en")


# ---------------------------------------------------------------- Markdown safety


def test_markdown_is_rendered_but_raw_html_is_escaped(client: TestClient) -> None:
    editor = bearer(client, "editeur-mobilites")
    description = (
        "Comptages **vélo** par [site](https://example.org/comptages).\n\n"
        "<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(2)">\n\n'
        "[piège](javascript:alert(3))"
    )
    body = {
        "title": "Comptages vélo <b>gras</b>",
        "slug": "comptages-velo",
        "publisher": "direction-mobilites",
        "description": description,
    }
    assert client.post("/api/v1/datasets", json=body, headers=editor).status_code == 201

    raw = client.get("/jeux-de-donnees/comptages-velo", headers=HTML).text
    assert "<strong>vélo</strong>" in raw
    assert '<a href="https://example.org/comptages">site</a>' in raw
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<img" not in raw
    assert 'href="javascript:' not in raw
    assert "<b>gras</b>" not in raw
    assert "&lt;b&gt;gras&lt;/b&gt;" in raw
    # Lists show the description as plain text, still escaped.
    for listing in ("/", "/jeux-de-donnees", "/organisations/direction-mobilites"):
        listed = client.get(listing, headers=HTML).text
        assert "Comptages vélo" in listed
        assert "<script>" not in listed
        assert "<img" not in listed
        assert "<b>gras</b>" not in listed


# ---------------------------------------------------------------- sign in / sign out


def test_login_form_sets_a_csrf_cookie_and_a_signed_field(client: TestClient) -> None:
    response = client.get("/connexion", headers=HTML)
    assert response.status_code == 200
    cookies = set_cookies(response)
    nonce = cookies[CSRF_COOKIE][CSRF_COOKIE]
    assert nonce["httponly"]
    assert nonce["samesite"].lower() == "strict"
    field = csrf_from(response.text)
    assert field.startswith(nonce.value + ".")  # the cookie's nonce, signed
    assert field != nonce.value
    # The same nonce (and field) is reused while the cookie lives.
    again = client.get("/connexion", headers=HTML)
    assert CSRF_COOKIE not in set_cookies(again)
    assert csrf_from(again.text) == field


def test_login_with_a_bad_password_is_401_without_session(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    response = login(client, "admin", demo_instance.password("admin") + "x")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in html.unescape(response.text)
    assert 'aria-invalid="true"' in response.text
    assert SESSION_COOKIE not in set_cookies(response)
    assert SESSION_COOKIE not in client.cookies


def test_login_of_an_unknown_user_says_the_same(client: TestClient) -> None:
    response = login(client, "personne", "un-mot-de-passe-quelconque")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in html.unescape(response.text)


def test_login_without_csrf_token_is_403(client: TestClient, demo_instance: DemoInstance) -> None:
    response = login(client, "admin", demo_instance.password("admin"), with_csrf=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookies(response)


@pytest.mark.parametrize("forge", ["random", "cookie value", "other signature"])
def test_login_with_a_forged_csrf_token_is_403(
    client: TestClient, demo_instance: DemoInstance, forge: str
) -> None:
    form = client.get("/connexion", headers=HTML)
    nonce = client.cookies[CSRF_COOKIE]
    forged = {
        "random": "x" * 43,
        # The plain double-submit value an attacker able to plant the cookie would send.
        "cookie value": nonce,
        "other signature": f"{nonce}.{'0' * 64}",
    }[forge]
    assert forged != csrf_from(form.text)
    response = client.post(
        "/connexion",
        data={
            "username": "admin",
            "password": demo_instance.password("admin"),
            CSRF_FIELD: forged,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookies(response)


def test_a_planted_csrf_cookie_does_not_help_a_forger(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    planted = "a" * 43
    client.cookies.set(CSRF_COOKIE, planted)
    response = client.post(
        "/connexion",
        data={
            "username": "admin",
            "password": demo_instance.password("admin"),
            CSRF_FIELD: planted,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_good_login_opens_a_session(client: TestClient, demo_instance: DemoInstance) -> None:
    anonymous_home = page(client, "/")
    assert "lecteur-eau" not in anonymous_home

    response = login(client, "lecteur-eau", demo_instance.password("lecteur-eau"))
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session_cookie = set_cookies(response)[SESSION_COOKIE][SESSION_COOKIE]
    assert session_cookie.value
    assert session_cookie["httponly"]
    assert session_cookie["samesite"].lower() == "lax"
    assert session_cookie["path"] == "/"
    assert int(session_cookie["max-age"]) == (demo_instance.settings.session_lifetime_hours * 3600)
    assert not session_cookie["secure"]  # http base URL; https turns it on

    home = page(client, "/")
    assert "Connecté en tant que" in home
    assert "<strong>lecteur-eau</strong>" in home
    assert INTERNAL_TITLE in home  # internal: any member
    assert PARTNER_TITLE not in home  # the partner's own dataset
    assert page(client, "/jeux-de-donnees/budget-primitif-agglomeration")


def test_login_goes_back_to_next(client: TestClient, demo_instance: DemoInstance) -> None:
    target = "/jeux-de-donnees/budget-primitif-agglomeration"
    response = login(client, "admin", demo_instance.password("admin"), next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == target
    assert INTERNAL_TITLE in page(client, target)


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example",
        "//evil.example/connexion",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(
    client: TestClient, demo_instance: DemoInstance, evil: str
) -> None:
    response = login(client, "admin", demo_instance.password("admin"), next_url=evil)
    assert response.status_code == 303
    location = response.headers["location"]
    assert stays_on_site(location), location
    assert "evil.example" not in urlsplit(urljoin("http://testserver/", location)).netloc


def test_logout_ends_the_session_server_side(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    assert login(client, "admin", demo_instance.password("admin")).status_code == 303
    old_cookie = client.cookies[SESSION_COOKIE]
    home = client.get("/", headers=HTML).text
    assert "<strong>admin</strong>" in home

    # Signing out needs the form's CSRF token too.
    refused = client.post("/deconnexion", headers=HTML, follow_redirects=False)
    assert refused.status_code == 403
    assert "<strong>admin</strong>" in client.get("/", headers=HTML).text

    response = client.post(
        "/deconnexion",
        data={CSRF_FIELD: csrf_from(home)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert SESSION_COOKIE not in client.cookies
    assert "<strong>admin</strong>" not in client.get("/", headers=HTML).text

    # Replaying the old cookie does not bring the session back.
    client.cookies.set(SESSION_COOKIE, old_cookie)
    replay = client.get("/", headers=HTML).text
    assert "<strong>admin</strong>" not in replay
    assert "Se connecter" in replay
    assert INTERNAL_TITLE not in html.unescape(replay)


def test_a_forged_session_cookie_is_anonymous(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "x" * 43)
    text = page(client, "/")
    assert "Connecté en tant que" not in text
    assert INTERNAL_TITLE not in text


def test_dates_are_shown_in_the_instance_time_zone(demo_instance: DemoInstance) -> None:
    app = create_app(demo_instance.settings)
    late_evening = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)  # 1 January in Paris
    with transaction(app.state.session_factory) as session:
        dataset = session.query(Dataset).filter_by(slug="arbres-alignement").one()
        dataset.modified_at = late_evening
    with TestClient(app) as client:
        page = client.get("/jeux-de-donnees/arbres-alignement").text
    app.state.engine.dispose()
    assert "01/01/2026" in page
    assert "31/12/2025" not in page
