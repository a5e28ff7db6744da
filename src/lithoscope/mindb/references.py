"""Citations: DOI and URL extraction and a stable key per citation text."""

from __future__ import annotations

import hashlib
import re

__all__ = ["citation_key", "extract_doi", "extract_url"]

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s;,\]\)\"']+)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s;,\]\)\"']+")


def extract_doi(citation: str) -> str | None:
    """The first DOI in a citation, without a trailing full stop.

    Examples
    --------
    >>> extract_doi("Hazen & Morrison (2022) Am. Mineral. 107:1262, doi:10.2138/am-2022-8099.")
    '10.2138/am-2022-8099'
    """
    match = _DOI.search(citation)
    return match.group(1).rstrip(".") if match else None


def extract_url(citation: str) -> str | None:
    """The first http(s) URL in a citation."""
    match = _URL.search(citation)
    return match.group(0).rstrip(".") if match else None


def citation_key(citation: str) -> str:
    """A stable key of a citation: sha256 of its white-space-folded text."""
    folded = " ".join(citation.split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()
