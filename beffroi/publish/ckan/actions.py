"""The read-only CKAN actions over the public catalogue.

Search runs over the public datasets held in memory (the catalogue of one intercommunality
counts hundreds to a few thousand datasets); visibility comes from
:mod:`beffroi.publish.public` only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi import __version__
from beffroi.catalog.models import Dataset, Organization
from beffroi.catalog.services import get_organization
from beffroi.catalog.vocabularies import THEMES
from beffroi.errors import BeffroiError, InvalidInputError, NotFoundError, UserError
from beffroi.publish import formats, public
from beffroi.publish.ckan import datastore, shapes
from beffroi.settings import Settings

CKAN_VERSION: Final = "2.10.0"  # the Action API version whose shapes are served
ROWS_DEFAULT: Final = 10
ROWS_MAX: Final = 1000
FACET_FIELDS: Final = ("organization", "tags", "res_format", "license_id", "groups")
FQ_FIELDS: Final = (*FACET_FIELDS, "name", "id")
SORT_FIELDS: Final = {
    "metadata_modified": "metadata_modified",
    "metadata_created": "metadata_created",
    "name": "name",
    "title_string": "title",
    "title": "title",
}

Params = dict[str, Any]
Action = Callable[[Session, str, Params], Any]


def ckan_error_type(error: BeffroiError) -> str:
    """CKAN's ``__type`` for a Beffroi error."""
    given = error.details.get("ckan_type")
    if isinstance(given, str):
        return given
    if isinstance(error, NotFoundError):
        return "Not Found Error"
    if isinstance(error, InvalidInputError):
        return "Validation Error"
    return "Bad Request" if isinstance(error, UserError) else "Internal Server Error"


# ---------------------------------------------------------------- parameters


def _invalid(field: str, message: str, hint: str) -> InvalidInputError:
    return InvalidInputError(
        f"Paramètre {field} invalide : {message}",
        hint=hint,
        details={"errors": [{"field": field, "message": message}]},
    )


def _int(params: Params, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        message, hint = f"« {raw} » n'est pas un entier", f"donnez un nombre, ex. {name}=10"
        raise _invalid(name, message, hint) from None
    if value < low:
        raise _invalid(name, f"{value} est inférieur à {low}", f"donnez {name} >= {low}")
    return min(value, high) if high is not None else value


def _bool(params: Params, name: str, *, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in {"true", "1", "yes", "on"}


def _list(params: Params, name: str) -> list[str]:
    """A list parameter: a JSON list (POST or GET ``["a","b"]``), or one value."""
    raw = params.get(name)
    if raw in (None, ""):
        return []
    if isinstance(raw, list):
        return [str(v) for v in raw]
    text = str(raw).strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise _invalid(name, "liste JSON illisible", f'écrivez {name}=["a","b"]') from None
        if isinstance(loaded, list):
            return [str(v) for v in loaded]
    return [text]


def _required(params: Params, name: str) -> str:
    raw = params.get(name)
    if raw in (None, ""):
        raise InvalidInputError(
            f"Paramètre obligatoire manquant : {name}",
            hint=f"passez {name}=… (identifiant ou nom)",
            details={"errors": [{"field": name, "message": "Missing value"}]},
        )
    return str(raw)


# ---------------------------------------------------------------- search


def _fold(text: str) -> str:
    """Lower case without accents (« Énergie » matches « energie »)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class _Indexed:
    """A dataset and the values its search, sort and facets look at (its CKAN dict is only
    built for the page of results)."""

    dataset: Dataset
    values: dict[str, set[str]]
    keys: dict[str, str]
    text: str


def _index(dataset: Dataset) -> _Indexed:
    values = {
        "organization": {dataset.publisher.slug},
        "tags": set(dataset.keywords),
        "res_format": {f.label for f in formats.downloads(dataset)},
        "license_id": {dataset.license},
        "groups": {t.lower() for t in dataset.themes},
        "name": {dataset.slug},
        "id": {dataset.store_key},
    }
    keys = {
        "id": dataset.store_key,
        "name": dataset.slug,
        "title": _fold(dataset.title),
        "metadata_created": shapes.ckan_time(dataset.created_at) or "",
        "metadata_modified": shapes.ckan_time(shapes.modified(dataset)) or "",
    }
    text = " ".join(
        [
            dataset.title,
            dataset.description,
            dataset.slug,
            dataset.publisher.name,
            *dataset.keywords,
        ]
    )
    return _Indexed(dataset, values, keys, _fold(text))


_CLAUSE = re.compile(r'\+?(?P<field>[\w.-]+):(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+))')


def _search_error(message: str, hint: str) -> InvalidInputError:
    return InvalidInputError(message, hint=hint, details={"ckan_type": "Search Query Error"})


def _clauses(text: str, where: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``field:value`` clauses and the remaining free words of a ``q`` or ``fq``."""
    clauses = []
    for match in _CLAUSE.finditer(text):
        field = match.group("field")
        if field not in FQ_FIELDS:
            raise _search_error(
                f"Champ de filtre inconnu dans {where} : {field}",
                f"champs possibles : {', '.join(FQ_FIELDS)}",
            )
        clauses.append((field, match.group("quoted") or match.group("bare") or ""))
    rest = _CLAUSE.sub(" ", text)
    words = [w for w in rest.replace("*:*", " ").split() if w.upper() not in {"AND", "+"}]
    return clauses, words


def _matches(item: _Indexed, clauses: list[tuple[str, str]], words: list[str]) -> bool:
    for field, value in clauses:
        if field in {"res_format", "license_id"}:
            if _fold(value) not in {_fold(v) for v in item.values[field]}:
                return False
        elif value not in item.values[field]:
            return False
    return all(_fold(word.strip("*")) in item.text for word in words)


def _sort(items: list[_Indexed], sort: str | None) -> list[_Indexed]:
    spec = (sort or "score desc, metadata_modified desc").strip()
    keys: list[tuple[str, bool]] = []
    for part in spec.split(","):
        field, _, direction = part.strip().partition(" ")
        direction = direction.strip().lower() or "asc"
        if direction not in {"asc", "desc"}:
            raise _search_error(
                f"Ordre de tri inconnu : {direction}", "écrivez par exemple sort=name asc"
            )
        if field == "score":
            continue  # without relevance scores, every match ranks the same
        if field not in SORT_FIELDS:
            raise _search_error(
                f"Tri impossible sur {field}", f"champs de tri : {', '.join(SORT_FIELDS)}"
            )
        keys.append((SORT_FIELDS[field], direction == "desc"))
    if not keys:
        keys = [("metadata_modified", True)]
    ordered = sorted(items, key=lambda i: i.dataset.id)
    for field, reverse in reversed(keys):  # stable sorts: the first key decides last
        ordered.sort(key=_sort_key(field), reverse=reverse)
    return ordered


def _sort_key(field: str) -> Callable[[_Indexed], str]:
    def key(item: _Indexed) -> str:
        return item.keys[field]

    return key


def _facets(items: Iterable[_Indexed], fields: list[str], limit: int) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for field in fields:
        if field not in FACET_FIELDS:
            raise _search_error(
                f"Facette inconnue : {field}", f"facettes possibles : {', '.join(FACET_FIELDS)}"
            )
        counts: Counter[str] = Counter()
        for item in items:
            counts.update(item.values[field])
        found[field] = Counter(dict(counts.most_common(None if limit < 0 else limit)))
    return found


def _facet_label(session: Session, field: str, value: str) -> str:
    if field == "organization":
        org = session.scalar(select(Organization).where(Organization.slug == value))
        return org.name if org else value
    if field == "groups":
        return THEMES.get(value.upper(), value)
    return value


def package_search(session: Session, base_url: str, params: Params) -> dict[str, Any]:
    """Search public packages: q, fq, rows, start, sort, facet.field, facet.limit."""
    rows = _int(params, "rows", ROWS_DEFAULT, high=ROWS_MAX)
    start = _int(params, "start", 0)
    q_clauses, words = _clauses(str(params.get("q") or ""), "q")
    fq_clauses, fq_words = _clauses(str(params.get("fq") or ""), "fq")
    if fq_words:
        raise _search_error(
            f"fq n'accepte que des filtres champ:valeur (reçu : {' '.join(fq_words)})",
            'écrivez par exemple fq=organization:mon-organisation tags:"mot clé"',
        )
    index = [_index(d) for d in public.public_datasets(session)]
    found = [i for i in index if _matches(i, q_clauses + fq_clauses, words)]
    facet_fields = _list(params, "facet.field")
    facets = _facets(found, facet_fields, _int(params, "facet.limit", 50, low=-1))
    page = _sort(found, params.get("sort"))[start : start + rows]
    return {
        "count": len(found),
        "sort": params.get("sort") or "score desc, metadata_modified desc",
        "results": [shapes.package_dict(i.dataset, base_url) for i in page],
        "facets": {field: dict(counts) for field, counts in facets.items()},
        "search_facets": {
            field: {
                "title": field,
                "items": [
                    {"name": v, "display_name": _facet_label(session, field, v), "count": n}
                    for v, n in counts.items()
                ],
            }
            for field, counts in facets.items()
        },
    }


# ---------------------------------------------------------------- other actions


def status_show(session: Session, base_url: str, params: Params) -> dict[str, Any]:  # noqa: ARG001
    """What this CKAN-compatible site is."""
    epci = public.platform_epci(session)
    return {
        "site_title": f"Beffroi — {epci.name}" if epci else "Beffroi",
        "site_description": "Plateforme de données mutualisée (API compatible CKAN, lecture seule)",
        "site_url": base_url,
        "ckan_version": CKAN_VERSION,
        "beffroi_version": __version__,
        "error_emails_to": None,
        "locale_default": "fr",
        "extensions": [],
    }


def package_list(session: Session, base_url: str, params: Params) -> list[str]:  # noqa: ARG001
    """Names (slugs) of the public packages."""
    limit = _int(params, "limit", 0)
    offset = _int(params, "offset", 0)
    names = public.public_slugs(session)
    return names[offset : offset + limit] if limit else names[offset:]


def package_show(session: Session, base_url: str, params: Params) -> dict[str, Any]:
    """One public package by id (``ds-<n>``) or name (slug)."""
    dataset = public.public_dataset_by_key(session, _required(params, "id"))
    return shapes.package_dict(dataset, base_url)


def resource_show(session: Session, base_url: str, params: Params) -> dict[str, Any]:
    """One resource by id (``ds-<n>-<format>``)."""
    resource = _required(params, "id")
    key, _, _suffix = resource.rpartition("-")
    try:
        dataset = public.public_dataset_by_key(session, key) if key.startswith("ds-") else None
    except NotFoundError:
        dataset = None
    for item in shapes.resource_dicts(dataset, base_url) if dataset else []:
        if item["id"] == resource:
            return item
    raise NotFoundError(
        f"Ressource introuvable : {resource}",
        hint="les identifiants de ressources figurent dans package_show (resources[].id)",
    )


def _package_counts(session: Session) -> Counter[int]:
    return Counter(d.publisher_id for d in public.public_datasets(session))


def organization_list(session: Session, base_url: str, params: Params) -> list[Any]:  # noqa: ARG001
    """Organisations (names, or dicts with ``all_fields``), sorted by name."""
    orgs = sorted(session.scalars(select(Organization)), key=lambda o: o.slug)
    wanted = set(_list(params, "organizations"))
    if wanted:
        orgs = [o for o in orgs if o.slug in wanted]
    if str(params.get("sort") or "").startswith("title"):
        orgs.sort(key=lambda o: shapes_fold(o.name))
    if str(params.get("sort") or "").endswith("desc"):
        orgs.reverse()
    offset = _int(params, "offset", 0)
    limit = _int(params, "limit", 0)
    orgs = orgs[offset : offset + limit] if limit else orgs[offset:]
    if not _bool(params, "all_fields"):
        return [o.slug for o in orgs]
    counts = _package_counts(session)
    return [shapes.organization_dict(o, package_count=counts[o.id]) for o in orgs]


def shapes_fold(text: str) -> str:
    """Sort key of names with accents (« École » with the e's)."""
    return _fold(text)


def organization_show(session: Session, base_url: str, params: Params) -> dict[str, Any]:
    """One organisation by id (``org-<n>``) or name, optionally with its public packages."""
    key = _required(params, "id")
    match = re.fullmatch(r"org-(\d+)", key)
    org = session.get(Organization, int(match.group(1))) if match else None
    if org is None:
        org = get_organization(session, key)
    datasets = [d for d in public.public_datasets(session) if d.publisher_id == org.id]
    data = shapes.organization_dict(org, package_count=len(datasets))
    data["users"] = []  # members are never exposed
    data["extras"] = []
    data["packages"] = (
        [shapes.package_dict(d, base_url) for d in datasets]
        if _bool(params, "include_datasets")
        else []
    )
    return data


def group_list(session: Session, base_url: str, params: Params) -> list[Any]:  # noqa: ARG001
    """The EU data themes as groups (names, or dicts with ``all_fields``)."""
    codes = sorted(THEMES)
    if not _bool(params, "all_fields"):
        return [c.lower() for c in codes]
    counts: Counter[str] = Counter()
    for dataset in public.public_datasets(session):
        counts.update(dataset.themes)
    return [shapes.group_dict(c, package_count=counts[c]) for c in codes]


def tag_list(session: Session, base_url: str, params: Params) -> list[Any]:  # noqa: ARG001
    """Keywords of the public packages (``query`` filters them; ``all_fields`` gives dicts)."""
    tags = sorted({k for d in public.public_datasets(session) for k in d.keywords}, key=shapes_fold)
    query = params.get("query")
    if query:
        tags = [t for t in tags if _fold(str(query)) in _fold(t)]
    if _bool(params, "all_fields"):
        return [shapes.tag_dict(t) for t in tags]
    return tags


def help_show(session: Session, base_url: str, params: Params) -> str:  # noqa: ARG001
    """The documentation of one action."""
    name = _required(params, "name")
    action: Callable[..., Any] | None = ACTIONS.get(name) or DATASTORE_ACTIONS.get(name)
    if action is None:
        raise unknown_action(name)
    return (action.__doc__ or name).strip()


def unknown_action(name: str) -> UserError:
    """The error for an action this API does not serve."""
    return UserError(
        f"Action name not known: {name}",
        hint=f"actions servies (lecture seule) : {', '.join(sorted(ALL_ACTIONS))}",
        details={"ckan_type": "Bad Request"},
    )


ACTIONS: Final[dict[str, Action]] = {
    "status_show": status_show,
    "package_list": package_list,
    "package_show": package_show,
    "package_search": package_search,
    "resource_show": resource_show,
    "organization_list": organization_list,
    "organization_show": organization_show,
    "group_list": group_list,
    "tag_list": tag_list,
    "help_show": help_show,
}


DATASTORE_ACTIONS: Final[dict[str, Callable[[Session, Settings, Params], Any]]] = {
    "datastore_search": datastore.datastore_search,
    "datastore_search_sql": datastore.datastore_search_sql,
}
ALL_ACTIONS: Final = frozenset(ACTIONS) | frozenset(DATASTORE_ACTIONS)


def call(
    session: Session,
    base_url: str,
    name: str,
    params: Params,
    *,
    settings: Settings | None = None,
) -> Any:
    """Run one action and return its ``result`` (DataStore actions need the ``settings`` of
    the query engine)."""
    if name in DATASTORE_ACTIONS and settings is not None:
        return DATASTORE_ACTIONS[name](session, settings, params)
    action = ACTIONS.get(name)
    if action is None:
        raise unknown_action(name)
    return action(session, base_url, params)


__all__ = ["ACTIONS", "ALL_ACTIONS", "CKAN_VERSION", "DATASTORE_ACTIONS", "call", "ckan_error_type"]
