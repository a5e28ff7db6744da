"""The answer of every rock-naming scheme: a name, where it came from, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["UNCLASSIFIED", "RockName"]

#: The name given when no rule of the scheme names the rock (the reasoning says why).
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class RockName:
    """A rock name with the scheme, the field of its diagram and the reasoning that led to it.

    Attributes
    ----------
    name : str
        The rock name, e.g. ``"lherzolite"``, ``"ferroan anorthosite"``, or ``"unclassified"``.
    scheme : str
        Key of the scheme that gave the name (see ``lithoscope.rocks.SCHEMES``).
    field : str
        Field of the scheme's diagram: a QAPF field (``"3b"``, ``"10*"``), an Ol band of the
        ultramafic triangle, the fields of the two gabbroic triangles, or a planetary subclass.
    reasoning : tuple of str
        Human-readable steps: recalculated coordinates and the boundaries that decided.
    """

    name: str
    scheme: str
    field: str
    reasoning: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"name", "scheme", "field", "reasoning"}`` with ``reasoning`` a list of strings."""
        return {
            "name": self.name,
            "scheme": self.scheme,
            "field": self.field,
            "reasoning": list(self.reasoning),
        }
