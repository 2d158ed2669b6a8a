"""OpenID Connect login: the authorization-code flow with PKCE, through Authlib.

The flow, for a provider configured by the ``oidc_*`` settings (ProConnect, a Keycloak realm…):

1. :meth:`OidcClient.start` reads the provider's discovery document, draws ``state``,
   ``nonce`` and a PKCE ``code_verifier``, and returns the provider's authorization URL with
   a :class:`PendingLogin` the web layer keeps in a short-lived signed cookie
   (:func:`seal` / :func:`unseal`): nothing is written to the catalogue before the login
   succeeds.
2. :meth:`OidcClient.finish` checks the callback's ``state`` against the pending login,
   exchanges the code (with the verifier) at the token endpoint, verifies the ID token's
   signature with the provider's JWKS and its claims (``iss``, ``aud``, ``exp``, ``iat``,
   ``nonce``, ``azp``, ``at_hash``), and reads the userinfo endpoint (JSON or signed JWT).
3. :func:`sign_in` finds the user linked to (issuer, subject), else links the account whose
   verified e-mail matches, else creates an account with no role, as the settings allow;
   :func:`open_session` also opens the web session, retrying when concurrent callbacks of
   the same first login (two tabs) clash on the catalogue: both end in the same account.
4. Signing out (RP-initiated logout): the ID token of the sign-in is kept in a signed
   cookie bound to the session (:func:`seal_id_token`); at sign-out, once the local session
   is closed, :meth:`OidcClient.end_session_url` gives the provider's
   ``end_session_endpoint`` with ``id_token_hint``, ``post_logout_redirect_uri`` and a fresh
   ``state`` (:class:`PendingLogout`, kept in a short-lived signed cookie until the
   provider sends the browser back). Without such an endpoint, the sign-out stays local.

Every failure is a :class:`~beffroi.errors.BeffroiError` with a bilingual message: the
provider refused or is down, the answer does not match a login in progress, the token is
invalid, no account may be used.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from beffroi.access.accounts import open_web_session
from beffroi.access.actors import Actor
from beffroi.catalog import audit
from beffroi.catalog.models import (
    Membership,
    OidcIdentity,
    Organization,
    Role,
    User,
    utcnow,
)
from beffroi.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ServiceUnavailableError,
)
from beffroi.settings import Settings

CALLBACK_PATH = "/connexion/oidc/retour"
#: Where the provider sends the browser back after ending its session (register it there as
#: a post-logout redirect URI, ProConnect's « URL de redirection de déconnexion »).
LOGOUT_CALLBACK_PATH = "/deconnexion/oidc/retour"
PENDING_MAX_AGE_S = 600  # a login started more than 10 minutes ago is refused
METADATA_TTL_S = 3600.0  # discovery document and JWKS are re-read at most hourly
LEEWAY_S = 60  # clock skew tolerated on exp / iat / nbf
#: Password hash of accounts created by OIDC: not an argon2 hash, so no password matches.
NO_PASSWORD = "!oidc"  # noqa: S105 - a marker, not a secret
_USERNAME_CHARS = re.compile(r"[^a-z0-9._-]+")
_DIGITS = re.compile(r"^\d+$")
SIGN_IN_ATTEMPTS = 5  # catalogue clashes of concurrent first logins, retried
logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- pending login (cookie)


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback must find again: the secrets sent to the provider, where to go."""

    state: str
    nonce: str
    code_verifier: str
    next: str = "/"
    started_at: float = field(default_factory=time.time)


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, b"oidc:" + payload, hashlib.sha256).hexdigest()


def seal(pending: PendingLogin, key: bytes) -> str:
    """The pending login as a cookie value: base64url JSON, signed with the instance key."""
    payload = base64.urlsafe_b64encode(json.dumps(asdict(pending)).encode()).rstrip(b"=")
    return f"{payload.decode()}.{_mac(key, payload)}"


def _lost_login() -> AuthenticationError:
    return AuthenticationError(
        "La réponse du fournisseur d'identité ne correspond à aucune connexion en cours",
        hint="relancez la connexion depuis la page de connexion (les cookies doivent être "
        "activés, et la connexion terminée dans les 10 minutes)",
        message_en="The identity provider's answer matches no sign-in in progress",
        hint_en="start again from the sign-in page (cookies must be enabled, and the sign-in "
        "completed within 10 minutes)",
    )


def unseal(value: str | None, key: bytes, *, now: float | None = None) -> PendingLogin:
    """The pending login of a cookie; AuthenticationError when absent, forged or too old."""
    if not value or "." not in value:
        raise _lost_login()
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(_mac(key, payload.encode()), mac):
        raise _lost_login()
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        pending = PendingLogin(**data)
    except (ValueError, TypeError):
        raise _lost_login() from None
    if (now if now is not None else time.time()) - pending.started_at > PENDING_MAX_AGE_S:
        raise _lost_login()
    return pending


# ---------------------------------------------------------------- sign-out


def _logout_mac(key: bytes, session_secret: str, id_token: str) -> str:
    bound = hashlib.sha256(session_secret.encode()).hexdigest()
    message = f"oidc-id-token:{bound}:{id_token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_id_token(id_token: str, session_secret: str, key: bytes) -> str:
    """The sign-in's ID token as a cookie value, signed and bound to its web session.

    Bound: it is given back as ``id_token_hint`` only with the session cookie it was issued
    with, so an old or copied hint never ends another sign-in at the provider.
    """
    return f"{id_token}~{_logout_mac(key, session_secret, id_token)}"


def unseal_id_token(value: str | None, session_secret: str, key: bytes) -> str | None:
    """The ID token of the cookie, ``None`` when absent, forged or of another session."""
    if not value or "~" not in value:
        return None
    id_token, _, mac = value.rpartition("~")
    if not id_token or not hmac.compare_digest(_logout_mac(key, session_secret, id_token), mac):
        return None
    return id_token


@dataclass(frozen=True, slots=True)
class PendingLogout:
    """The ``state`` sent to the provider's end-session endpoint, checked on the way back."""

    state: str
    started_at: float = field(default_factory=time.time)


def seal_logout(pending: PendingLogout, key: bytes) -> str:
    """The pending sign-out as a cookie value (signed, like the pending login)."""
    payload = f"{pending.state}:{pending.started_at:.0f}"
    mac = hmac.new(key, b"oidc-logout:" + payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def logout_confirmed(
    value: str | None, state: str | None, key: bytes, *, now: float | None = None
) -> bool:
    """Whether the provider's return matches the sign-out this browser started (recently)."""
    if not value or not state or "." not in value:
        return False
    payload, _, mac = value.rpartition(".")
    expected = hmac.new(key, b"oidc-logout:" + payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        return False
    sent, _, started = payload.rpartition(":")
    try:
        age = (now if now is not None else time.time()) - float(started)
    except ValueError:
        return False
    return age <= PENDING_MAX_AGE_S and hmac.compare_digest(sent.encode(), state.encode())


# ---------------------------------------------------------------- provider


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the provider's discovery document that the flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]
    #: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), when the provider has it.
    end_session_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityClaims:
    """Who the provider says signed in (validated ID token plus userinfo)."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool | None = None
    full_name: str = ""
    preferred_username: str | None = None
    organizations: tuple[str, ...] = ()
    #: The raw ID token of the sign-in, given back as ``id_token_hint`` at sign-out.
    id_token: str | None = field(default=None, repr=False)


class OidcClient:
    """The relying party of one provider (one per application; caches discovery and JWKS)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_enabled:
            raise not_configured()
        self.settings = settings
        self.issuer = cast("str", settings.oidc_issuer)
        self.client_id = cast("str", settings.oidc_client_id)
        self.client_secret = (
            settings.oidc_client_secret.get_secret_value()
            if settings.oidc_client_secret is not None
            else None
        )
        self.name = settings.oidc_provider_name
        self.redirect_uri = settings.base_url + CALLBACK_PATH
        self.post_logout_redirect_uri = settings.base_url + LOGOUT_CALLBACK_PATH
        if "openid" not in settings.oidc_scopes.split():
            raise self._misconfigured(
                f"BEFFROI_OIDC_SCOPES ({settings.oidc_scopes!r}) ne contient pas « openid »"
            )
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    # -------------------------------------------------------------- errors

    def _unreachable(self, reason: str) -> ServiceUnavailableError:
        return ServiceUnavailableError(
            f"Le fournisseur d'identité {self.name} ne répond pas ({reason})",
            hint="réessayez dans quelques minutes, ou connectez-vous avec votre mot de passe ; "
            "si cela dure, prévenez l'administrateur de la plateforme",
            message_en=f"The identity provider {self.name} does not answer ({reason})",
            hint_en="try again in a few minutes, or sign in with your password; if it lasts, "
            "tell the platform's administrator",
        )

    def _invalid(self, reason: str) -> AuthenticationError:
        return AuthenticationError(
            f"La réponse de {self.name} est invalide ({reason})",
            hint="relancez la connexion ; si cela se répète, l'administrateur doit vérifier les "
            "réglages BEFFROI_OIDC_* et l'horloge du serveur",
            message_en=f"The answer of {self.name} is invalid ({reason})",
            hint_en="sign in again; if it happens again, the administrator must check the "
            "BEFFROI_OIDC_* settings and the server's clock",
        )

    def _misconfigured(self, reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"Le fournisseur d'identité {self.name} est mal configuré : {reason}",
            hint="vérifiez BEFFROI_OIDC_ISSUER (l'URL de l'émetteur, telle que le fournisseur "
            "la publie dans /.well-known/openid-configuration)",
            message_en=f"The identity provider {self.name} is misconfigured: {reason}",
            hint_en="check BEFFROI_OIDC_ISSUER (the issuer URL, as the provider publishes it "
            "in /.well-known/openid-configuration)",
        )

    # -------------------------------------------------------------- HTTP

    def _get(
        self, url: str, what: str, headers: Mapping[str, str] | None = None
    ) -> httpx2.Response:
        """GET from the provider; unreachable (503) when the request itself fails."""
        try:
            return httpx2.get(url, headers=headers, timeout=self.settings.oidc_timeout_s)
        except httpx2.HTTPError as exc:
            raise self._unreachable(f"{what} : {type(exc).__name__}") from None

    def _json_object(self, response: httpx2.Response, what: str) -> dict[str, Any]:
        """The answer's JSON object; invalid (401) when it is not one."""
        try:
            data = response.json()
        except ValueError:
            raise self._invalid(f"{what} n'est pas du JSON") from None
        if not isinstance(data, dict):
            raise self._invalid(f"{what} n'est pas un objet JSON")
        return data

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = self._get(url, what)
        if response.status_code != 200:
            raise self._unreachable(f"{what} : HTTP {response.status_code}")
        return self._json_object(response, what)

    def metadata(self) -> ProviderMetadata:
        """The discovery document (read at most hourly), checked against the issuer."""
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < METADATA_TTL_S:
                return self._metadata[1]
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url, "découverte")
        issuer = data.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer.rstrip("/"):
            raise self._misconfigured(f"il annonce l'émetteur {issuer!r}, pas {self.issuer!r}")
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise self._misconfigured(f"{name} absent de sa découverte")
            endpoints[name] = value
        userinfo = data.get("userinfo_endpoint")
        end_session = data.get("end_session_endpoint")
        metadata = ProviderMetadata(
            issuer=issuer,
            userinfo_endpoint=userinfo if isinstance(userinfo, str) and userinfo else None,
            end_session_endpoint=(
                end_session if isinstance(end_session, str) and end_session else None
            ),
            # Asymmetric signatures only: "none" and HS* (keyed with the client secret) are
            # refused whatever the provider announces.
            algorithms=tuple(
                alg
                for alg in data.get("id_token_signing_alg_values_supported") or ["RS256"]
                if isinstance(alg, str) and alg != "none" and not alg.startswith("HS")
            ),
            token_auth_methods=tuple(
                data.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            ),
            **endpoints,
        )
        with self._lock:
            self._metadata = (time.monotonic(), metadata)
        return metadata

    def _key_set(self, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._jwks
        if cached and not refresh and time.monotonic() - cached[0] < METADATA_TTL_S:
            return cached[1]
        data = self._get_json(metadata.jwks_uri, "clés (JWKS)")
        try:
            keys = KeySet.import_key_set(cast("Any", data))
        except (JoseError, ValueError, TypeError, KeyError):
            raise self._invalid("clés (JWKS) illisibles") from None
        with self._lock:
            self._jwks = (time.monotonic(), keys)
        return keys

    def _oauth_client(self, metadata: ProviderMetadata) -> Any:
        if self.client_secret is None:
            method = "none"
        elif "client_secret_basic" in metadata.token_auth_methods:
            method = "client_secret_basic"
        else:
            method = "client_secret_post"
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=method,
            scope=self.settings.oidc_scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.oidc_timeout_s,
        )

    # -------------------------------------------------------------- the flow

    def start(self, next_url: str = "/") -> tuple[str, PendingLogin]:
        """The provider's authorization URL and the pending login to keep until the callback."""
        metadata = self.metadata()
        pending = PendingLogin(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),  # 64 characters, within RFC 7636's 43-128
            next=next_url,
        )
        with self._oauth_client(metadata) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
            )
        return str(url), pending

    def finish(self, pending: PendingLogin, params: Mapping[str, str]) -> IdentityClaims:
        """Check the callback, exchange the code, validate the ID token, read userinfo."""
        state = params.get("state") or ""
        error = params.get("error")
        # Some providers leave the state out of error answers (RFC 6749 wants it): an error
        # signs nobody in, so it is shown as such; a state, when given, must still match.
        if error and not state:
            raise self._refused(error, params.get("error_description"))
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise _lost_login()
        if error:
            raise self._refused(error, params.get("error_description"))
        code = params.get("code")
        if not code:
            raise self._invalid("pas de code d'autorisation")
        metadata = self.metadata()
        with self._oauth_client(metadata) as client:
            try:
                token = client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
            except AuthlibBaseError as exc:  # an OAuth error answer, or plain http
                raise self._invalid(f"échange du code refusé : {exc.error}") from None
            except httpx2.HTTPError as exc:
                raise self._unreachable(f"jeton : {type(exc).__name__}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise self._invalid("pas de jeton d'identité (le scope openid est-il demandé ?)")
        claims = self._validate_id_token(metadata, id_token, pending.nonce, token)
        access_token = token.get("access_token")
        if metadata.userinfo_endpoint and isinstance(access_token, str):
            userinfo = self._userinfo(metadata, access_token)
            if userinfo.get("sub") != claims["sub"]:
                raise self._invalid("userinfo ne décrit pas le même utilisateur")
            claims = {**userinfo, **claims}
        return replace(self._identity(metadata.issuer, claims), id_token=id_token)

    def end_session_url(self, id_token: str | None) -> tuple[str, PendingLogout] | None:
        """The provider's end-session URL for a sign-out, with the state to check on return.

        ``None`` when the provider announces no ``end_session_endpoint``: the sign-out is
        then local only. Raises like :meth:`metadata` when the provider cannot be read.
        """
        endpoint = self.metadata().end_session_endpoint
        if endpoint is None:
            return None
        pending = PendingLogout(state=secrets.token_urlsafe(32))
        params = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": self.post_logout_redirect_uri,
            "state": pending.state,
        }
        if id_token:
            params = {"id_token_hint": id_token, **params}
        parts = urlsplit(endpoint)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
        return urlunsplit(parts._replace(query=query)), pending

    def _refused(self, error: str, description: str | None) -> AuthenticationError:
        if error in {"access_denied", "consent_required", "login_required"}:
            return AuthenticationError(
                f"Connexion refusée ou annulée auprès de {self.name}",
                hint=f"relancez la connexion et acceptez le partage de vos informations avec "
                f"Beffroi sur {self.name}, ou connectez-vous avec votre mot de passe",
                message_en=f"Sign-in refused or cancelled at {self.name}",
                hint_en=f"sign in again and accept to share your information with Beffroi at "
                f"{self.name}, or sign in with your password",
            )
        detail = error[:100] + (f" : {description[:200]}" if description else "")
        return AuthenticationError(
            f"{self.name} a refusé la connexion ({detail})",
            hint="relancez la connexion ; si cela se répète, prévenez l'administrateur",
            message_en=f"{self.name} refused the sign-in ({detail})",
            hint_en="sign in again; if it happens again, tell the administrator",
        )

    def _decode(self, metadata: ProviderMetadata, value: str) -> jwt.Token:
        registry = JWSRegistry(algorithms=list(metadata.algorithms), strict_check_header=False)
        try:
            try:
                return jwt.decode(value, self._key_set(metadata), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys: read them again
                return jwt.decode(value, self._key_set(metadata, refresh=True), registry=registry)
        except JoseError as exc:
            raise self._invalid(f"signature du jeton : {exc.error}") from None
        except ValueError:
            raise self._invalid("jeton illisible") from None

    def _validate_id_token(
        self, metadata: ProviderMetadata, id_token: str, nonce: str, token: Mapping[str, Any]
    ) -> dict[str, Any]:
        decoded = self._decode(metadata, id_token)
        options = {
            "iss": {"essential": True, "value": metadata.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        params = {"nonce": nonce, "client_id": self.client_id}
        if isinstance(token.get("access_token"), str):
            params["access_token"] = token["access_token"]
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        try:
            claims.validate(leeway=LEEWAY_S)
        except JoseError as exc:
            reason = f"jeton d'identité : {exc.error} {exc.description or ''}".strip()
            raise self._invalid(reason) from None
        return dict(claims)

    def _userinfo(self, metadata: ProviderMetadata, access_token: str) -> dict[str, Any]:
        url = cast("str", metadata.userinfo_endpoint)
        response = self._get(url, "userinfo", {"Authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            raise self._invalid(f"userinfo : HTTP {response.status_code}")
        if response.headers.get("content-type", "").startswith("application/jwt"):
            # ProConnect signs its userinfo answers: verified with the same keys.
            decoded = self._decode(metadata, response.text.strip())
            return dict(decoded.claims)
        return self._json_object(response, "userinfo")

    def _identity(self, issuer: str, claims: Mapping[str, Any]) -> IdentityClaims:
        verified = claims.get("email_verified")
        name = _text(claims.get("name"))
        if name is None:
            parts = [
                claims.get("given_name"),
                claims.get("family_name") or claims.get("usual_name"),
            ]
            name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
        organizations: tuple[str, ...] = ()
        claim = self.settings.oidc_organization_claim
        if claim:
            value = claims.get(claim)
            values = value if isinstance(value, list) else [value]
            organizations = tuple(
                str(v).strip() for v in values if isinstance(v, str | int) and str(v).strip()
            )
        username = claims.get("preferred_username")
        return IdentityClaims(
            issuer=issuer,
            subject=str(claims["sub"]),
            email=_text(claims.get("email")),
            email_verified=verified if isinstance(verified, bool) else _as_bool(verified),
            full_name=name.strip()[:200],
            preferred_username=username if isinstance(username, str) else None,
            organizations=organizations,
        )


def _text(value: object) -> str | None:
    """A claim's text without surrounding blanks; ``None`` when absent, blank or no text."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def _as_bool(value: object) -> bool | None:
    # Some providers send "true"/"false" strings.
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def not_configured() -> NotFoundError:
    """The error of the OIDC routes on an instance without a provider."""
    return NotFoundError(
        "La connexion par fournisseur d'identité (OpenID Connect) n'est pas configurée",
        hint="connectez-vous avec votre identifiant et votre mot de passe ; l'administrateur "
        "peut la configurer avec BEFFROI_OIDC_ISSUER et BEFFROI_OIDC_CLIENT_ID",
        message_en="Sign-in with an identity provider (OpenID Connect) is not configured",
        hint_en="sign in with your username and password; the administrator can configure it "
        "with BEFFROI_OIDC_ISSUER and BEFFROI_OIDC_CLIENT_ID",
    )


# ---------------------------------------------------------------- accounts


def _refuse(message: str, hint: str, message_en: str, hint_en: str) -> AuthenticationError:
    return AuthenticationError(message, hint=hint, message_en=message_en, hint_en=hint_en)


def _email_trusted(settings: Settings, identity: IdentityClaims) -> bool:
    if identity.email is None or identity.email_verified is False:
        return False
    return identity.email_verified is True or settings.oidc_trust_email


def _username_for(session: Session, identity: IdentityClaims) -> str:
    """A free username from the provider's preferred one or the e-mail's local part."""
    source = identity.preferred_username or (identity.email or "").split("@")[0]
    ascii_name = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
    base = _USERNAME_CHARS.sub("-", ascii_name.lower()).strip("-._")[:90]
    if len(base) < 2:
        base = "utilisateur"
    candidate, n = base, 1
    while session.scalar(select(User.id).where(User.username == candidate)) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def _resolve_user(
    session: Session, settings: Settings, identity: IdentityClaims, provider: str
) -> User:
    """The account this first login of (issuer, subject) may use, linked or created."""
    trusted = _email_trusted(settings, identity)
    existing = _user_by_email(session, identity.email) if identity.email else None
    if existing is not None and trusted and settings.oidc_link_by_email:
        return existing
    if existing is not None:
        raise _refuse(
            f"Un compte Beffroi existe déjà avec l'adresse {identity.email}, mais il ne peut pas "
            f"être associé à votre identité {provider}"
            + ("" if trusted else " (adresse non vérifiée par le fournisseur)"),
            "connectez-vous avec votre mot de passe, ou demandez à l'administrateur d'associer "
            "les comptes",
            f"A Beffroi account already uses {identity.email}, but it cannot be linked to your "
            f"{provider} identity" + ("" if trusted else " (address not verified by the provider)"),
            "sign in with your password, or ask the administrator to link the accounts",
        )
    if not settings.oidc_create_users:
        raise _refuse(
            f"Aucun compte Beffroi n'est associé à votre identité {provider}",
            "demandez à l'administrateur de la plateforme de créer votre compte"
            + (f" avec l'adresse {identity.email}" if identity.email else ""),
            f"No Beffroi account is linked to your {provider} identity",
            "ask the platform's administrator to create your account"
            + (f" with the address {identity.email}" if identity.email else ""),
        )
    if identity.email is None or not trusted:
        raise _refuse(
            f"{provider} n'a pas transmis d'adresse e-mail vérifiée : le compte ne peut pas être "
            "créé",
            f"vérifiez votre adresse e-mail auprès de {provider} puis reconnectez-vous",
            f"{provider} sent no verified e-mail address: the account cannot be created",
            f"verify your e-mail address at {provider}, then sign in again",
        )
    user = User(
        username=_username_for(session, identity),
        email=identity.email,
        full_name=identity.full_name,
        password_hash=NO_PASSWORD,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        Actor.for_user(user, surface="web"),
        "user.create",
        "user",
        user.username,
        {"via": "oidc", "issuer": identity.issuer},
    )
    return user


def _join_organizations(session: Session, user: User, identity: IdentityClaims) -> None:
    """Make the user a viewer of the organisations its claim names (never removes a role)."""
    for value in identity.organizations:
        if _DIGITS.match(value) and len(value) in {9, 14}:
            where = Organization.siren == value[:9]  # a SIRET starts with its SIREN
        else:
            where = Organization.slug == value
        org = session.scalar(select(Organization).where(where))
        if org is None:
            continue
        if any(m.organization_id == org.id for m in user.memberships):
            continue
        session.add(Membership(user=user, organization=org, role=Role.VIEWER.value))
        session.flush()
        audit.record(
            session,
            Actor.for_user(user, surface="web"),
            "membership.set",
            "organization",
            org.slug,
            {"user": user.username, "role": Role.VIEWER.value, "previous": None, "via": "oidc"},
        )


def _find_link(session: Session, identity: IdentityClaims) -> OidcIdentity | None:
    return session.scalar(
        select(OidcIdentity).where(
            OidcIdentity.issuer == identity.issuer, OidcIdentity.subject == identity.subject
        )
    )


def _link(session: Session, settings: Settings, identity: IdentityClaims) -> OidcIdentity:
    """The link of (issuer, subject), made now (account linked or created) if there is none.

    Idempotent under concurrency: two callbacks of the same first login (two tabs, a
    double click) both find no link and both insert; the unique constraints let one win,
    the other's insert fails (on PostgreSQL it waits for the winner's commit). The loser
    rolls back to its savepoint and uses the winner's link, so both sign in to the same
    account instead of one answering 500.
    """
    link = _find_link(session, identity)
    if link is not None:
        return link
    provider = settings.oidc_provider_name
    try:
        with session.begin_nested():
            user = _resolve_user(session, settings, identity, provider)
            link = OidcIdentity(user=user, issuer=identity.issuer, subject=identity.subject)
            session.add(link)
            session.flush()
            audit.record(
                session,
                Actor.for_user(user, surface="web"),
                "oidc.link",
                "user",
                user.username,
                {"issuer": identity.issuer, "subject": identity.subject},
            )
    except IntegrityError:  # another request linked this identity meanwhile: use its link
        link = _find_link(session, identity)
        if link is None:  # the clash was something else (a username taken meanwhile…):
            raise  # the caller rolls back and signs in again (web/pages/oidc.py)
    return link


def sign_in(session: Session, settings: Settings, identity: IdentityClaims) -> User:
    """The active user of a validated OIDC identity: linked before, linked now, or created."""
    link = _link(session, settings, identity)
    user = link.user
    if not user.is_active:
        raise _refuse(
            "Ce compte Beffroi est désactivé",
            "adressez-vous à l'administrateur de la plateforme",
            "This Beffroi account is disabled",
            "contact the platform's administrator",
        )
    link.email = identity.email
    link.last_login_at = utcnow()
    user.last_login_at = link.last_login_at
    _join_organizations(session, user, identity)
    return user


def open_session(
    session: Session, settings: Settings, identity: IdentityClaims, lifetime: dt.timedelta
) -> str:
    """Sign the identity in and open its web session; the secret of the session.

    Two callbacks of one identity's first login at once (two tabs) race to create its
    account: :func:`sign_in` takes the winner's link when its insert clashes; should the
    clash surface only at commit (or SQLite refuse a write on a stale snapshot: "database
    is locked"), the whole sign-in is rolled back and done again, a few times, until the
    winner's link is there to be read.
    """
    for attempt in range(1, SIGN_IN_ATTEMPTS + 1):
        try:
            user = sign_in(session, settings, identity)
            secret = open_web_session(session, user, lifetime)
            session.commit()
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if attempt < SIGN_IN_ATTEMPTS:
                time.sleep(0.05 * attempt)  # let the winner's transaction end
            else:
                logger.warning(
                    "OpenID Connect sign-in failed %d times on the catalogue: %s", attempt, exc
                )
                raise ServiceUnavailableError(
                    "La connexion n'a pas pu être enregistrée (catalogue occupé)",
                    hint="réessayez dans un instant",
                    message_en="The sign-in could not be recorded (catalogue busy)",
                    hint_en="try again in a moment",
                ) from None
        else:
            return secret
    raise AssertionError("unreachable")  # pragma: no cover
