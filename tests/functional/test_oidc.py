"""OpenID Connect login against a real local provider (``oidc-provider-mock``).

The provider runs as its own process on a free port of 127.0.0.1 (client registration and
nonce required); Beffroi is served by uvicorn on another port, configured as its client. A
real HTTP client follows the redirects between the two, as a browser would, and the
provider's own authorization form chooses who signs in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from beffroi.access.oidc import (
    CALLBACK_PATH,
    LOGOUT_CALLBACK_PATH,
    NO_PASSWORD,
    IdentityClaims,
    OidcClient,
    seal_id_token,
    sign_in,
    unseal,
    unseal_id_token,
)
from beffroi.catalog.db import transaction
from beffroi.catalog.models import (
    AuditEvent,
    Membership,
    OidcIdentity,
    Organization,
    OrgKind,
    User,
    WebSession,
)
from beffroi.settings import Settings
from beffroi.web.app import create_app
from beffroi.web.security import CSRF_FIELD, SESSION_COOKIE
from tests.conftest import make_settings
from tests.functional.conftest import BACKENDS, DemoInstance, csrf_from
from tests.functional.test_serve import STARTUP_DEADLINE, free_port

PROVIDER_NAME = "ProConnect"
HTML = {"Accept": "text/html"}
UPLOAD_PAGE = "/jeux-de-donnees/stationnement-cyclable/deposer"  # editors of the mobility service


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The issuer URL of a real OpenID Connect provider process on a free local port."""
    port = free_port()
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
             "--port", str(port), "--require-registration=true", "--require-nonce=true"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            if process.poll() is not None:
                pytest.fail(f"provider exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"provider not up within {STARTUP_DEADLINE} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def set_claims(issuer: str, subject: str, **claims: Any) -> None:
    """Define who ``subject`` is at the provider (its ID token and userinfo claims)."""
    answer = httpx.put(f"{issuer}/users/{subject}", json=claims)
    assert answer.status_code == 204, answer.text


def register_client(issuer: str, redirect_uri: str) -> tuple[str, str]:
    """Register Beffroi at the provider (dynamic registration): (client id, secret)."""
    answer = httpx.post(
        f"{issuer}/oauth2/clients",
        json={"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_basic"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["client_id"], body["client_secret"]


@dataclass
class Site:
    """Beffroi served by uvicorn on a free port, as the provider's registered client."""

    base: str
    issuer: str
    settings: Settings
    app: FastAPI

    def browser(self, **kwargs: Any) -> httpx.Client:
        """A fresh cookie jar that follows redirects, as a browser does."""
        return httpx.Client(follow_redirects=True, headers=HTML, timeout=10, **kwargs)

    def session(self) -> Any:
        """A catalogue transaction on the site's database."""
        return transaction(self.app.state.session_factory)


def serve(settings: Settings, port: int) -> Iterator[FastAPI]:
    """Run ``create_app(settings)`` under uvicorn in a thread until the generator closes."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during startup"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def oidc_settings(demo_instance: DemoInstance, base: str, **overrides: Any) -> Settings:
    """The demo instance's settings with a provider configured and served at ``base``."""
    values: dict[str, Any] = {
        "database_url": demo_instance.settings.database_url,
        "base_url": base,
        "indicators_refresh_s": 0,
        "oidc_provider_name": PROVIDER_NAME,
        "oidc_create_users": True,
        "oidc_organization_claim": "siret",
        **overrides,
    }
    return make_settings(demo_instance.settings.data_dir, **values)


def serve_site(provider: str, demo_instance: DemoInstance, **overrides: Any) -> Iterator[Site]:
    """Beffroi on the demo instance on a free port, signing in with the local provider (a
    client registered for it), until the generator closes; ``overrides``: more settings."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id, secret = register_client(provider, base + CALLBACK_PATH)
    settings = oidc_settings(
        demo_instance,
        base,
        oidc_issuer=provider,
        oidc_client_id=client_id,
        oidc_client_secret=secret,
        **overrides,
    )
    for app in serve(settings, port):
        yield Site(base=base, issuer=provider, settings=settings, app=app)


@pytest.fixture
def site(provider: str, demo_instance: DemoInstance) -> Iterator[Site]:
    """Beffroi on the demo instance, signing in with the local provider."""
    yield from serve_site(provider, demo_instance)


def authorize(site: Site, browser: httpx.Client, next_url: str = "/") -> httpx.Response:
    """Start the login at Beffroi: the browser lands on the provider's authorization form."""
    form = browser.get(f"{site.base}/connexion/oidc", params={"next": next_url})
    assert form.status_code == 200, form.text
    assert str(form.url).startswith(f"{site.issuer}/oauth2/authorize?")
    query = parse_qs(urlsplit(str(form.url)).query)
    assert query["redirect_uri"] == [site.base + CALLBACK_PATH]
    # What was sent is what the signed cookie keeps for the callback: state, nonce, and the
    # PKCE verifier whose S256 challenge the provider got.
    pending = unseal(browser.cookies.get("beffroi_oidc"), site.settings.signing_key())
    assert query["state"] == [pending.state]
    assert query["nonce"] == [pending.nonce]
    assert query["code_challenge_method"] == ["S256"]
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    return form


def login_as(
    site: Site, browser: httpx.Client, subject: str, next_url: str = "/"
) -> httpx.Response:
    """The whole flow: Beffroi → provider form → choose ``subject`` → callback → ``next``."""
    form = authorize(site, browser, next_url)
    return browser.post(str(form.url), data={"sub": subject})


def shown(page: httpx.Response) -> str:
    """The page's text as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(page.text)


def count(site: Site, model: type[Any], *where: Any) -> int:
    with site.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_first_login_creates_an_account_and_the_next_reuses_it(site: Site) -> None:
    with site.session() as session:
        commune = session.scalars(
            select(Organization)
            .where(Organization.kind == OrgKind.COMMUNE.value, Organization.siren.is_not(None))
            .order_by(Organization.slug)
        ).first()
        assert commune is not None
        assert commune.siren
        commune_slug, siren = commune.slug, commune.siren
    users_before = count(site, User)
    set_claims(
        site.issuer,
        "agent-8f2c",
        email="Chloé.Le-Goff@mairie.example.fr",
        email_verified=True,
        given_name="Chloé",
        family_name="Le Goff",
        siret=siren + "00017",  # ProConnect names the establishment; its SIREN is the commune's
    )

    with site.browser() as browser:
        page = login_as(site, browser, "agent-8f2c", next_url="/jeux-de-donnees")
        assert page.status_code == 200, page.text
        assert str(page.url) == f"{site.base}/jeux-de-donnees"
        assert [r.status_code for r in page.history][-2:] == [302, 303]  # provider, Beffroi
        assert "Connecté en tant que <strong>chloe.le-goff</strong>" in shown(page)
        assert browser.cookies.get("beffroi_oidc") is None  # the pending login is spent

    assert count(site, User) == users_before + 1
    with site.session() as session:
        user = session.scalars(select(User).where(User.username == "chloe.le-goff")).one()
        assert user.email == "Chloé.Le-Goff@mairie.example.fr"
        assert user.full_name == "Chloé Le Goff"
        assert user.password_hash == NO_PASSWORD  # no password can ever match
        assert not user.is_platform_admin
        roles = {(m.organization.slug, m.role) for m in user.memberships}
        assert roles == {(commune_slug, "viewer")}
        identity = session.scalars(
            select(OidcIdentity).where(OidcIdentity.user_id == user.id)
        ).one()
        assert (identity.issuer, identity.subject) == (site.issuer, "agent-8f2c")
        assert identity.last_login_at is not None
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == user.id))
        )
        assert {"user.create", "oidc.link", "membership.set", "session.open"} <= actions
        user_id = user.id

    # A second login, from another browser, is the same account (linked by subject).
    with site.browser() as browser:
        page = login_as(site, browser, "agent-8f2c")
        assert page.status_code == 200
        assert "Connecté en tant que <strong>chloe.le-goff</strong>" in shown(page)
    assert count(site, User) == users_before + 1
    assert count(site, OidcIdentity, OidcIdentity.user_id == user_id) == 1
    assert count(site, Membership, Membership.user_id == user_id) == 1
    assert count(site, WebSession, WebSession.user_id == user_id) == 2


@pytest.mark.slow
def test_verified_email_links_the_existing_account_and_its_session_works(site: Site) -> None:
    set_claims(
        site.issuer,
        "kc-5501",
        email="EDITEUR-MOBILITES@demo.example.org",  # providers do not keep our case
        email_verified=True,
        name="Éditeur mobilités",
    )
    users_before = count(site, User)
    with site.browser() as anonymous:
        page = anonymous.get(site.base + UPLOAD_PAGE)
        assert str(page.url).startswith(f"{site.base}/connexion")  # sign-in required

    with site.browser() as browser:
        page = login_as(site, browser, "kc-5501", next_url=UPLOAD_PAGE)
        assert page.status_code == 200, page.text
        assert str(page.url) == site.base + UPLOAD_PAGE
        assert "Connecté en tant que <strong>editeur-mobilites</strong>" in shown(page)
        assert 'type="file"' in shown(page)  # the upload form of an editor
        cookie = browser.cookies.get(SESSION_COOKIE)
        assert cookie
    assert count(site, User) == users_before
    with site.session() as session:
        identity = session.scalars(
            select(OidcIdentity).where(OidcIdentity.subject == "kc-5501")
        ).one()
        assert identity.user.username == "editeur-mobilites"
        assert identity.user.memberships[0].role == "editor"  # unchanged

    # The session cookie alone signs in, on the pages and the JSON API alike.
    with httpx.Client(cookies={SESSION_COOKIE: cookie}) as other:
        again = other.get(site.base + UPLOAD_PAGE, headers=HTML)
        assert again.status_code == 200
        assert "editeur-mobilites" in shown(again)


@pytest.mark.slow
def test_unverified_email_is_neither_linked_nor_reused(site: Site) -> None:
    set_claims(site.issuer, "kc-9911", email="lecteur-eau@demo.example.org", email_verified=False)
    with site.browser() as browser:
        page = login_as(site, browser, "kc-9911")
        assert page.status_code == 401
        assert str(page.url).startswith(site.base + CALLBACK_PATH)
        assert "ne peut pas être associé à votre identité ProConnect" in shown(page)
        assert "adresse non vérifiée" in shown(page)
        assert browser.cookies.get(SESSION_COOKIE) is None
    assert count(site, OidcIdentity, OidcIdentity.subject == "kc-9911") == 0


@pytest.mark.slow
def test_a_tampered_or_replayed_state_is_refused(site: Site) -> None:
    set_claims(site.issuer, "agent-77", email="agent77@example.fr", email_verified=True)
    with site.browser() as browser:
        form = authorize(site, browser)
        to_callback = browser.post(str(form.url), data={"sub": "agent-77"}, follow_redirects=False)
        assert to_callback.status_code == 302
        callback = urlsplit(to_callback.headers["location"])
        params = parse_qs(callback.query)
        assert set(params) >= {"code", "state"}
        forged = {"code": params["code"][0], "state": params["state"][0][:-2] + "xx"}
        page = browser.get(f"{site.base}{CALLBACK_PATH}?{urlencode(forged)}")
        assert page.status_code == 401
        assert "ne correspond à aucune connexion en cours" in shown(page)
        assert "<html" in shown(page)
        assert "Traceback" not in shown(page)
        assert browser.cookies.get(SESSION_COOKIE) is None
        assert browser.cookies.get("beffroi_oidc") is None  # dropped: the login must restart

    # The genuine callback, but in a browser that did not start this login.
    with site.browser() as stranger:
        page = stranger.get(to_callback.headers["location"])
        assert page.status_code == 401
        assert stranger.cookies.get(SESSION_COOKIE) is None
    assert count(site, User, User.email == "agent77@example.fr") == 0

    # Once a login succeeded, its callback cannot be played again.
    with site.browser() as browser:
        form = authorize(site, browser)
        to_callback = browser.post(str(form.url), data={"sub": "agent-77"}, follow_redirects=False)
        done = browser.get(to_callback.headers["location"], follow_redirects=False)
        assert done.status_code == 303
        replay = browser.get(to_callback.headers["location"])
        assert replay.status_code == 401


@pytest.mark.slow
def test_denied_consent_says_so_in_the_visitors_language(site: Site) -> None:
    with site.browser() as browser:
        form = authorize(site, browser)
        page = browser.post(str(form.url), data={"action": "deny"})
        assert page.status_code == 401
        assert "Connexion refusée ou annulée auprès de ProConnect" in shown(page)
        assert 'id="connexion-oidc"' in shown(page)  # it can be tried again
    with site.browser(cookies={"beffroi_lang": "en"}) as browser:
        form = authorize(site, browser)
        page = browser.post(str(form.url), data={"action": "deny"})
        assert page.status_code == 401
        assert "Sign-in refused or cancelled at ProConnect" in shown(page)
        assert "Sign in with ProConnect" in shown(page)


@pytest.mark.slow
def test_no_account_is_created_unless_allowed(provider: str, demo_instance: DemoInstance) -> None:
    set_claims(provider, "agent-0042", email="inconnue@example.fr", email_verified=True)
    for site in serve_site(provider, demo_instance, oidc_create_users=False):
        users_before = count(site, User)
        with site.browser() as browser:
            page = login_as(site, browser, "agent-0042")
            assert page.status_code == 401
            assert "Aucun compte Beffroi n'est associé à votre identité ProConnect" in shown(page)
            assert "inconnue@example.fr" in shown(page)  # the hint names the address to use
        assert count(site, User) == users_before


def test_the_login_page_offers_the_provider_only_when_configured(
    demo_instance: DemoInstance, client: TestClient
) -> None:
    page = client.get("/connexion", headers=HTML)
    assert page.status_code == 200
    assert "connexion-oidc" not in shown(page)
    off = client.get("/connexion/oidc", headers=HTML, follow_redirects=False)
    assert off.status_code == 404
    assert "n'est pas configurée" in shown(off)
    assert client.get(CALLBACK_PATH, headers=HTML).status_code == 404

    settings = oidc_settings(
        demo_instance,
        "http://127.0.0.1:8000",
        oidc_issuer="https://auth.example.invalid/api/v2",
        oidc_client_id="beffroi",
    )
    with TestClient(create_app(settings)) as configured:
        page = configured.get("/connexion", headers=HTML, params={"next": "/jeux-de-donnees"})
        assert "Se connecter avec ProConnect" in shown(page)
        assert 'href="/connexion/oidc?next=/jeux-de-donnees"' in shown(page)
        configured.app.state.engine.dispose()


def test_a_provider_that_does_not_answer_is_a_clear_503(demo_instance: DemoInstance) -> None:
    settings = oidc_settings(
        demo_instance,
        "http://127.0.0.1:8000",
        oidc_issuer=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        oidc_client_id="beffroi",
        oidc_timeout_s=2,
    )
    with TestClient(create_app(settings)) as site:
        page = site.get("/connexion/oidc", headers=HTML, follow_redirects=False)
        assert page.status_code == 503
        assert "Le fournisseur d'identité ProConnect ne répond pas" in shown(page)
        assert "réessayez dans quelques minutes" in shown(page)
        english = site.get("/connexion/oidc?lang=en", headers=HTML, follow_redirects=False)
        assert "The identity provider ProConnect does not answer" in shown(english)
        site.app.state.engine.dispose()


def test_settings_refuse_a_plain_http_issuer(tmp_path: Path) -> None:
    from beffroi.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="oidc_issuer"):
        make_settings(tmp_path, oidc_issuer="http://auth.example.fr/realms/epci")
    assert not make_settings(tmp_path, oidc_client_id="x").oidc_enabled
    assert make_settings(
        tmp_path, oidc_issuer="https://auth.example.fr/realms/epci", oidc_client_id="x"
    ).oidc_enabled


@pytest.mark.slow
def test_the_page_after_login_stays_on_site(site: Site) -> None:
    evil = [
        "//evil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "evil.example",
        "javascript:alert(1)",
    ]
    with site.browser() as browser:
        for target in [*evil, "/jeux-de-donnees?q=eau"]:
            start = browser.get(
                f"{site.base}/connexion/oidc", params={"next": target}, follow_redirects=False
            )
            assert start.status_code == 303
            pending = unseal(browser.cookies.get("beffroi_oidc"), site.settings.signing_key())
            assert pending.next == (target if target.startswith("/jeux") else "/"), target


# ---------------------------------------------------------------- concurrent first logins


def at_once(browsers: list[httpx.Client], urls: list[str]) -> list[object]:
    """GET ``urls[i]`` with ``browsers[i]``, all released at the same moment (threads)."""
    barrier = threading.Barrier(len(browsers))
    answers: list[object] = [RuntimeError("not run")] * len(browsers)

    def fetch(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = browsers[index].get(urls[index], follow_redirects=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            answers[index] = exc

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def check_round(site: Site, n: int, browsers: list[httpx.Client]) -> None:
    """One identity's first login finished in every browser at once (see below)."""
    tabs = len(browsers)
    callbacks = []
    for browser in browsers:
        form = authorize(site, browser)
        chosen = browser.post(
            str(form.url), data={"sub": f"agent-course-{n}"}, follow_redirects=False
        )
        assert chosen.status_code == 302, chosen.text
        callbacks.append(chosen.headers["location"])
    answers = at_once(browsers, callbacks)
    for answer, browser in zip(answers, browsers, strict=True):
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 303, answer.text  # not 500, not an error page
        assert browser.cookies.get(SESSION_COOKIE)
        page = browser.get(f"{site.base}/")
        assert f"Connecté en tant que <strong>course{n}</strong>" in shown(page)
    assert count(site, User, User.email == f"course{n}@mairie.example.fr") == 1
    with site.session() as session:
        user = session.scalars(select(User).where(User.username == f"course{n}")).one()
        assert count(site, OidcIdentity, OidcIdentity.user_id == user.id) == 1
        assert count(site, WebSession, WebSession.user_id == user.id) == tabs
        created = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.create", AuditEvent.object_id == f"course{n}"
            )
        ).all()
        assert len(created) == 1  # the loser's creation was rolled back, audit included


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_first_logins_of_one_identity_share_one_account(site: Site) -> None:
    """Two tabs finishing the same first login at once both sign in, to one new account.

    Each tab gets its own authorization code from the provider; then both callbacks are
    sent at the same moment to the served application (its thread pool runs them side by
    side). Several identities are tried so that the two callbacks really overlap.
    """
    users_before = count(site, User)
    rounds, tabs = 4, 3  # three tabs each: two losers per round
    for n in range(rounds):
        set_claims(
            site.issuer,
            f"agent-course-{n}",
            email=f"course{n}@mairie.example.fr",
            email_verified=True,
            preferred_username=f"course{n}",
        )
        with contextlib.ExitStack() as stack:
            browsers = [stack.enter_context(site.browser()) for _ in range(tabs)]
            check_round(site, n, browsers)
    assert count(site, User) == users_before + rounds


@pytest.mark.postgres
@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_catalogue_sessions_signing_in_one_new_identity(demo_instance: DemoInstance) -> None:
    """The loser of the race on PostgreSQL waits for the winner's commit, then uses its
    account: deterministic (the first session holds its insert until the second waits)."""
    settings = oidc_settings(
        demo_instance,
        "https://beffroi.example.fr",
        oidc_issuer="https://idp.example.fr",
        oidc_client_id="beffroi",
    )
    identity = IdentityClaims(
        issuer="https://idp.example.fr",
        subject="agent-deux-onglets",
        email="deux.onglets@mairie.example.fr",
        email_verified=True,
        full_name="Deux Onglets",
    )
    app = create_app(settings)
    factory = app.state.session_factory
    try:
        first, second = factory(), factory()
        winner = sign_in(first, settings, identity)  # flushed, not committed: holds the keys
        outcome: dict[str, Any] = {}

        def other_tab() -> None:
            try:
                user = sign_in(second, settings, identity)
                second.commit()
                outcome["user_id"] = user.id
            except BaseException as exc:  # noqa: BLE001 - reported below
                second.rollback()
                outcome["error"] = exc

        thread = threading.Thread(target=other_tab)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()  # waiting on the winner's uncommitted row
        first.commit()
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert "error" not in outcome, repr(outcome.get("error"))
        assert outcome["user_id"] == winner.id
        first.close()
        second.close()
        with transaction(factory) as session:
            users = session.scalars(
                select(User).where(User.email == "deux.onglets@mairie.example.fr")
            ).all()
            assert [u.id for u in users] == [winner.id]
            links = session.scalars(
                select(OidcIdentity).where(OidcIdentity.subject == "agent-deux-onglets")
            ).all()
            assert len(links) == 1
    finally:
        app.state.engine.dispose()


# ---------------------------------------------------------------- sign-out at the provider


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT, to see which ID token was given back."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def sign_out(site: Site, browser: httpx.Client) -> httpx.Response:
    """Press « Se déconnecter » on the home page; the answer, redirects not followed."""
    home = browser.get(f"{site.base}/")
    assert 'action="/deconnexion"' in home.text  # signed in: the sign-out form is there
    return browser.post(
        f"{site.base}/deconnexion", data={CSRF_FIELD: csrf_from(home.text)}, follow_redirects=False
    )


def signed_in_as(site: Site, cookie: str) -> bool:
    """Whether a session cookie still signs anybody in."""
    with httpx.Client(cookies={SESSION_COOKIE: cookie}) as other:
        return "Connecté en tant que" in shown(other.get(f"{site.base}/", headers=HTML))


@pytest.mark.slow
def test_sign_out_ends_the_session_at_the_provider_too(site: Site) -> None:
    set_claims(site.issuer, "agent-sortie", email="sortie@mairie.example.fr", email_verified=True)
    with site.browser() as browser:
        page = login_as(site, browser, "agent-sortie")
        assert "Connecté en tant que <strong>sortie</strong>" in shown(page)
        cookie = browser.cookies.get(SESSION_COOKIE)
        assert cookie
        assert browser.cookies.get("beffroi_oidc_id", path="/deconnexion")

        out = sign_out(site, browser)
        assert out.status_code == 303
        location = urlsplit(out.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == (
            f"{site.issuer}/oauth2/end_session"  # the discovery's end_session_endpoint
        )
        params = parse_qs(location.query)
        assert set(params) == {"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}
        assert params["post_logout_redirect_uri"] == [site.base + LOGOUT_CALLBACK_PATH]
        assert params["client_id"] == [site.settings.oidc_client_id]
        hint = jwt_claims(params["id_token_hint"][0])  # the ID token of this sign-in
        assert hint["sub"] == "agent-sortie"
        assert hint["aud"] in (site.settings.oidc_client_id, [site.settings.oidc_client_id])
        assert len(params["state"][0]) >= 32
        # The local session is over before the browser leaves for the provider.
        assert browser.cookies.get(SESSION_COOKIE) is None
        assert browser.cookies.get("beffroi_oidc_id", path="/deconnexion") is None
        assert not signed_in_as(site, cookie)

        # The provider's confirmation form, then back to Beffroi with the state.
        form = browser.get(out.headers["location"])
        assert form.status_code == 200
        redirect_uri = re.search(r'name="redirect_uri" value="([^"]+)"', form.text)
        assert redirect_uri, form.text
        back = browser.post(
            f"{site.issuer}/oauth2/end_session/confirm",
            data={"redirect_uri": html.unescape(redirect_uri.group(1))},
        )
        assert back.status_code == 200, back.text
        assert urlsplit(str(back.url)).path == LOGOUT_CALLBACK_PATH
        assert parse_qs(urlsplit(str(back.url)).query)["state"] == params["state"]
        assert "Vous êtes déconnecté" in shown(back)
        assert "fournisseur d'identité aussi : ProConnect" in shown(back)
        assert "Connecté en tant que" not in shown(back)
        assert browser.cookies.get("beffroi_oidc_logout", path="/deconnexion/oidc") is None

        # Played again (the state is spent), or with a state of nobody's: the home page.
        again = browser.get(str(back.url), follow_redirects=False)
        assert again.status_code == 303
        assert again.headers["location"] == "/"

    with site.browser(cookies={"beffroi_lang": "en"}) as browser:
        login_as(site, browser, "agent-sortie")
        out = sign_out(site, browser)
        state = parse_qs(urlsplit(out.headers["location"]).query)["state"][0]
        forged = browser.get(
            f"{site.base}{LOGOUT_CALLBACK_PATH}", params={"state": state[:-2] + "xx"},
            follow_redirects=False,
        )  # fmt: skip
        assert forged.status_code == 303
        assert forged.headers["location"] == "/"
        page = browser.get(f"{site.base}{LOGOUT_CALLBACK_PATH}", params={"state": state})
        assert "You are signed out" in shown(page)
        assert "so is the one of your identity provider: ProConnect" in shown(page)


@pytest.mark.slow
def test_sign_out_stays_local_without_an_end_session_endpoint(
    site: Site, demo_instance: DemoInstance
) -> None:
    set_claims(site.issuer, "agent-local", email="local@mairie.example.fr", email_verified=True)
    with site.browser() as browser:
        login_as(site, browser, "agent-local")
        cookie = browser.cookies.get(SESSION_COOKIE)
        assert cookie
        # The provider's discovery document as if it announced no end_session_endpoint
        # (the document the client read and keeps for an hour, edited).
        client: OidcClient = site.app.state.oidc_client
        read_at, metadata = client._metadata or (0.0, client.metadata())
        assert metadata.end_session_endpoint is not None
        client._metadata = (read_at, replace(metadata, end_session_endpoint=None))
        try:
            out = sign_out(site, browser)
        finally:
            client._metadata = (read_at, metadata)
        assert out.status_code == 303
        assert out.headers["location"] == "/"
        assert browser.cookies.get(SESSION_COOKIE) is None
        assert browser.cookies.get("beffroi_oidc_id", path="/deconnexion") is None
        assert browser.cookies.get("beffroi_oidc_logout", path="/deconnexion/oidc") is None
        assert not signed_in_as(site, cookie)

    # A provider that does not answer at sign-out time (discovery to be read again, from an
    # address where nothing listens): the sign-out is local too, not an error.
    with site.browser() as browser:
        login_as(site, browser, "agent-local")
        cookie = browser.cookies.get(SESSION_COOKIE)
        assert cookie
        issuer, client._metadata = client.issuer, None
        client.issuer = f"http://127.0.0.1:{free_port()}"
        try:
            out = sign_out(site, browser)
        finally:
            client.issuer = issuer
        assert out.status_code == 303
        assert out.headers["location"] == "/"
        assert not signed_in_as(site, cookie)

    # A password user of the same instance: the local sign-out, as before.
    with site.browser() as browser:
        form = browser.get(f"{site.base}/connexion")
        signed = browser.post(
            f"{site.base}/connexion",
            data={
                "username": "admin",
                "password": demo_instance.password("admin"),
                CSRF_FIELD: csrf_from(form.text),
            },
        )
        assert "Connecté en tant que <strong>admin</strong>" in shown(signed)
        cookie = browser.cookies.get(SESSION_COOKIE)
        assert cookie
        out = sign_out(site, browser)
        assert out.status_code == 303
        assert out.headers["location"] == "/"
        assert not signed_in_as(site, cookie)


def test_the_id_token_hint_is_bound_to_its_session(tmp_path: Path) -> None:
    key = make_settings(tmp_path).signing_key()
    sealed = seal_id_token("eyJh.eyJz.c2ln", "secret-of-session-a", key)
    assert unseal_id_token(sealed, "secret-of-session-a", key) == "eyJh.eyJz.c2ln"
    assert unseal_id_token(sealed, "secret-of-session-b", key) is None  # another session
    assert unseal_id_token("eyJh.eyJz.other" + sealed[14:], "secret-of-session-a", key) is None
    assert unseal_id_token(sealed, "secret-of-session-a", b"another instance key") is None
    assert unseal_id_token(None, "secret-of-session-a", key) is None
    assert unseal_id_token("garbage", "secret-of-session-a", key) is None
