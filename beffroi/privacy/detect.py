"""Detection of columns likely to hold personal data, from a version's column profile.

Each rule looks at the column header (its words, :func:`beffroi.ingest.names.name_tokens`),
at the semantic type the profile detected (e-mail, telephone, latitude/longitude) and at the
profile's example values. It gives a *category* and a *confidence* between 0 and 1:

==============  ===============================================================================
``nir``         French social security numbers (13 digits + 2-digit key checked: 97 - n mod 97)
                in the examples (0.95), or a header naming it (``nir``, ``secu``…: 0.7)
``email``       e-mail values (semantic type); personal-looking local parts (``jean.dupont``)
                or a personal header raise it, role addresses (``contact@``, ``mairie@``) lower it
``phone``       telephone values; mobile numbers (06/07) or a personal header raise it
``person_name`` a header naming a person (``nom``, ``prenom``, ``nom_usage``…), raised when the
                examples look like people's names (``Jean Dupont``), lowered when they look
                like organisations (``ASSOCIATION…``, ``COMMUNE…``)
``address``     an address header (``adresse``, ``rue``, ``voie``…), raised by a personal header
                (``domicile``, ``abonne``, ``particulier``…) or street-like values
``gps``         latitude/longitude with at least 4 decimals (≈ 10 m); high only with a personal
                header (a home), low for equipment
``birth_date``  a header naming a date of birth
==============  ===============================================================================

Columns at or above :data:`HIDE_CONFIDENCE` are hidden from readers outside the owner as soon
as they are detected, until the référent clears them; the others wait for confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from beffroi.ingest.names import name_tokens

HIDE_CONFIDENCE: Final = 0.8
KEEP_CONFIDENCE: Final = 0.3  # below this, no suggestion is recorded

PERSONAL_CONTEXT: Final = frozenset(
    {
        "abonne",
        "particulier",
        "domicile",
        "usager",
        "habitant",
        "proprietaire",
        "demandeur",
        "personne",
        "client",
        "patient",
        "eleve",
        "locataire",
        "contribuable",
        "electeur",
        "naissance",
        "perso",
        "personnel",
        "prive",
        "victime",
    }
)
_NAME_WORDS: Final = frozenset(
    {"nom", "prenom", "prenoms", "patronyme", "firstname", "lastname", "surname", "nomusage"}
)
_NON_PERSON_NAME_CONTEXT: Final = frozenset(
    {
        "commune",
        "com",
        "acheteur",
        "fabricant",
        "voie",
        "rue",
        "lieu",
        "site",
        "station",
        "equipement",
        "structure",
        "etablissement",
        "organisme",
        "attribuant",
        "association",
        "entreprise",
        "societe",
        "operateur",
        "amenageur",
        "enseigne",
        "service",
        "projet",
        "fichier",
        "jeu",
        "produit",
        "plat",
        "menu",
        "espece",
        "arbre",
        "parking",
        "epci",
        "departement",
        "region",
    }
)
_ADDRESS_WORDS: Final = frozenset({"adresse", "adr", "address", "rue", "voie", "domicile"})
_NIR_WORDS: Final = frozenset({"nir", "secu", "securite", "nss", "insee_personne"})
_ROLE_MAILBOXES: Final = frozenset(
    {
        "contact",
        "info",
        "infos",
        "accueil",
        "mairie",
        "secretariat",
        "direction",
        "service",
        "noreply",
        "no-reply",
        "communication",
        "support",
        "bonjour",
        "hello",
        "admin",
        "webmaster",
        "dpo",
        "rgpd",
    }
)
_ORG_WORDS: Final = re.compile(
    r"\b(?:ASSOCIATION|ASSO|COMIT[EÉ]|CLUB|COMMUNE|MAIRIE|SARL|SAS|SA|EURL|SCI|SOCI[EÉ]T[EÉ]"
    r"|[EÉ]COLE|COLL[EÈ]GE|LYC[EÉ]E|CENTRE|OFFICE|SYNDICAT|F[EÉ]D[EÉ]RATION|UNION|AMICALE"
    r"|CCAS|EHPAD|D[EÉ]PARTEMENT|R[EÉ]GION|SERVICE|GROUPE|FONDATION|COOP[EÉ]RATIVE)\b",
    re.IGNORECASE,
)
_PERSON_NAME: Final = re.compile(
    r"^(?:(?:M\.|Mme|Mlle|M)\s+)?[A-ZÀ-Ý][a-zà-ÿ'\-]+(?:[\s\-][A-ZÀ-Ý][a-zà-ÿ'\-]+){0,2}"
    r"\s+(?:[A-ZÀ-Ý][a-zà-ÿ'\-]+|[A-ZÀ-Ý'\-]{2,})$"
    r"|^[A-ZÀ-Ý'\-]{2,}\s+[A-ZÀ-Ý][a-zà-ÿ'\-]+$"
)
_STREET: Final = re.compile(
    r"^\d{1,4}\s*(?:bis|ter|[a-d])?,?\s+(?:rue|avenue|av\.?|boulevard|bd|chemin|impasse|all[ée]e"
    r"|place|route|quai|cours|lotissement|r[ée]sidence|hameau|lieu[\s-]dit)\b",
    re.IGNORECASE,
)
_NIR: Final = re.compile(
    r"^([12378])\s?(\d{2})\s?(0[1-9]|1[0-2]|[2-9]\d)\s?(\d{2}|2A|2B)\s?(\d{3})\s?(\d{3})\s?(\d{2})$"
)
_MOBILE: Final = re.compile(r"^(?:0|\+33\s?|0033\s?)[67]")
_PERSONAL_LOCAL_PART: Final = re.compile(r"^[a-z][a-z'\-]+[._][a-z][a-z'\-]+\d*$")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A column likely to hold personal data."""

    column: str
    category: str
    confidence: float
    reason: str

    @property
    def hidden(self) -> bool:
        """Whether the column is hidden from outsiders before any confirmation."""
        return self.confidence >= HIDE_CONFIDENCE


def nir_valid(text: str) -> bool:
    """Whether ``text`` is a well-formed NIR whose key checks (Corsica: 2A → 19, 2B → 18)."""
    match = _NIR.match(text.strip().upper())
    if not match:
        return False
    digits = "".join(match.groups()[:6])
    digits = digits.replace("2A", "19").replace("2B", "18")
    key = int(match.group(7))
    return key == 97 - int(digits) % 97


def _share(examples: Sequence[str], test: Any) -> float:
    if not examples:
        return 0.0
    return sum(1 for e in examples if test(e)) / len(examples)


def _decimals(value: str | None) -> int:
    if not value or "." not in value:
        return 0
    return len(value.rsplit(".", 1)[1].rstrip("0"))


def detect_column(  # noqa: PLR0911 - one branch per rule
    profile: Mapping[str, Any], *, about_people: bool = False
) -> Suggestion | None:
    """The most likely personal-data category of one column profile, if any.

    ``about_people``: another column of the file shows it describes people (a personal
    header, valid NIR, people's names), which raises the other rules' confidence."""
    name = str(profile.get("name", ""))
    tokens = set(name_tokens(name))
    joined = "".join(name_tokens(name))
    examples = [str(e) for e in profile.get("examples") or [] if e is not None]
    semantic = profile.get("semantic")
    confidence = float(profile.get("semantic_confidence") or 0.0)
    personal = bool(tokens & PERSONAL_CONTEXT) or about_people
    boost = 0.3 if personal else 0.0

    nir_share = _share(examples, nir_valid)
    if nir_share >= 0.6:
        return Suggestion(name, "nir", 0.95, "numéros de sécurité sociale (clé valide)")
    if tokens & _NIR_WORDS or "securitesociale" in joined:
        return Suggestion(name, "nir", 0.7, "l'en-tête désigne un NIR")

    if semantic == "email":
        local_parts = [e.split("@", 1)[0].lower() for e in examples if "@" in e]
        people = _share(local_parts, lambda p: bool(_PERSONAL_LOCAL_PART.match(p)))
        roles = _share(local_parts, lambda p: p.split(".")[0] in _ROLE_MAILBOXES)
        score = 0.55 * confidence + 0.35 * people + boost - 0.4 * roles
        return _keep(name, "email", score, "adresses électroniques")

    if semantic == "telephone":
        mobiles = _share(examples, lambda e: bool(_MOBILE.match(e.strip())))
        score = 0.5 * confidence + 0.35 * mobiles + boost
        return _keep(name, "phone", score, "numéros de téléphone")

    if "naissance" in tokens or joined in {"datenaissance", "birthdate", "dob"}:
        return Suggestion(name, "birth_date", 0.85, "date de naissance")

    if semantic in {"latitude", "longitude"}:
        precise = max(_decimals(profile.get("min")), _decimals(profile.get("max")))
        precise = max([precise, *(_decimals(e) for e in examples)])
        if precise < 4:
            return None
        score = 0.85 if personal else 0.3
        return _keep(name, "gps", score, "coordonnées GPS précises")

    if tokens & _NAME_WORDS or joined in {"nomprenom", "prenomnom", "nomcomplet"}:
        if tokens & _NON_PERSON_NAME_CONTEXT:
            return None  # the name of a commune, a street, an operator…
        looks_person = _share(examples, lambda e: bool(_PERSON_NAME.match(e.strip())))
        looks_org = _share(examples, lambda e: bool(_ORG_WORDS.search(e)))
        score = 0.55 + 0.35 * looks_person - 0.5 * looks_org + boost
        return _keep(name, "person_name", score, "noms de personnes")

    if tokens & _ADDRESS_WORDS or "adresse" in joined:
        streets = _share(examples, lambda e: bool(_STREET.match(e.strip())))
        score = (0.4 + 0.2 * streets) + (0.45 if personal or "domicile" in tokens else 0.0)
        return _keep(name, "address", score, "adresses")
    return None


def _keep(name: str, category: str, score: float, reason: str) -> Suggestion | None:
    score = round(min(max(score, 0.0), 0.99), 2)
    return Suggestion(name, category, score, reason) if score >= KEEP_CONFIDENCE else None


def detect(profiles: Iterable[Mapping[str, Any]]) -> list[Suggestion]:
    """Suggestions for the columns of a version's profile, in column order.

    Two passes: the first tells whether the file describes people (a header such as
    ``abonne``, ``usager``, ``domicile``; or a column hidden as a NIR or as people's names);
    the second judges each column in that light."""
    columns = list(profiles)
    first = [detect_column(p) for p in columns]
    about_people = any(
        set(name_tokens(str(p.get("name", "")))) & PERSONAL_CONTEXT for p in columns
    ) or any(s is not None and s.hidden and s.category in {"nir", "person_name"} for s in first)
    found = [detect_column(p, about_people=about_people) for p in columns]
    return [s for s in found if s is not None]


__all__ = ["HIDE_CONFIDENCE", "Suggestion", "detect", "detect_column", "nir_valid"]
