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
    # Dataset page: preview, chart, downloads, API
    "(aucune)": "(none)",
    "(ordre du fichier)": "(file order)",
    "Afficher le graphique": "Show the chart",
    "Aperçu des données": "Data preview",
    "Appliquer": "Apply",
    "Aucune ligne ne correspond.": "No row matches.",
    "CSV": "CSV",
    "CSV pour Excel (Windows-1252, « ; »)": "CSV for French Excel (Windows-1252, “;”)",
    "Client CKAN (ckanapi)": "CKAN client (ckanapi)",
    "Colonne": "Column",
    "Colonne de tri": "Sort column",
    "Condition": "Condition",
    "Construire un graphique": "Build a chart",
    "Différences": "Differences",
    "Excel (XLSX)": "Excel (XLSX)",
    "Filtrer et trier le tableau": "Filter and sort the table",
    "Filtrer une colonne": "Filter a column",
    "Graphique": "Chart",
    "JSON": "JSON",
    "Les mêmes lignes sont servies par l'API JSON, filtrables et triables ; voir la": (
        "The same rows are served by the JSON API, filterable and sortable; see the"
    ),
    "Lignes par page": "Rows per page",
    "Mesure": "Measure",
    "NDJSON": "NDJSON",
    "Nombre de lignes": "Number of rows",
    "Ordre": "Order",
    "Pages du tableau": "Table pages",
    "Parquet": "Parquet",
    "Première page": "First page",
    "Rechercher dans les données": "Search the data",
    "Regrouper par": "Group by",
    "Réinitialiser": "Reset",
    "Somme de": "Sum of",
    "Sur cette page": "On this page",
    "Trier": "Sort",
    "Téléchargements": "Downloads",
    "Utiliser l'API": "Use the API",
    "Valeur": "Value",
    "Valeurs du graphique": "Chart values",
    "Valeurs du graphique (tableau)": "Chart values (table)",
    "aperçu des données": "data preview",
    "commence par": "starts with",
    "contient": "contains",
    "croissant": "ascending",
    "documentation de l'API": "API documentation",
    "décroissant": "descending",
    "est différent de": "is not",
    "est inférieur ou égal à": "is at most",
    "est inférieur à": "is less than",
    "est supérieur ou égal à": "is at least",
    "est supérieur à": "is greater than",
    "est égal à": "is",
    "lignes filtrées": "filtered rows",
    "lignes filtrées seulement": "filtered rows only",
    "nombre de lignes": "number of rows",
    "par": "by",
    "somme de": "sum of",
    "sur": "of",
    "version": "version",
    # Commune page
    "Communes": "Communes",
    "Département": "Département",
    "Codes postaux": "Postal codes",
    "Organisation sur la plateforme": "Organisation on the platform",
    "Jeux de données couvrant la commune": "Datasets covering the commune",
    "Jeux de données publiés par la commune": "Datasets published by the commune",
    "Lignes qui concernent la commune": "Rows about the commune",
    "Lignes des jeux de données publiés dont une colonne contient des codes INSEE de "
    "communes, pour le code": "Rows of published datasets with a column of INSEE commune "
    "codes, for the code",
    "ligne(s) où": "row(s) where",
    "voir toutes ces lignes": "see all these rows",
    "données de": "data of",
    "tout sur la commune": "everything about the commune",
    # Upload wizard
    "Actualiser": "Refresh",
    "Après le chargement": "After loading",
    "Chargement": "Loading",
    "Chargement du fichier": "Loading the file",
    "Chargement en cours…": "Loading…",
    "Choisir le fichier": "Choose the file",
    "Colonnes et types": "Columns and types",
    "Contrôler la conformité": "Check conformity",
    "Contrôler le fichier": "Check the file",
    "Contrôler le fichier selon": "Check the file against",
    (
        "Corrigez le fichier puis déposez-le à nouveau, ou corrigez un type ci-"
        "dessus s'il a été mal détecté. Vous pouvez aussi l'envoyer tel quel, en "
        "attente de publication."
    ): (
        "Fix the file and upload it again, or correct a type above if it was "
        "wrongly detected. You may also send it as it is, awaiting publication."
    ),
    (
        "Corrigez un type si la détection s'est trompée : l'aperçu et le contrôle"
        " en tiennent compte."
    ): ("Correct a type if detection got it wrong: the preview and the check use it."),
    "Déposer un autre fichier": "Upload another file",
    "Déposer un fichier": "Upload a file",
    "Détail": "Details",
    "Détail des erreurs": "Error details",
    "Encodage": "Encoding",
    "Encodage détecté": "Detected encoding",
    "Envoyer": "Send",
    "Envoyer le fichier": "Send the file",
    "Erreurs par type": "Errors by type",
    "Exemples": "Examples",
    ("Fichier (CSV, Excel, ODS, JSON, GeoJSON, Parquet)"): (
        "File (CSV, Excel, ODS, JSON, GeoJSON, Parquet)"
    ),
    "Fichier conforme": "File conforms",
    "Fichier non conforme": "File does not conform",
    "Format": "Format",
    (
        "Glissez le fichier ici ou choisissez-le. Encodage, séparateur et types "
        "des colonnes sont détectés."
    ): ("Drop the file here or choose it. Encoding, delimiter and column types are detected."),
    "Latin-9": "Latin-9",
    "Le fichier devient une nouvelle version de": "The file becomes a new version of",
    "Le fichier ne peut pas être lu": "The file cannot be read",
    "Lecture du fichier": "Reading the file",
    "Ligne": "Row",
    "Lignes lues pour l'aperçu": "Rows read for the preview",
    "Mettre à jour l'aperçu": "Update the preview",
    "Options de lecture (facultatif)": "Reading options (optional)",
    "Premières lignes": "First rows",
    "Problème": "Problem",
    "Rapport de contrôle": "Check report",
    "Rien n'est publié avant la dernière étape.": "Nothing is published before the last step.",
    "Séparateur": "Delimiter",
    "Séparateur détecté": "Detected delimiter",
    "Type": "Type",
    "Type de la colonne": "Type of column",
    "UTF-8": "UTF-8",
    "Voir l'aperçu": "See the preview",
    "Voir le jeu de données": "See the dataset",
    "Vérifier la lecture et les types": "Check reading and types",
    "Vérifier le fichier": "Check the file",
    "Windows-1252": "Windows-1252",
    "aucun : vérifier les types des colonnes ci-dessus": "none: check the column types above",
    "chargée": "loaded",
    "corrigé": "corrected",
    "date": "date",
    "date et heure": "date and time",
    "détecté": "detected",
    "erreur(s) sur": "error(s) in",
    "géométrie": "geometry",
    "laisser la version en attente de publication": "leave the version awaiting publication",
    "ligne(s)": "row(s)",
    "ligne(s) lues.": "row(s) read.",
    "ligne(s), aucune erreur.": "row(s), no error.",
    "ligne(s).": "row(s).",
    "nombre décimal": "decimal number",
    "nombre entier": "integer",
    "oui / non": "yes / no",
    "point-virgule ;": "semicolon ;",
    "premières erreurs": "first errors",
    "publier la version aussitôt": "publish the version at once",
    "tabulation": "tab",
    "texte": "text",
    "virgule ,": "comma ,",
    "Étapes du dépôt": "Upload steps",
    (
        "Les types corrigés servent à l'aperçu et au contrôle ; au chargement, les types sont "
        "de nouveau détectés (leur prise en compte par le chargement est prévue)."
    ): (
        "Corrected types are used by the preview and the check; when loading, types are "
        "detected again (applying them when loading is planned)."
    ),
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
