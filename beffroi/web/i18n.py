"""Interface languages: French first, English available.

Messages are looked up by their French text; the English catalogue translates them.
The visitor's choice (``?lang=en``) is kept in a cookie; otherwise the default locale.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LOCALES = ("fr", "en")
LANG_COOKIE = "beffroi_lang"

EN: dict[str, str] = {
    "Aller au contenu": "Skip to content",
    "Accueil": "Home",
    "Jeux de données": "Datasets",
    "Organisations": "Organisations",
    "Se connecter": "Sign in",
    "Se déconnecter": "Sign out",
    "Connexion": "Sign in",
    "Identifiant": "Username",
    "Mot de passe": "Password",
    "Connecté en tant que": "Signed in as",
    "Plateforme de données du territoire": "Data platform of the territory",
    "Communes membres": "Member communes",
    "commune membre": "member commune",
    "communes membres": "member communes",
    "Services et partenaires": "Services and partners",
    "Derniers jeux de données": "Latest datasets",
    "Aucun jeu de données visible pour le moment.": "No visible dataset yet.",
    "Rechercher un jeu de données": "Search for a dataset",
    "Rechercher": "Search",
    "habitants": "inhabitants",
    "Code INSEE": "INSEE code",
    "SIREN": "SIREN",
    "Licence": "Licence",
    "Producteur": "Publisher",
    "Fréquence de mise à jour": "Update frequency",
    "Couverture géographique": "Spatial coverage",
    "Granularité": "Granularity",
    "Période couverte": "Temporal coverage",
    "Schéma de données": "Data schema",
    "Mots-clés": "Keywords",
    "Thèmes": "Themes",
    "Accès": "Access",
    "Contact": "Contact",
    "Mis à jour le": "Updated on",
    "Créé le": "Created on",
    "Voir l'API": "See the API",
    "Page précédente": "Previous page",
    "Page suivante": "Next page",
    "Langue": "Language",
    "Déclaration d'accessibilité": "Accessibility statement",
    "Documentation de l'API": "API documentation",
    "Erreur": "Error",
    "Retour à l'accueil": "Back to home",
    "Comment corriger": "How to fix",
    "public": "public",
    "inscrits": "registered users",
    "interne": "internal",
    "organisation": "organisation",
    "restreint": "restricted",
    "Données de référence": "Reference data",
    "jeux de données": "datasets",
    "Aucun résultat.": "No result.",
    "Intercommunalité": "Intercommunality",
    "Commune": "Commune",
    "Service": "Service",
    "Partenaire": "Partner",
    "Autre": "Other",
    "Rattachée à": "Part of",
    "Site web": "Website",
    "Métadonnées": "Metadata",
    "Versions des données": "Data versions",
    "Version": "Version",
    "Fichier": "File",
    "Lignes": "Rows",
    "Chargée le": "Loaded on",
    "État": "State",
    "publiée": "published",
    "ancienne version": "former version",
    "en attente de publication": "awaiting publication",
    "Aucune donnée publiée pour le moment.": "No data published yet.",
    "Codes d'erreur": "Error codes",
    "Titre": "Title",
    "Signification": "Meaning",
    "L'API répond à toute erreur au format application/problem+json (RFC 9457) ; son champ "
    "type renvoie à cette page.": "The API answers every error as application/problem+json "
    "(RFC 9457); its type field links to this page.",
    "Navigation principale": "Main navigation",
    "Fil d'Ariane": "Breadcrumb",
    # Vocabulary labels (beffroi.catalog.vocabularies)
    "en continu": "continuous",
    "mise à jour continue": "continuously updated",
    "chaque minute": "every minute",
    "tous les quarts d'heure": "every fifteen minutes",
    "toutes les heures": "hourly",
    "quotidienne": "daily",
    "hebdomadaire": "weekly",
    "bimensuelle (toutes les deux semaines)": "biweekly",
    "mensuelle": "monthly",
    "tous les deux mois": "bimonthly",
    "trimestrielle": "quarterly",
    "semestrielle": "semiannual",
    "annuelle": "annual",
    "tous les deux ans": "biennial",
    "tous les trois ans": "triennial",
    "irrégulière": "irregular",
    "jamais (données figées)": "never (frozen data)",
    "autre": "other",
    "inconnue": "unknown",
    "Agriculture, pêche, sylviculture et alimentation": "Agriculture, fisheries, forestry and food",
    "Économie et finances": "Economy and finance",
    "Éducation, culture et sport": "Education, culture and sport",
    "Énergie": "Energy",
    "Environnement": "Environment",
    "Gouvernement et secteur public": "Government and public sector",
    "Santé": "Health",
    "Questions internationales": "International issues",
    "Justice, système juridique et sécurité publique": "Justice, legal system and public safety",
    "Régions et villes": "Regions and cities",
    "Population et société": "Population and society",
    "Science et technologie": "Science and technology",
    "Transports": "Transport",
    "commune": "commune",
    "IRIS (quartier statistique)": "IRIS (statistical district)",
    "canton": "canton",
    "EPCI (intercommunalité)": "EPCI (intercommunality)",
    "département": "département",
    "région": "région",
    "pays": "country",
    "point d'intérêt": "point of interest",
    "Beffroi est la plateforme de données mutualisée de l'intercommunalité et de ses "
    "communes membres.": "Beffroi is the shared data platform of the intercommunality "
    "and its member communes.",
    "Cette plateforme n'a pas encore d'intercommunalité.": "This platform has no "
    "intercommunality yet.",
    "Lancez `beffroi demo` pour charger une intercommunalité de démonstration.": "Run "
    "`beffroi demo` to load a demo intercommunality.",
}


def negotiate(request: Request, default: str) -> str:
    """The page language: explicit ``?lang=``, then the cookie, then the default."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in LOCALES else default


def translator(locale: str) -> Callable[[str], str]:
    """A ``_()`` function for templates."""
    if locale == "en":
        return lambda text: EN.get(text, text)
    return lambda text: text
