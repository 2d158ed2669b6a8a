"""Column header words, without pyarrow: shared by typing, semantics and privacy detection."""

from __future__ import annotations

import re
import unicodedata


def name_tokens(name: str) -> list[str]:
    """The words of a column header, lower-case and accent-free: ``"idAttribuant"`` →
    ``["id", "attribuant"]``, ``"Code_Postal"`` → ``["code", "postal"]``."""
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    folded = unicodedata.normalize("NFKD", split).encode("ascii", "ignore").decode().lower()
    return [token for token in re.split(r"[^a-z0-9]+", folded) if token]
