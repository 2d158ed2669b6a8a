"""The English catalogue covers every French string the templates and vocabularies show."""

from __future__ import annotations

import re
from importlib import resources

from beffroi.catalog.vocabularies import FREQUENCIES, GRANULARITIES, THEMES
from beffroi.web.i18n import EN, translator

TEMPLATES = resources.files("beffroi.web") / "templates"
# _("…") or _('…') with a literal argument
CALL = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def template_strings() -> set[str]:
    found: set[str] = set()
    for item in TEMPLATES.iterdir():
        if item.name.endswith(".html"):
            for double, single in CALL.findall(item.read_text(encoding="utf-8")):
                found.add((double or single).replace("\\'", "'"))
    return found


def test_templates_use_translated_strings() -> None:
    strings = template_strings()
    assert len(strings) > 20  # the regex really finds the calls
    missing = sorted(s for s in strings if s not in EN)
    assert missing == []


def test_vocabulary_labels_translated() -> None:
    labels = [*FREQUENCIES.values(), *THEMES.values(), *GRANULARITIES.values()]
    assert sorted(label for label in labels if label not in EN) == []


def test_translator_falls_back_to_french() -> None:
    assert translator("en")("Accueil") == "Home"
    assert translator("fr")("Accueil") == "Accueil"
    assert translator("en")("pas traduit") == "pas traduit"
