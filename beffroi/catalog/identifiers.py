"""Checks and helpers for identifiers: slugs, SIREN, INSEE commune codes."""

from __future__ import annotations

import re
import unicodedata

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
INSEE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
SIREN_RE = re.compile(r"^\d{9}$")
MAX_SLUG = 100


def slugify(text: str) -> str:
    """ASCII, lower-case, dash-separated form of a title (``Vélos & bornes`` → ``velos-bornes``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


def luhn_ok(digits: str) -> bool:
    """Luhn checksum, as used by SIREN and SIRET numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_siren(value: str) -> bool:
    """Nine digits with a valid Luhn key."""
    return bool(SIREN_RE.match(value)) and luhn_ok(value)


def is_insee_commune_code(value: str) -> bool:
    """Five characters: digits, or 2A/2B followed by three digits (Corsica)."""
    return bool(INSEE_RE.match(value))
