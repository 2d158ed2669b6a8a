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

# EU High-Value Datasets categories (Implementing Regulation (EU) 2023/138), from the
# Publications Office "high-value dataset category" table (dcatap:hvdCategory).
HVD_VOCABULARY = "http://data.europa.eu/bna/"
HVD_CATEGORIES: dict[str, str] = {
    "c_ac64a52d": "Géospatiales",
    "c_dd313021": "Observation de la Terre et environnement",
    "c_164e0bf5": "Météorologiques",
    "c_e1da4e07": "Statistiques",
    "c_a9135398": "Entreprises et propriété d'entreprises",
    "c_b79e35eb": "Mobilité",
}
HVD_CATEGORIES_EN: dict[str, str] = {
    "c_ac64a52d": "Geospatial",
    "c_dd313021": "Earth observation and environment",
    "c_164e0bf5": "Meteorological",
    "c_e1da4e07": "Statistics",
    "c_a9135398": "Companies and company ownership",
    "c_b79e35eb": "Mobility",
}
# ELI of the HVD implementing regulation: every HVD dataset declares it.
HVD_LEGISLATION = "http://data.europa.eu/eli/reg_impl/2023/138/oj"
