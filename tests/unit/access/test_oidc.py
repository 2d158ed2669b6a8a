"""OpenID Connect: the pending-login cookie, ID token checks, and how identities find accounts.

ID tokens are signed here with real RSA keys (joserfc) and checked by the real validation
code against a key set already read; accounts are resolved on both catalogue backends.
The whole flow against a running provider is in ``tests/functional/test_oidc.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from beffroi.access.oidc import (
    NO_PASSWORD,
    PENDING_MAX_AGE_S,
    IdentityClaims,
    OidcClient,
    PendingLogin,
    ProviderMetadata,
    seal,
    sign_in,
    unseal,
)
from beffroi.catalog.models import OidcIdentity, OrgKind, Role, User
from beffroi.errors import AuthenticationError, ConfigurationError
from beffroi.settings import Settings
from tests.conftest import make_settings
from tests.factories import make_org, make_user, new_siren

ISSUER = "https://idp.example.fr/realms/epci"
CLIENT_ID = "beffroi"
KEY = b"k" * 40

# ---------------------------------------------------------------- pending login cookie


def test_the_pending_login_round_trips_and_resists_tampering() -> None:
    pending = PendingLogin(state="s" * 43, nonce="n" * 43, code_verifier="v" * 64, next="/x")
    value = seal(pending, KEY)
    assert unseal(value, KEY) == pending
    payload, _, mac = value.partition(".")
    forged = [
        None,
        "",
        "no-dot",
        f"{payload}.{'0' * len(mac)}",  # wrong signature
        f"{payload[:-2]}AA.{mac}",  # changed content
        seal(pending, b"another key of forty bytes, not ours!!!"),
    ]
    for bad in forged:
        with pytest.raises(AuthenticationError, match="aucune connexion en cours"):
            unseal(bad, KEY)


def test_a_pending_login_expires() -> None:
    pending = PendingLogin(state="s", nonce="n", code_verifier="v", started_at=1000.0)
    value = seal(pending, KEY)
    assert unseal(value, KEY, now=1000.0 + PENDING_MAX_AGE_S) == pending
    with pytest.raises(AuthenticationError) as caught:
        unseal(value, KEY, now=1001.0 + PENDING_MAX_AGE_S)
    assert caught.value.localized("en")[0].startswith("The identity provider's answer")


# ---------------------------------------------------------------- ID token


@pytest.fixture(scope="module")
def keys() -> tuple[RSAKey, RSAKey]:
    """The provider's key, and an impostor's key that claims the same id."""
    return (
        RSAKey.generate_key(2048, parameters={"kid": "k1"}),
        RSAKey.generate_key(2048, parameters={"kid": "k1"}),
    )


@pytest.fixture
def client(tmp_path: Path, keys: tuple[RSAKey, RSAKey]) -> OidcClient:
    """A relying party whose discovery document and key set are already read."""
    settings = make_settings(tmp_path, oidc_issuer=ISSUER, oidc_client_id=CLIENT_ID)
    rp = OidcClient(settings)
    public = RSAKey.import_key(keys[0].as_dict(private=False))
    rp._metadata = (time.monotonic(), metadata())
    rp._jwks = (time.monotonic(), KeySet([public]))
    return rp


def metadata() -> ProviderMetadata:
    return ProviderMetadata(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/auth",
        token_endpoint=f"{ISSUER}/token",
        jwks_uri=f"{ISSUER}/certs",
        userinfo_endpoint=None,
        algorithms=("RS256",),
        token_auth_methods=("client_secret_basic",),
    )


def id_token(key: RSAKey, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "f:1234",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": "the-nonce",
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def test_a_valid_id_token_is_accepted(client: OidcClient, keys: tuple[RSAKey, RSAKey]) -> None:
    claims = client._validate_id_token(metadata(), id_token(keys[0]), "the-nonce", {})
    assert claims["sub"] == "f:1234"
    several = id_token(keys[0], aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    assert client._validate_id_token(metadata(), several, "the-nonce", {})["sub"] == "f:1234"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-client"}, "aud"),
        ({"aud": None}, "aud"),
        ({"iss": "https://evil.example/realms/epci"}, "iss"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "exp"),
        ({"nonce": "a-replayed-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, "azp"),
        ({"sub": None}, "sub"),
    ],
)
def test_id_tokens_with_wrong_claims_are_refused(
    client: OidcClient, keys: tuple[RSAKey, RSAKey], changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AuthenticationError, match="invalide") as caught:
        client._validate_id_token(metadata(), id_token(keys[0], **changes), "the-nonce", {})
    assert reason in caught.value.message


def test_id_tokens_signed_by_another_key_or_with_a_wrong_at_hash_are_refused(
    client: OidcClient, keys: tuple[RSAKey, RSAKey]
) -> None:
    with pytest.raises(AuthenticationError, match="signature"):
        client._validate_id_token(metadata(), id_token(keys[1]), "the-nonce", {})
    token = id_token(keys[0], at_hash="AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(AuthenticationError, match="at_hash"):
        client._validate_id_token(metadata(), token, "the-nonce", {"access_token": "abc"})
    with pytest.raises(AuthenticationError, match=r"illisible|signature"):
        client._validate_id_token(metadata(), "not.a.jwt", "the-nonce", {})


def test_the_state_must_match_before_anything_is_exchanged(client: OidcClient) -> None:
    pending = PendingLogin(state="expected", nonce="n", code_verifier="v" * 64)
    for params in ({"code": "c", "state": "other"}, {"code": "c"}):
        with pytest.raises(AuthenticationError, match="aucune connexion en cours"):
            client.finish(pending, params)
    with pytest.raises(AuthenticationError, match="refusée ou annulée"):
        client.finish(pending, {"error": "access_denied", "state": "expected"})


# ---------------------------------------------------------------- accounts


def oidc(settings: Settings, **overrides: Any) -> Settings:
    values = {
        "database_url": settings.database_url,
        "oidc_issuer": ISSUER,
        "oidc_client_id": CLIENT_ID,
        "oidc_provider_name": "Keycloak",
        **overrides,
    }
    return make_settings(settings.data_dir, **values)


def who(subject: str, **fields: Any) -> IdentityClaims:
    return IdentityClaims(issuer=ISSUER, subject=subject, **fields)


def users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def test_an_identity_keeps_its_account(session: Session, settings: Settings) -> None:
    config = oidc(settings, oidc_create_users=True)
    first = sign_in(
        session, config, who("s-1", email="Jo@Example.fr", email_verified=True, full_name="Jo")
    )
    assert (first.username, first.password_hash, first.memberships) == ("jo", NO_PASSWORD, [])
    # The address changes at the provider: still the same account (linked by subject).
    again = sign_in(session, config, who("s-1", email="jo.new@example.fr", email_verified=True))
    assert again.id == first.id
    link = session.scalars(select(OidcIdentity).where(OidcIdentity.subject == "s-1")).one()
    assert link.email == "jo.new@example.fr"
    # Another person with the same local part gets a username of their own.
    other = sign_in(session, config, who("s-2", email="jo@ailleurs.fr", email_verified=True))
    assert other.username == "jo-2"
    # Another issuer's subject "s-1" is someone else.
    elsewhere = IdentityClaims(
        issuer="https://proconnect.example/api/v2",
        subject="s-1",
        email="jo3@example.fr",
        email_verified=True,
    )
    assert sign_in(session, config, elsewhere).id not in {first.id, other.id}


def test_linking_by_email_needs_a_verified_address(session: Session, settings: Settings) -> None:
    existing = make_user(session, username="marie-lorient")
    email = existing.email.upper()
    count = users(session)
    for verified, trust in ((None, False), (False, True)):
        with pytest.raises(AuthenticationError, match="ne peut pas être associé"):
            sign_in(
                session,
                oidc(settings, oidc_trust_email=trust, oidc_create_users=True),
                who("m-1", email=email, email_verified=verified),
            )
    with pytest.raises(AuthenticationError, match="ne peut pas être associé"):
        sign_in(
            session,
            oidc(settings, oidc_link_by_email=False),
            who("m-1", email=email, email_verified=True),
        )
    # ProConnect sends no email_verified: trusted only when the administrator says so.
    linked = sign_in(session, oidc(settings, oidc_trust_email=True), who("m-1", email=email))
    assert linked.id == existing.id
    assert users(session) == count


def test_accounts_are_created_only_when_allowed_and_from_a_verified_address(
    session: Session, settings: Settings
) -> None:
    count = users(session)
    with pytest.raises(AuthenticationError, match="Aucun compte Beffroi") as caught:
        sign_in(session, oidc(settings), who("n-1", email="n1@example.fr", email_verified=True))
    assert "n1@example.fr" in (caught.value.hint or "")
    creating = oidc(settings, oidc_create_users=True)
    for fields in ({}, {"email": "n1@example.fr"}, {"email": "n1@x.fr", "email_verified": False}):
        with pytest.raises(AuthenticationError, match="adresse e-mail vérifiée"):
            sign_in(session, creating, who("n-1", **fields))
    assert users(session) == count
    assert session.scalar(select(func.count()).select_from(OidcIdentity)) == 0


def test_a_disabled_account_cannot_sign_in(session: Session, settings: Settings) -> None:
    user = make_user(session, username="ancien-agent")
    config = oidc(settings)
    sign_in(session, config, who("d-1", email=user.email, email_verified=True))
    user.is_active = False
    session.flush()
    with pytest.raises(AuthenticationError, match="désactivé"):
        sign_in(session, config, who("d-1", email=user.email, email_verified=True))


def test_the_organisation_claim_adds_a_viewer_membership_once(
    session: Session, settings: Settings
) -> None:
    siren = new_siren()
    commune = make_org(session, kind=OrgKind.COMMUNE, siren=siren)
    service = make_org(session, kind=OrgKind.SERVICE)
    config = oidc(settings, oidc_create_users=True, oidc_organization_claim="siret")
    identity = who(
        "o-1", email="agent@commune.fr", email_verified=True, organizations=(siren + "00021",)
    )
    user = sign_in(session, config, identity)
    assert {(m.organization_id, m.role) for m in user.memberships} == {
        (commune.id, Role.VIEWER.value)
    }
    # A role given by an administrator is kept; unknown values are ignored.
    user.memberships[0].role = Role.EDITOR.value
    session.flush()
    again = who(
        "o-1",
        email="agent@commune.fr",
        email_verified=True,
        organizations=(siren, service.slug, "inconnue", "123"),
    )
    user = sign_in(session, config, again)
    roles = {(m.organization_id, m.role) for m in user.memberships}
    assert roles == {(commune.id, Role.EDITOR.value), (service.id, Role.VIEWER.value)}


def test_scopes_without_openid_are_a_configuration_error(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, oidc_issuer=ISSUER, oidc_client_id=CLIENT_ID, oidc_scopes="email profile"
    )
    with pytest.raises(ConfigurationError, match="openid"):
        OidcClient(settings)
