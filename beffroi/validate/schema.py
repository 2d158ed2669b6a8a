"""Table Schema model and loading (path, URL, JSON), lenient with slightly-off schemas.

A schema is loaded into plain dataclasses; anything frictionless would refuse but that has an
obvious meaning (a ``name`` that is not a slug, a ``pattern`` on a non-string field, an unknown
``format``) is kept and reported as a *warning* instead of failing the whole validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beffroi.errors import InvalidInputError

TYPES = frozenset(
    {
        "string",
        "number",
        "integer",
        "boolean",
        "date",
        "time",
        "datetime",
        "year",
        "yearmonth",
        "duration",
        "geopoint",
        "geojson",
        "object",
        "array",
        "any",
    }
)

DEFAULT_MISSING_VALUES = ("",)
DEFAULT_TRUE_VALUES = ("true", "True", "TRUE", "1")
DEFAULT_FALSE_VALUES = ("false", "False", "FALSE", "0")

STRING_FORMATS = frozenset({"default", "email", "uri", "uuid", "binary", "wkt"})
ORDERED_TYPES = frozenset({"integer", "number", "date", "time", "datetime", "year", "yearmonth"})
SUPPORTED_CONSTRAINTS: dict[str, frozenset[str]] = {
    "string": frozenset({"required", "unique", "minLength", "maxLength", "pattern", "enum"}),
    "array": frozenset({"required", "unique", "minLength", "maxLength", "enum"}),
    "object": frozenset({"required", "unique", "minLength", "maxLength", "enum"}),
}
_ORDERED = frozenset(
    {"required", "unique", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"}
)
_NAME = re.compile(r"^[-a-z0-9._/]+$")
MAX_SCHEMA_BYTES = 10 << 20


@dataclass(slots=True)
class Field:
    """One field of a Table Schema."""

    name: str
    type: str = "string"
    format: str = "default"
    title: str | None = None
    description: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    missing_values: tuple[str, ...] | None = None  # None: the schema's
    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = DEFAULT_FALSE_VALUES
    decimal_char: str = "."
    group_char: str = ""
    bare_number: bool = True
    number_processing: bool = False  # decimalChar/groupChar/bareNumber given: frictionless
    custom_checks: tuple[str, ...] = ()  # names of French checks (see beffroi.validate.french)

    @property
    def required(self) -> bool:
        """Whether an empty cell is an error."""
        return bool(self.constraints.get("required"))


@dataclass(slots=True)
class ForeignKey:
    """``fields`` of this table must exist in ``reference_fields`` of ``reference``."""

    fields: list[str]
    reference: str  # "" for the table itself, a dataset slug, or "ref:communes"…
    reference_fields: list[str]


@dataclass(slots=True)
class Schema:
    """A Table Schema: fields, keys and the loading warnings."""

    fields: list[Field]
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    fields_match: str = "exact"  # exact (by position), equal/subset/superset/partial (by name)
    name: str | None = None
    title: str | None = None
    version: str | None = None
    source: str | None = None  # path, URL or registry name it came from
    custom_checks: list[dict[str, Any]] = field(default_factory=list)  # Validata's
    descriptor: dict[str, Any] = field(default_factory=dict, repr=False)  # as loaded
    warnings: list[str] = field(default_factory=list)

    def field_missing_values(self, item: Field) -> tuple[str, ...]:
        """The values read as empty for ``item``."""
        return item.missing_values if item.missing_values is not None else self.missing_values

    @property
    def field_names(self) -> list[str]:
        """Names of the fields, in order."""
        return [item.name for item in self.fields]

    def as_dict(self) -> dict[str, Any]:
        """Identity of the schema, for reports."""
        return {
            key: value
            for key, value in {
                "name": self.name,
                "title": self.title,
                "version": self.version,
                "source": self.source,
                "fields": len(self.fields),
                "warnings": self.warnings,
            }.items()
            if value not in (None, [])
        }


def _bad_schema(message: str, source: str | None) -> InvalidInputError:
    where = f" ({source})" if source else ""
    return InvalidInputError(
        f"Schéma invalide{where} : {message}",
        hint="indiquez un Table Schema JSON (https://specs.frictionlessdata.io/table-schema/) "
        "ou le nom d'un schéma du registre (beffroi validate --help)",
        details={"schema": source},
    )


def _strings(value: Any, what: str, warnings: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    warnings.append(f"{what} ignoré : liste de textes attendue")
    return None


def parse_field(  # noqa: PLR0912, PLR0915 - one property each
    descriptor: Any, index: int, warnings: list[str]
) -> Field:
    """One field descriptor as a :class:`Field` (lenient, warnings appended)."""
    if not isinstance(descriptor, Mapping):
        raise _bad_schema(f"le champ n° {index} n'est pas un objet JSON", None)
    name = descriptor.get("name")
    if not isinstance(name, str) or not name:
        raise _bad_schema(f"le champ n° {index} n'a pas de nom (« name »)", None)
    kind = descriptor.get("type", "string") or "string"
    if kind not in TYPES:
        warnings.append(f"champ « {name} » : type inconnu « {kind} », lu comme « any »")
        kind = "any"
    fmt = descriptor.get("format", "default") or "default"
    if not isinstance(fmt, str):
        warnings.append(f"champ « {name} » : format ignoré (texte attendu)")
        fmt = "default"
    if kind == "string" and fmt not in STRING_FORMATS:
        warnings.append(f"champ « {name} » : format « {fmt} » inconnu pour un texte, ignoré")
        fmt = "default"
    constraints = descriptor.get("constraints") or {}
    if not isinstance(constraints, Mapping):
        warnings.append(f"champ « {name} » : contraintes ignorées (objet attendu)")
        constraints = {}
    constraints = dict(constraints)
    supported = SUPPORTED_CONSTRAINTS.get(
        kind, _ORDERED if kind in ORDERED_TYPES else frozenset({"required", "unique", "enum"})
    )
    for key in list(constraints):
        if key not in supported:
            if key == "pattern":
                warnings.append(
                    f"champ « {name} » : contrainte « pattern » sur un champ de type « {kind} » "
                    "(hors spécification) : appliquée au texte de la cellule"
                )
            else:
                warnings.append(
                    f"champ « {name} » : contrainte « {key} » non prise en charge pour le type "
                    f"« {kind} », ignorée"
                )
                del constraints[key]
    if "pattern" in constraints and not isinstance(constraints["pattern"], str):
        warnings.append(f"champ « {name} » : « pattern » ignoré (texte attendu)")
        del constraints["pattern"]
    if "enum" in constraints and not isinstance(constraints["enum"], list):
        warnings.append(f"champ « {name} » : « enum » ignoré (liste attendue)")
        del constraints["enum"]
    item = Field(
        name=name,
        type=kind,
        format=fmt,
        title=descriptor.get("title") if isinstance(descriptor.get("title"), str) else None,
        description=descriptor.get("description")
        if isinstance(descriptor.get("description"), str)
        else None,
        constraints=constraints,
        missing_values=_strings(
            descriptor.get("missingValues"), f"champ « {name} » : missingValues", warnings
        ),
    )
    true_values = _strings(descriptor.get("trueValues"), f"« {name} » : trueValues", warnings)
    false_values = _strings(descriptor.get("falseValues"), f"« {name} » : falseValues", warnings)
    if true_values is not None:
        item.true_values = true_values
    if false_values is not None:
        item.false_values = false_values
    if isinstance(descriptor.get("decimalChar"), str) and descriptor["decimalChar"]:
        item.decimal_char = descriptor["decimalChar"]
        item.number_processing = True
    if isinstance(descriptor.get("groupChar"), str):
        item.group_char = descriptor["groupChar"]
        item.number_processing = True
    if "bareNumber" in descriptor:
        item.bare_number = bool(descriptor["bareNumber"])
        item.number_processing = True
    checks = descriptor.get("x-beffroi-checks") or ()
    if isinstance(checks, list):
        item.custom_checks = tuple(str(c) for c in checks)
    return item


def parse_schema(descriptor: Any, source: str | None = None) -> Schema:  # noqa: PLR0912
    """A Table Schema descriptor (already decoded JSON) as a :class:`Schema`."""
    if not isinstance(descriptor, Mapping):
        raise _bad_schema("un objet JSON est attendu", source)
    fields = descriptor.get("fields")
    if not isinstance(fields, list):
        if "$schema" in descriptor or descriptor.get("type") == "object":
            raise _bad_schema(
                "c'est un JSON Schema (pour des fichiers JSON), pas un Table Schema (pour des "
                "tableaux) : la liste « fields » manque",
                source,
            )
        raise _bad_schema("la liste des champs « fields » manque", source)
    warnings: list[str] = []
    parsed = [parse_field(item, index, warnings) for index, item in enumerate(fields, 1)]
    seen: set[str] = set()
    for item in parsed:
        if item.name in seen:
            warnings.append(f"champ « {item.name} » déclaré deux fois")
        seen.add(item.name)
    name = descriptor.get("name")
    if isinstance(name, str) and not _NAME.match(name):
        warnings.append(
            f"nom du schéma « {name} » hors norme (minuscules, chiffres, - . _ / attendus) : "
            "accepté tel quel"
        )
    schema = Schema(
        fields=parsed,
        name=name if isinstance(name, str) else None,
        title=descriptor.get("title") if isinstance(descriptor.get("title"), str) else None,
        version=str(descriptor["version"]) if descriptor.get("version") is not None else None,
        source=source,
        warnings=warnings,
        descriptor=dict(descriptor),
    )
    missing = _strings(descriptor.get("missingValues"), "missingValues du schéma", warnings)
    if missing is not None:
        schema.missing_values = missing
    primary = descriptor.get("primaryKey")
    if isinstance(primary, str):
        schema.primary_key = [primary]
    elif isinstance(primary, list):
        schema.primary_key = [str(p) for p in primary]
    for key in schema.primary_key:
        if key not in seen:
            warnings.append(f"clé primaire « {key} » : champ inconnu, clé ignorée")
            schema.primary_key = []
            break
    for raw in descriptor.get("foreignKeys") or []:
        foreign = _foreign_key(raw, seen, warnings)
        if foreign is not None:
            schema.foreign_keys.append(foreign)
    for check in descriptor.get("custom_checks") or []:
        if isinstance(check, Mapping) and isinstance(check.get("name"), str):
            schema.custom_checks.append(dict(check))
    match = descriptor.get("fieldsMatch", "exact")
    if match in {"exact", "equal", "subset", "superset", "partial"}:
        schema.fields_match = str(match)
    else:
        warnings.append(f"fieldsMatch « {match} » inconnu : correspondance par position")
    return schema


def _foreign_key(raw: Any, names: set[str], warnings: list[str]) -> ForeignKey | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("reference"), Mapping):
        warnings.append("clé étrangère ignorée : « fields » et « reference » attendus")
        return None
    fields = raw.get("fields")
    reference = raw["reference"]
    ref_fields = reference.get("fields")
    fields = [fields] if isinstance(fields, str) else fields
    ref_fields = [ref_fields] if isinstance(ref_fields, str) else ref_fields
    if (
        not isinstance(fields, list)
        or not isinstance(ref_fields, list)
        or len(fields) != len(ref_fields)
        or not fields
    ):
        warnings.append("clé étrangère ignorée : listes de champs de même longueur attendues")
        return None
    unknown = [f for f in fields if f not in names]
    if unknown:
        warnings.append(f"clé étrangère ignorée : champ(s) inconnu(s) {', '.join(unknown)}")
        return None
    resource = reference.get("resource", "")
    return ForeignKey([str(f) for f in fields], str(resource or ""), [str(f) for f in ref_fields])


def load_schema(source: str | Path | Mapping[str, Any], *, timeout: float = 20) -> Schema:
    """A schema from a path, an http(s) URL, a registry name (``nom`` or ``nom@version``),
    or an already decoded descriptor."""
    if isinstance(source, Mapping):
        return parse_schema(source, "JSON")
    text = str(source)
    if text.startswith(("http://", "https://")):
        return parse_schema(_fetch_json(text, timeout), text)
    path = Path(text)
    if path.is_file():
        return parse_schema(_read_json(path), str(path))
    from beffroi.validate.registry import Registry  # noqa: PLC0415 - optional

    found = Registry.default().resolve(text)
    if found is not None:
        return found
    raise InvalidInputError(
        f"Schéma introuvable : « {text} » n'est ni un fichier, ni une URL, ni un nom du registre.",
        hint="indiquez le chemin d'un schema.json, son URL, ou synchronisez le registre "
        "(beffroi schema sync) puis utilisez un nom comme "
        "« scdl/subventions » ou « scdl/subventions@2.1.0 »",
        details={"schema": text},
    )


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_SCHEMA_BYTES:
            raise _bad_schema("fichier de plus de 10 Mo", str(path))
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_schema(f"JSON illisible ({exc})", str(path)) from exc


def _fetch_json(url: str, timeout: float) -> Any:
    try:
        import urllib.request  # noqa: PLC0415 - only for a schema given by URL

        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            data = response.read(MAX_SCHEMA_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(
            f"Schéma inaccessible : {url} ({exc})",
            hint="vérifiez l'adresse et la connexion, ou téléchargez le schéma et indiquez "
            "son chemin",
            details={"schema": url},
        ) from exc
    if len(data) > MAX_SCHEMA_BYTES:
        raise _bad_schema("document de plus de 10 Mo", url)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_schema(f"JSON illisible ({exc})", url) from exc
