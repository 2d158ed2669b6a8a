"""Back office pages: « Mes jetons », members and roles of an organisation, sharing agreements.

* ``/compte/jetons``: the signed-in user's API tokens — list, create (the secret is shown
  once, on the answer to the form, and never again), revoke;
* ``/organisations/{slug}/membres``: its members and roles, for its stewards and
  administrators (404 for anyone else); its administrators add a member by username with a
  role, change a role or remove a member;
* ``/conventions``: the sharing agreements the steward may know of (read-only).

Every form carries the CSRF token; who may see or do what is decided in
:mod:`beffroi.access` (:mod:`beffroi.access.members`, the accounts and agreements services).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from beffroi.access import Action, Actor, accounts, agreements, can, members
from beffroi.catalog.models import Role, TokenScope
from beffroi.catalog.schemas import MembershipCreate, parse
from beffroi.catalog.services import list_organizations
from beffroi.errors import BeffroiError, InvalidInputError, NotFoundError
from beffroi.web.deps import ActorDep, SessionDep, SettingsDep
from beffroi.web.i18n import negotiate
from beffroi.web.pages.rendering import render, templates
from beffroi.web.security import check_csrf

router = APIRouter()

#: Role labels (French; the templates translate them), strongest first.
ROLE_LABELS: Final = {
    Role.ADMIN.value: "administrateur",
    Role.STEWARD.value: "référent",
    Role.EDITOR.value: "éditeur",
    Role.VIEWER.value: "lecteur",
}
SCOPE_LABELS: Final = {
    TokenScope.READ.value: "lecture seule",
    TokenScope.WRITE.value: "lecture et écriture",
}
STATUS_LABELS: Final = {
    "draft": "brouillon",
    "active": "en vigueur",
    "suspended": "suspendue",
    "expired": "expirée",
}


def _login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)


def _error(request: Request, exc: BeffroiError) -> tuple[str, str | None]:
    return exc.localized(negotiate(request, request.app.state.settings.default_locale))


def _form_status(exc: BeffroiError) -> int:
    """The status of a page re-shown with a form error (a name not found is the form's)."""
    if exc.status >= 500 or exc.status in {401, 403}:
        raise exc
    return 422 if exc.status == 404 else exc.status


def backoffice_links(actor: Actor | None) -> list[tuple[str, str]]:
    """Header links of the signed-in user's back office (template global)."""
    if actor is None or not actor.is_authenticated or actor.user_id is None:
        return []
    links = [("/compte/jetons", "Mes jetons")]
    if members.may_list_agreements(actor):
        links.append(("/conventions", "Conventions"))
    if can(actor, Action.AUDIT_READ):
        links.append(("/admin/journal", "Journal d'audit"))
    return links


templates.env.globals["backoffice_links"] = backoffice_links


# ---------------------------------------------------------------- tokens


def _organizations(session: SessionDep, actor: Actor) -> list[Any]:
    """The organisations whose members page the actor may see."""
    return [o for o in list_organizations(session) if members.may_view_members(actor, o.id)]


def _tokens_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    *,
    created: tuple[Any, str] | None = None,
    error: tuple[str, str | None] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.settings
    response = render(
        request,
        "tokens.html",
        {
            "actor": actor,
            "tokens": accounts.list_tokens(session, actor),
            "created": created,
            "error": error,
            "form": form or {},
            "scopes": SCOPE_LABELS,
            "max_days": settings.token_max_days,
            "revoked": request.query_params.get("revoque") == "1",
            "organizations": _organizations(session, actor),
        },
        status_code=status_code,
    )
    if created is not None:
        response.headers["Cache-Control"] = "no-store"  # the secret must not be kept
    return response


@router.get("/compte/jetons", response_class=HTMLResponse, name="my_tokens")
def my_tokens(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The signed-in user's API tokens."""
    if actor.user_id is None:
        return _login(request)
    return _tokens_page(request, session, actor)


@router.post("/compte/jetons", response_class=HTMLResponse, name="my_tokens_create")
def create_my_token(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)] = "",
    scope: Annotated[str, Form()] = TokenScope.READ.value,
    days: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Create a token: the page shows its secret this once."""
    check_csrf(request, csrf_token, settings.signing_key())
    if actor.user_id is None or actor.username is None:
        return _login(request)
    form = {"name": name, "scope": scope, "days": days}
    lifetime = int(days) if days.strip().isdigit() else None
    try:
        if not name.strip():
            raise InvalidInputError(
                "Donnez un nom au jeton",
                hint="par exemple le script ou le service qui l'utilisera",
                message_en="Give the token a name",
                hint_en="for instance the script or service that will use it",
            )
        token, secret = accounts.create_token(
            session,
            actor,
            actor.username,
            name.strip(),
            expires_in_days=lifetime,
            scope=scope,
            max_days=settings.token_max_days,
        )
    except BeffroiError as exc:
        status = _form_status(exc)
        session.rollback()
        error = _error(request, exc)
        return _tokens_page(request, session, actor, error=error, form=form, status_code=status)
    session.commit()
    return _tokens_page(request, session, actor, created=(token, secret))


@router.post("/compte/jetons/{token_id}/revoquer", name="my_tokens_revoke")
def revoke_my_token(
    token_id: int,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Revoke one of the user's own tokens (another's is not found)."""
    check_csrf(request, csrf_token, settings.signing_key())
    if actor.user_id is None:
        return _login(request)
    if token_id not in {t.id for t in accounts.list_tokens(session, actor)}:
        raise NotFoundError(
            f"Jeton introuvable : {token_id}",
            hint="vos jetons sont listés sur /compte/jetons",
            message_en=f"Token not found: {token_id}",
            hint_en="your tokens are listed on /compte/jetons",
        )
    accounts.revoke_token(session, actor, token_id)
    session.commit()
    return RedirectResponse("/compte/jetons?revoque=1", status_code=303)


# ---------------------------------------------------------------- members


def _members_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    slug: str,
    *,
    error: tuple[str, str | None] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    org, found = members.list_members(session, actor, slug)
    return render(
        request,
        "members.html",
        {
            "actor": actor,
            "org": org,
            "members": found,
            "manage": members.may_manage_members(actor, org.id),
            "roles": ROLE_LABELS,
            "error": error,
            "form": form or {},
            "done": request.query_params.get("fait", ""),
        },
        status_code=status_code,
    )


@router.get("/organisations/{slug}/membres", response_class=HTMLResponse, name="org_members")
def organization_members(
    slug: str, request: Request, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    """Members and roles of an organisation (its stewards and administrators)."""
    return _members_page(request, session, actor, slug)


@router.post("/organisations/{slug}/membres", name="org_members_add")
def add_organization_member(
    slug: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form()] = Role.VIEWER.value,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Give a user a role in the organisation (or change it)."""
    check_csrf(request, csrf_token, settings.signing_key())
    members.list_members(session, actor, slug)  # 404 for those who may not see
    try:
        data = parse(
            MembershipCreate, {"username": username.strip(), "organization": slug, "role": role}
        )
        accounts.add_member(session, actor, data)
    except BeffroiError as exc:
        status = _form_status(exc)
        session.rollback()
        form = {"username": username, "role": role}
        error = _error(request, exc)
        return _members_page(
            request, session, actor, slug, error=error, form=form, status_code=status
        )
    session.commit()
    return RedirectResponse(f"/organisations/{slug}/membres?fait=ajout", status_code=303)


@router.post("/organisations/{slug}/membres/retirer", name="org_members_remove")
def remove_organization_member(
    slug: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Take a member's role away."""
    check_csrf(request, csrf_token, settings.signing_key())
    try:
        members.remove_member(session, actor, slug, username)
    except BeffroiError as exc:
        members.list_members(session, actor, slug)  # 404 first for those who may not see
        status = _form_status(exc)
        session.rollback()
        error = _error(request, exc)
        return _members_page(request, session, actor, slug, error=error, status_code=status)
    session.commit()
    return RedirectResponse(f"/organisations/{slug}/membres?fait=retrait", status_code=303)


# ---------------------------------------------------------------- agreements


@router.get("/conventions", response_class=HTMLResponse, name="agreements_list")
def agreements_list(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The sharing agreements a steward may know of: status, parties, dates."""
    if not actor.is_authenticated:
        return _login(request)
    if not members.may_list_agreements(actor):
        raise NotFoundError(
            "Page introuvable : /conventions",
            hint="les conventions de partage sont listées pour les référents",
            message_en="Page not found: /conventions",
            hint_en="sharing agreements are listed for stewards",
        )
    found = agreements.list_agreements(session, actor)
    return render(
        request,
        "agreements.html",
        {
            "actor": actor,
            "agreements": [(a, agreements.agreement_public(a, actor)) for a in found],
            "statuses": STATUS_LABELS,
        },
    )


__all__ = ["backoffice_links", "router"]
