"""The catalogue of validation errors: codes compatible with frictionless-py, French and
English messages, and how to fix each one. ``docs/reference/errors.md`` is generated from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorType:
    """One kind of validation error."""

    code: str
    scope: str  # "header", "row", "cell", "table"
    title: str
    title_en: str
    message: str  # French template: {row} {field} {cell} {note} {label} {number}
    message_en: str
    hint: str

    def render(self, values: dict[str, Any], *, lang: str = "fr") -> str:
        """The message with the error's values filled in."""
        template = self.message if lang == "fr" else self.message_en
        safe = {k: "" if v is None else v for k, v in values.items()}
        return template.format_map(_Default(safe))


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


ERRORS: dict[str, ErrorType] = {
    error.code: error
    for error in (
        ErrorType(
            "blank-label",
            "header",
            "En-tête vide",
            "Blank label",
            "La colonne n° {number} n'a pas de nom (champ attendu : « {field} »).",
            'Column {number} has no label (expected field: "{field}").',
            "Donnez à la colonne le nom du champ attendu par le schéma.",
        ),
        ErrorType(
            "duplicate-label",
            "header",
            "En-tête en double",
            "Duplicate label",
            "La colonne n° {number} porte le même nom « {label} » qu'une colonne précédente "
            "({note}).",
            'Label "{label}" of column {number} is a duplicate ({note}).',
            "Renommez ou supprimez la colonne en double : chaque nom de colonne doit être unique.",
        ),
        ErrorType(
            "missing-label",
            "header",
            "Colonne manquante",
            "Missing label",
            "La colonne « {field} » du schéma est absente du fichier.",
            'Field "{field}" of the schema has no column in the file.',
            "Ajoutez la colonne « {field} » (même vide si elle n'est pas obligatoire), avec "
            "exactement ce nom.",
        ),
        ErrorType(
            "extra-label",
            "header",
            "Colonne en trop",
            "Extra label",
            "La colonne n° {number} « {label} » n'est pas prévue par le schéma.",
            'Column {number} "{label}" is not in the schema.',
            "Supprimez cette colonne, ou vérifiez qu'elle ne correspond pas à un champ mal nommé.",
        ),
        ErrorType(
            "incorrect-label",
            "header",
            "Nom de colonne incorrect",
            "Incorrect label",
            "La colonne n° {number} s'appelle « {label} » au lieu de « {field} ».",
            'Column {number} is labelled "{label}" instead of "{field}".',
            "Renommez la colonne « {field} » et gardez l'ordre des colonnes du schéma.",
        ),
        ErrorType(
            "blank-header",
            "header",
            "En-tête absent",
            "Blank header",
            "La première ligne du fichier est vide : les noms de colonnes manquent.",
            "The header row is blank.",
            "Mettez les noms des colonnes du schéma sur la première ligne.",
        ),
        ErrorType(
            "blank-row",
            "row",
            "Ligne vide",
            "Blank row",
            "La ligne {row} est vide.",
            "Row {row} is blank.",
            "Supprimez les lignes vides.",
        ),
        ErrorType(
            "duplicate-row",
            "row",
            "Ligne en double",
            "Duplicate row",
            "La ligne {row} est identique à une ligne précédente ({note}).",
            "Row {row} is a duplicate ({note}).",
            "Supprimez la ligne en double.",
        ),
        ErrorType(
            "extra-cell",
            "row",
            "Cellule en trop",
            "Extra cell",
            "La ligne {row} a une cellule en trop en position {number} : « {cell} ».",
            'Row {row} has an extra cell at position {number}: "{cell}".',
            "Vérifiez le séparateur et mettez entre guillemets les valeurs qui le contiennent ; "
            "supprimez les cellules au-delà de la dernière colonne.",
        ),
        ErrorType(
            "missing-cell",
            "row",
            "Cellule manquante",
            "Missing cell",
            "La ligne {row} s'arrête avant la colonne « {field} ».",
            'Row {row} has no cell for field "{field}".',
            "Complétez la ligne : chaque ligne doit avoir autant de cellules que l'en-tête "
            "(même vides).",
        ),
        ErrorType(
            "type-error",
            "cell",
            "Valeur mal formée",
            "Type error",
            "Ligne {row}, colonne « {field} » : « {cell} » n'est pas {note}.",
            'Row {row}, field "{field}": "{cell}" is not {note_en}.',
            "{fix}",
        ),
        ErrorType(
            "constraint-error",
            "cell",
            "Valeur non conforme",
            "Constraint error",
            "Ligne {row}, colonne « {field} » : {note}.",
            'Row {row}, field "{field}": {note_en}.',
            "{fix}",
        ),
        ErrorType(
            "unique-error",
            "cell",
            "Valeur en double",
            "Unique error",
            "Ligne {row}, colonne « {field} » : « {cell} » apparaît déjà {note}.",
            'Row {row}, field "{field}": "{cell}" is a duplicate ({note_en}).',
            "Chaque valeur de cette colonne doit être unique : corrigez ou supprimez le doublon.",
        ),
        ErrorType(
            "primary-key",
            "row",
            "Clé primaire en double ou vide",
            "Primary key error",
            "Ligne {row} : la clé primaire ({field}) {note}.",
            "Row {row}: the primary key ({field}) {note_en}.",
            "La clé primaire identifie chaque ligne : elle doit être remplie et unique.",
        ),
        ErrorType(
            "foreign-key",
            "row",
            "Référence introuvable",
            "Foreign key error",
            "Ligne {row}, colonne « {field} » : « {cell} » {note}.",
            'Row {row}, field "{field}": "{cell}" {note_en}.',
            "Utilisez une valeur qui existe dans la table de référence ({reference}).",
        ),
    )
}
"""Every validation error type, by code."""

for _code, _title, _title_en in (
    ("french-siren-value", "SIREN invalide", "Invalid SIREN"),
    ("french-siret-value", "SIRET invalide", "Invalid SIRET"),
    ("french-insee-commune-value", "Code commune INSEE inconnu", "Unknown INSEE commune code"),
    ("french-postal-code-value", "Code postal inconnu", "Unknown postal code"),
    ("french-rna-value", "Numéro RNA invalide", "Invalid RNA number"),
):
    ERRORS[_code] = ErrorType(
        _code,
        "cell",
        _title,
        _title_en,
        "Ligne {row}, colonne « {field} » : « {cell} » {note}.",
        'Row {row}, field "{field}": "{cell}" {note_en}.',
        "{fix}",
    )


def errors_markdown_section() -> str:
    """The validation part of ``docs/reference/errors.md``."""
    lines = [
        "## Validation errors / Erreurs de validation",
        "",
        "Reported by `beffroi validate` and `POST /api/v1/validate` (codes compatible with",
        "frictionless-py). Messages are filled with the row, field and cell of each error.",
        "",
        "| code | portée | titre | title | message | pour corriger |",
        "|---|---|---|---|---|---|",
    ]
    for error in ERRORS.values():
        hint = "selon le type ou la contrainte" if error.hint == "{fix}" else error.hint
        lines.append(
            f"| `{error.code}` | {error.scope} | {error.title} | {error.title_en} | "
            f"{_cell(error.message)} | {_cell(hint)} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("{", "`{").replace("}", "}`")
