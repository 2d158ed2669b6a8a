"""``beffroi user``, ``beffroi member`` and ``beffroi token``: people and credentials
(scoped, expiring API tokens; unlocking sign-in after too many failures)."""

from __future__ import annotations

import click

from beffroi.access import accounts, lockout
from beffroi.catalog.models import Role
from beffroi.catalog.schemas import MembershipCreate, UserCreate, parse
from beffroi.cli.base import CliContext, cli, json_option, pass_context, print_rows


@cli.group()
def user() -> None:
    """Comptes des utilisateurs."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="Adresse e-mail.")
@click.option("--name", "full_name", default="", help="Nom complet.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="BEFFROI_NEW_PASSWORD",
    help="Mot de passe (12 caractères au moins ; "
    "demandé si absent, ou variable BEFFROI_NEW_PASSWORD).",
)
@click.option("--platform-admin", is_flag=True, help="Administrateur de toute la plateforme.")
@pass_context
def user_create(
    ctx: CliContext, username: str, email: str, full_name: str, password: str, platform_admin: bool
) -> None:
    """Créer un compte."""
    data = parse(
        UserCreate,
        {
            "username": username,
            "email": email,
            "full_name": full_name,
            "password": password,
            "is_platform_admin": platform_admin,
        },
    )
    with ctx.transaction() as session:
        accounts.create_user(session, ctx.actor, data)
    click.echo(f"Compte créé : {username}")


@user.command("password")
@click.argument("username")
@click.option(
    "--password",
    prompt="Nouveau mot de passe",
    hide_input=True,
    confirmation_prompt=True,
    envvar="BEFFROI_NEW_PASSWORD",
    help="Nouveau mot de passe (demandé si absent, ou variable BEFFROI_NEW_PASSWORD).",
)
@pass_context
def user_password(ctx: CliContext, username: str, password: str) -> None:
    """Remplacer le mot de passe de USERNAME."""
    with ctx.transaction() as session:
        accounts.set_password(session, ctx.actor, username, password)
    click.echo(f"Mot de passe de {username} remplacé.")


@user.command("unlock")
@click.argument("username", required=False)
@click.option("--ip", default=None, help="Débloquer aussi (ou seulement) cette adresse IP.")
@pass_context
def user_unlock(ctx: CliContext, username: str | None, ip: str | None) -> None:
    """Débloquer la connexion de USERNAME après trop d'échecs (et remettre le compte à zéro)."""
    if username is None and ip is None:
        raise click.UsageError("nommez un compte (USERNAME) ou une adresse (--ip)")
    with ctx.transaction() as session:
        lifted = lockout.unlock(session, ctx.actor, username, ip=ip)
    what = " et ".join(x for x in (username, ip) if x)
    click.echo(f"Connexion débloquée : {what}" if lifted else f"Compteur remis à zéro : {what}")


@user.command("list")
@json_option
@pass_context
def user_list(ctx: CliContext, as_json: bool) -> None:
    """Lister les comptes et leurs rôles."""
    with ctx.transaction() as session:
        rows = [
            {
                "username": u.username,
                "email": u.email,
                "full_name": u.full_name,
                "platform_admin": u.is_platform_admin,
                "roles": ", ".join(f"{m.organization.slug}:{m.role}" for m in u.memberships),
            }
            for u in accounts.list_users(session)
        ]
    print_rows(
        rows,
        ["username", "email", "full_name", "platform_admin", "roles"],
        as_json=as_json,
        title="Comptes",
    )


@cli.group()
def member() -> None:
    """Rôles des utilisateurs dans les organisations."""


@member.command("add")
@click.argument("username")
@click.argument("organization")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="admin, steward (référent qui approuve), editor ou viewer.",
)
@pass_context
def member_add(ctx: CliContext, username: str, organization: str, role: str) -> None:
    """Donner un rôle à USERNAME dans ORGANIZATION (remplace le rôle précédent)."""
    data = parse(
        MembershipCreate, {"username": username, "organization": organization, "role": role}
    )
    with ctx.transaction() as session:
        accounts.add_member(session, ctx.actor, data)
    click.echo(f"{username} est {role} de {organization}")


@cli.group()
def token() -> None:
    """Jetons d'API (Authorization: Bearer)."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="Nom du jeton (usage).")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="write",
    show_default=True,
    help="read : lecture seule (aucune modification) ; write : lecture et écriture.",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="SLUG",
    help="Limiter le jeton à ce jeu de données (répétable ; sans limite sinon).",
)
@click.option(
    "--expires-days",
    "--expires-in-days",
    "expires_in_days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Durée de validité en jours (par défaut et au plus : BEFFROI_TOKEN_MAX_DAYS).",
)
@pass_context
def token_create(
    ctx: CliContext,
    username: str,
    name: str,
    scope: str,
    datasets: tuple[str, ...],
    expires_in_days: int | None,
) -> None:
    """Créer un jeton d'API pour USERNAME (affiché une seule fois)."""
    with ctx.transaction() as session:
        created, secret = accounts.create_token(
            session,
            ctx.actor,
            username,
            name,
            expires_in_days=expires_in_days,
            scope=scope,
            datasets=list(datasets) or None,
            max_days=ctx.settings.token_max_days,
        )
        token_id = created.id
        expires = created.expires_at
    click.echo(secret)
    until = f", valable jusqu'au {expires:%Y-%m-%d}" if expires else ""
    click.echo(
        f"Jeton n° {token_id} ({scope}) pour {username}{until} : conservez-le, "
        "il ne sera plus affiché.",
        err=True,
    )


@token.command("list")
@click.option("--user", "username", default=None, help="Les jetons de cet utilisateur.")
@json_option
@pass_context
def token_list(ctx: CliContext, username: str | None, as_json: bool) -> None:
    """Lister les jetons d'API (de tous les utilisateurs, ou de --user), sans leur secret."""
    with ctx.transaction() as session:
        found = accounts.list_tokens(
            session, ctx.actor, username=username, all_users=username is None
        )
        rows = [
            {
                "id": t.id,
                "user": t.username,
                "name": t.name,
                "prefix": t.prefix,
                "scope": t.scope,
                "datasets": ", ".join(t.datasets) if t.datasets is not None else "(tous)",
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "status": "actif" if t.active else ("révoqué" if t.revoked_at else "expiré"),
            }
            for t in found
        ]
    print_rows(
        rows,
        ["id", "user", "name", "prefix", "scope", "datasets", "expires_at", "status"],
        as_json=as_json,
        title="Jetons d'API",
    )


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def token_revoke(ctx: CliContext, token_id: int) -> None:
    """Révoquer un jeton (effet immédiat)."""
    with ctx.transaction() as session:
        accounts.revoke_token(session, ctx.actor, token_id)
    click.echo(f"Jeton n° {token_id} révoqué.")
