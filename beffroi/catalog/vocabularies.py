"""Controlled vocabularies of dataset metadata (EU Publications Office, Etalab)."""

from __future__ import annotations

EU_AUTHORITY = "http://publications.europa.eu/resource/authority"

# EU "frequency" authority table (codes used as dct:accrualPeriodicity).
FREQUENCIES: dict[str, str] = {
    "CONT": "en continu",
    "UPDATE_CONT": "mise à jour continue",
    "1MIN": "chaque minute",
    "15MIN": "tous les quarts d'heure",
    "HOURLY": "toutes les heures",
    "DAILY": "quotidienne",
    "WEEKLY": "hebdomadaire",
    "BIWEEKLY": "bimensuelle (toutes les deux semaines)",
    "MONTHLY": "mensuelle",
    "BIMONTHLY": "tous les deux mois",
    "QUARTERLY": "trimestrielle",
    "ANNUAL_2": "semestrielle",
    "ANNUAL": "annuelle",
    "BIENNIAL": "tous les deux ans",
    "TRIENNIAL": "tous les trois ans",
    "IRREG": "irrégulière",
    "NEVER": "jamais (données figées)",
    "OTHER": "autre",
    "UNKNOWN": "inconnue",
}

# EU "data-theme" authority table (dcat:theme), the themes data.gouv.fr harvests.
THEMES: dict[str, str] = {
    "AGRI": "Agriculture, pêche, sylviculture et alimentation",
    "ECON": "Économie et finances",
    "EDUC": "Éducation, culture et sport",
    "ENER": "Énergie",
    "ENVI": "Environnement",
    "GOVE": "Gouvernement et secteur public",
    "HEAL": "Santé",
    "INTR": "Questions internationales",
    "JUST": "Justice, système juridique et sécurité publique",
    "REGI": "Régions et villes",
    "SOCI": "Population et société",
    "TECH": "Science et technologie",
    "TRAN": "Transports",
}

# Licence identifiers known by name; any other licence is given by its URI.
LICENSES: dict[str, tuple[str, str]] = {
    "etalab-2.0": (
        "Licence Ouverte / Open Licence 2.0",
        "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    ),
    "ODbL-1.0": ("Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "CC-BY-4.0": ("Creative Commons BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "other-closed": ("Réutilisation non autorisée (données non ouvertes)", ""),
}

# Spatial granularities (data.gouv.fr "granularité spatiale").
GRANULARITIES: dict[str, str] = {
    "fr:commune": "commune",
    "fr:iris": "IRIS (quartier statistique)",
    "fr:canton": "canton",
    "fr:epci": "EPCI (intercommunalité)",
    "fr:departement": "département",
    "fr:region": "région",
    "country": "pays",
    "poi": "point d'intérêt",
    "other": "autre",
}
