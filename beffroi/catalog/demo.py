"""The demo intercommunality: a real EPCI from the reference data, idempotently loaded.

CA Lorient Agglomération (SIREN 200042174, 25 member communes, Morbihan) with its
communes as organisations (INSEE code and SIREN from the shipped reference), a few
services, a partner, one user per role, and a handful of dataset records shaped like
real SCDL / schema.data.gouv.fr publications. Running it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import reference
from beffroi.access.accounts import add_member, create_user
from beffroi.access.actors import Actor
from beffroi.catalog.identifiers import slugify
from beffroi.catalog.models import Dataset, Organization, OrgKind, Role, User
from beffroi.catalog.schemas import (
    DatasetCreate,
    MembershipCreate,
    OrganizationCreate,
    UserCreate,
    parse,
)
from beffroi.catalog.services import create_dataset, create_organization
from beffroi.settings import Settings

DEMO_EPCI_SIREN = "200042174"
EPCI_SLUG = "lorient-agglomeration"

SERVICES = [
    ("direction-eau-assainissement", "Direction de l'eau et de l'assainissement"),
    ("direction-mobilites", "Direction des mobilités"),
    ("service-sig", "Service information géographique (SIG)"),
]
PARTNER = ("eau-du-morbihan-delegataire", "Délégataire eau potable (démonstration)")

# (username, full name, organisation slug or None for the EPCI, role, platform admin)
USERS: list[tuple[str, str, str | None, Role, bool]] = [
    ("admin", "Administratrice de la plateforme", None, Role.ADMIN, True),
    ("referente-sig", "Référente SIG", "service-sig", Role.STEWARD, False),
    ("editeur-mobilites", "Éditeur mobilités", "direction-mobilites", Role.EDITOR, False),
    (
        "lecteur-eau",
        "Lecteur eau et assainissement",
        "direction-eau-assainissement",
        Role.VIEWER,
        False,
    ),
    ("partenaire-eau", "Compte du délégataire eau", PARTNER[0], Role.EDITOR, False),
]


@dataclass
class DemoReport:
    """What the demo created (empty lists on a second run)."""

    epci: str = ""
    communes: int = 0
    created_organizations: list[str] = field(default_factory=list)
    created_users: dict[str, str] = field(default_factory=dict)  # username -> password
    created_datasets: list[str] = field(default_factory=list)
    created_indicators: list[str] = field(default_factory=list)


def _org(session: Session, slug: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.slug == slug))


def _ensure_org(
    session: Session, actor: Actor, report: DemoReport, slug: str, **fields: Any
) -> Organization:
    existing = _org(session, slug)
    if existing is not None:
        return existing
    org = create_organization(session, actor, parse(OrganizationCreate, {"slug": slug, **fields}))
    report.created_organizations.append(slug)
    return org


def _datasets(communes: list[reference.Commune]) -> list[dict[str, Any]]:
    all_communes = [f"commune:{c.code_insee}" for c in communes]
    year = dt.date(2025, 1, 1)
    return [
        {
            "slug": "subventions-associations",
            "title": "Subventions versées aux associations",
            "publisher": EPCI_SLUG,
            "description": "Attributions de subventions de l'agglomération aux associations, "
            "au format **SCDL Subventions** (décret n° 2017-779).",
            "keywords": ["subventions", "associations", "SCDL"],
            "themes": ["ECON", "GOVE"],
            "frequency": "ANNUAL",
            "spatial": [f"epci:{DEMO_EPCI_SIREN}"],
            "spatial_granularity": "fr:epci",
            "temporal_start": year,
            "temporal_end": dt.date(2025, 12, 31),
            "schema_ref": "scdl/subventions",
            "contact_name": "Direction des finances",
            "contact_email": "donnees@demo.example.org",
        },
        {
            "slug": "bornes-recharge-vehicules-electriques",
            "title": "Bornes de recharge pour véhicules électriques (IRVE)",
            "publisher": "direction-mobilites",
            "description": "Points de recharge ouverts au public sur le territoire, au schéma "
            "national IRVE statique.",
            "keywords": ["IRVE", "mobilité électrique", "bornes"],
            "themes": ["TRAN", "ENER"],
            "frequency": "MONTHLY",
            "spatial": all_communes,
            "spatial_granularity": "poi",
            "schema_ref": "etalab/schema-irve-statique",
        },
        {
            "slug": "stationnement-cyclable",
            "title": "Stationnement cyclable",
            "publisher": "direction-mobilites",
            "description": "Arceaux, abris et consignes vélo recensés par les communes.",
            "keywords": ["vélo", "stationnement"],
            "themes": ["TRAN"],
            "frequency": "QUARTERLY",
            "spatial": all_communes,
            "spatial_granularity": "poi",
            "schema_ref": "etalab/schema-stationnement-cyclable",
        },
        {
            "slug": "consommation-eau-potable-par-commune",
            "title": "Consommation d'eau potable par commune",
            "publisher": PARTNER[0],
            "description": "Volumes facturés par commune et par mois. Visible des seuls "
            "membres du délégataire ; l'ouverture aux services de l'agglomération passera "
            "par une convention de partage.",
            "keywords": ["eau potable", "consommation"],
            "themes": ["ENVI"],
            "frequency": "MONTHLY",
            "spatial": all_communes,
            "spatial_granularity": "fr:commune",
            "access_level": "organization",
            "license": "other-closed",
        },
        {
            "slug": "budget-primitif-agglomeration",
            "title": "Budget primitif de l'agglomération",
            "publisher": EPCI_SLUG,
            "description": "Budget primitif voté, présentation croisée par fonction (M57) ; "
            "document de travail interne avant publication.",
            "keywords": ["budget", "finances"],
            "themes": ["GOVE", "ECON"],
            "frequency": "ANNUAL",
            "spatial": [f"epci:{DEMO_EPCI_SIREN}"],
            "spatial_granularity": "fr:epci",
            "access_level": "internal",
            "schema_ref": "scdl/budget",
        },
        {
            "slug": "arbres-alignement",
            "title": "Arbres d'alignement",
            "publisher": "service-sig",
            "description": "Patrimoine arboré le long des voies communautaires (schéma Arbres).",
            "keywords": ["arbres", "patrimoine naturel"],
            "themes": ["ENVI"],
            "frequency": "ANNUAL",
            "spatial": all_communes,
            "spatial_granularity": "poi",
            "schema_ref": "arbres",
        },
    ]


def load_demo(session: Session, actor: Actor, settings: Settings | None = None) -> DemoReport:
    """Create (or complete) the demo intercommunality. Idempotent.

    With the instance ``settings``, also publish the demo data and create the demo
    indicators (:mod:`beffroi.indicators.demo`)."""
    report = DemoReport()
    epci_ref = reference.epci(DEMO_EPCI_SIREN)
    members = reference.epci_members(DEMO_EPCI_SIREN)
    report.epci = epci_ref.name
    report.communes = len(members)
    _ensure_org(
        session,
        actor,
        report,
        EPCI_SLUG,
        name=epci_ref.name,
        kind=OrgKind.EPCI,
        siren=epci_ref.siren,
        description=f"Communauté d'agglomération de {len(members)} communes "
        f"({epci_ref.population_municipale or 0:,} habitants).".replace(",", "\u202f"),
    )
    for commune in members:
        _ensure_org(
            session,
            actor,
            report,
            slugify(commune.name),
            name=commune.name,
            kind=OrgKind.COMMUNE,
            insee_code=commune.code_insee,
            siren=commune.siren,
            parent=EPCI_SLUG,
        )
    for slug, name in SERVICES:
        _ensure_org(session, actor, report, slug, name=name, kind=OrgKind.SERVICE, parent=EPCI_SLUG)
    _ensure_org(
        session,
        actor,
        report,
        PARTNER[0],
        name=PARTNER[1],
        kind=OrgKind.PARTNER,
        description="Concessionnaire du service public de l'eau potable (fictif).",
    )

    for username, full_name, org_slug, role, is_admin in USERS:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            password = secrets.token_urlsafe(12)
            create_user(
                session,
                actor,
                parse(
                    UserCreate,
                    {
                        "username": username,
                        "email": f"{username}@demo.example.org",
                        "full_name": full_name,
                        "password": password,
                        "is_platform_admin": is_admin,
                    },
                ),
            )
            add_member(
                session,
                actor,
                parse(
                    MembershipCreate,
                    {"username": username, "organization": org_slug or EPCI_SLUG, "role": role},
                ),
            )
            report.created_users[username] = password

    for fields in _datasets(members):
        if session.scalar(select(Dataset.id).where(Dataset.slug == fields["slug"])) is None:
            create_dataset(session, actor, parse(DatasetCreate, fields))
            report.created_datasets.append(fields["slug"])
    if settings is not None:
        from beffroi.indicators.demo import load_demo_indicators  # noqa: PLC0415 - heavy

        report.created_indicators = load_demo_indicators(session, actor, settings)
    return report
