"""Name keys for case- and accent-insensitive matching of mineral names."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["name_key"]

_SPACE = re.compile(r"\s+")


def name_key(name: str) -> str:
    """Key under which a mineral, group or alias name is matched.

    Case, accents and surrounding or repeated white space do not matter, so ``"ULVOSPINEL"``,
    ``"Ulvöspinel"`` and ``" ulvöspinel "`` share one key. Hyphens and brackets do matter:
    ``Monazite-(Ce)`` and ``Monazite-(La)`` are different species.

    Examples
    --------
    >>> name_key("  Ulvöspinel ")
    'ulvospinel'
    >>> name_key("Monazite-(Ce)")
    'monazite-(ce)'
    """
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", stripped).strip().casefold()
