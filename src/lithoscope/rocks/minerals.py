"""Mineral names -> petrographic roles, and modes -> a normalised assemblage.

The curated table ``minerals.csv`` (next to this module) maps each accepted name, an IMA species,
a group name (olivine, plagioclase ...) or a common non-IMA name (labradorite, bronzite), to the
*role* the rock-naming schemes need, with a representative density (g/cm³) for volume -> weight
conversion, the stoichiometric TiO2 wt % of Ti-oxides, the An range a plagioclase name implies,
and a source column: DHZ = Deer, Howie & Zussman, *An Introduction to the Rock-Forming Minerals*
(3rd ed. 2013); LM02 = Le Maitre (ed.) 2002; IMA = the IMA list of mineral names; St80, Pa98,
McS94 as in `lithoscope.rocks.planetary`, Go92 as in `lithoscope.rocks.meteorites`.

Pigeonite and low-Ca clinopyroxene
----------------------------------
LM02's triangles have vertices "orthopyroxene" and "clinopyroxene" and do not place pigeonite.
Pigeonite is monoclinic, but it is the *low-Ca* pyroxene of quickly cooled basalts and inverts to
orthopyroxene (+ augite lamellae) in slowly cooled rocks (DHZ), and lunar petrology names
plagioclase + low-Ca pyroxene rocks "norite" whether the low-Ca pyroxene is orthopyroxene or
(inverted) pigeonite [St80]. lithoscope therefore counts pigeonite with **orthopyroxene** (the
low-Ca pyroxene vertex) and says so in the reasoning whenever pigeonite is present; "clinopyroxene"
in a mode means high-Ca clinopyroxene (augite, diopside, hedenbergite).
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lithoscope.errors import InputError

__all__ = [
    "ROLES",
    "Assemblage",
    "MineralInfo",
    "mineral_info",
    "parse_modes",
    "weight_percent",
]

TABLE = Path(__file__).with_name("minerals.csv")

#: Every role a name can have, with what it is for.
ROLES: dict[str, str] = {
    "olivine": "Ol vertex; mafic",
    "orthopyroxene": "Opx vertex; mafic",
    "pigeonite": "low-Ca clinopyroxene; counted with Opx; mafic",
    "clinopyroxene": "high-Ca clinopyroxene, Cpx vertex; mafic",
    "pyroxene": "pyroxene not split into Opx and Cpx; mafic",
    "pyroxenoid": "pyroxferroite; mafic, outside the Px vertex",
    "plagioclase": "P of QAPF (An5-100, scapolite)",
    "maskelynite": "shocked plagioclase glass; counted as P",
    "alkali feldspar": "A of QAPF (incl. albite An0-5)",
    "quartz": "Q of QAPF (any silica mineral)",
    "feldspathoid": "F of QAPF",
    "hornblende": "amphibole; mafic",
    "mica": "mafic",
    "garnet": "mafic",
    "melilite": "mafic",
    "ilmenite": "opaque; mafic",
    "fe-ti oxide": "opaque; mafic",
    "magnetite": "opaque; mafic",
    "chromite": "opaque; mafic",
    "spinel": "mafic",
    "accessory": "mafic (LM02 counts accessories in M)",
    "phosphate": "accessory; mafic",
    "sulfide": "opaque; mafic",
    "metal": "Fe-Ni metal; mafic",
    "carbon": "graphite, diamond (ureilites); opaque; mafic",
    "carbonate": "primary (M) or secondary",
    "phyllosilicate": "secondary; outside the igneous schemes",
    "sulfate": "secondary; outside the igneous schemes",
    "iron oxide": "secondary; outside the igneous schemes",
    "glass": "non-crystalline; outside the modal schemes",
}

_SEPARATORS = re.compile(r"[\s\-_‐‑–—/]+")
_UNKNOWN = (
    "not a mineral lithoscope knows; give an IMA species name or a group such as olivine, "
    "plagioclase, clinopyroxene"
)


@dataclass(frozen=True)
class MineralInfo:
    """One row of ``minerals.csv``."""

    name: str
    role: str
    density: float
    tio2_wt_pct: float
    an_range: tuple[float, float] | None
    source: str


def _key(name: str) -> str:
    """Case-, accent-, hyphen- and space-insensitive key: ``'Ulvö-Spinel'`` -> ``'ulvospinel'``."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub("", stripped).casefold()


@cache
def _table() -> dict[str, MineralInfo]:
    rows: dict[str, MineralInfo] = {}
    with TABLE.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            if row["role"] not in ROLES:
                raise InputError(f"{TABLE.name}:{line}: role {row['role']!r} is not in ROLES")
            an = (
                (float(row["an_min"]), float(row["an_max"]))
                if row["an_min"] and row["an_max"]
                else None
            )
            rows[_key(row["name"])] = MineralInfo(
                name=row["name"],
                role=row["role"],
                density=float(row["density_g_cm3"]),
                tio2_wt_pct=float(row["tio2_wt_pct"] or 0.0),
                an_range=an,
                source=row["source"],
            )
    return rows


def mineral_info(name: str) -> MineralInfo:
    """The curated row for a mineral name (species, group or common name).

    Parameters
    ----------
    name : str
        Case, accents, spaces and hyphens do not matter (``"Ulvöspinel"``, ``"ulvo-spinel"``).

    Returns
    -------
    MineralInfo

    Raises
    ------
    InputError
        If the name is not in the table.

    Examples
    --------
    >>> mineral_info("Ulvöspinel").role
    'fe-ti oxide'
    >>> mineral_info("FE-NI metal").role
    'metal'
    """
    info = _table().get(_key(name))
    if info is None:
        raise InputError(f"--mode {name!r}: {_UNKNOWN}")
    return info


@dataclass(frozen=True)
class Assemblage:
    """A mode resolved to roles and normalised to 100 vol %.

    Attributes
    ----------
    minerals : tuple of (name, MineralInfo, vol %)
        One entry per input mode, in input order, normalised.
    notes : tuple of str
        What was done to the input (normalisation, merged names).
    """

    minerals: tuple[tuple[str, MineralInfo, float], ...]
    notes: tuple[str, ...]

    def vol(self, *roles: str) -> float:
        """Summed vol % of the given roles."""
        return sum(v for _, info, v in self.minerals if info.role in roles)

    def names(self, *roles: str) -> list[str]:
        """Input names (curated spelling) of the minerals with the given roles and mode > 0."""
        return [info.name for _, info, v in self.minerals if info.role in roles and v > 0]

    def an_range(self) -> tuple[float, float] | None:
        """An range implied by the plagioclase names, or None if any plagioclase has none."""
        ranges = [
            info.an_range for _, info, v in self.minerals if info.role == "plagioclase" and v > 0
        ]
        if not ranges or any(r is None for r in ranges):
            return None
        return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def parse_modes(modes: Mapping[str, float]) -> Assemblage:
    """Resolve mineral names to roles and normalise the modes to 100 vol %.

    Parameters
    ----------
    modes : mapping of str to float
        Mineral name -> vol %. Names are matched as in `mineral_info`.

    Returns
    -------
    Assemblage

    Raises
    ------
    InputError
        Empty modes, a negative or non-finite mode (naming the mineral), an unknown name, or
        modes that sum to zero.

    Examples
    --------
    >>> asm = parse_modes({"olivine": 30, "augite": 10})
    >>> asm.vol("olivine"), asm.notes[0]
    (75.0, 'modes sum to 40 vol %, not 100: normalised to 100')
    """
    if not modes:
        raise InputError("modes: none given; give at least one, e.g. --mode olivine=60")
    rows = []
    for name, value in modes.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(
                f"--mode {name!r}: expected a number of vol %, got {value!r}"
            ) from None
        if not math.isfinite(v) or v < 0:
            raise InputError(f"--mode {name!r}: expected a finite vol % >= 0, got {value!r}")
        rows.append((name, mineral_info(name), v))
    total = sum(v for _, _, v in rows)
    if total <= 0:
        raise InputError("modes: they sum to 0; give at least one mineral a positive vol %")
    notes = []
    if not math.isclose(total, 100.0, abs_tol=1e-6):
        notes.append(f"modes sum to {total:g} vol %, not 100: normalised to 100")
    return Assemblage(
        minerals=tuple((n, info, 100.0 * v / total) for n, info, v in rows), notes=tuple(notes)
    )


def weight_percent(asm: Assemblage) -> dict[str, float]:
    """Weight % per input mineral from vol % and the curated densities.

    ``wt_i = vol_i * rho_i / sum_j(vol_j * rho_j) * 100``. Densities are representative values
    (DHZ); a solid solution far from the tabulated composition (e.g. fayalitic olivine) shifts
    its weight % by up to ~15 % relative.

    Examples
    --------
    >>> w = weight_percent(parse_modes({"plagioclase": 50, "ilmenite": 50}))
    >>> round(w["ilmenite"], 1)
    63.7
    """
    mass = {name: v * info.density for name, info, v in asm.minerals}
    total = sum(mass.values())
    return {name: 100.0 * m / total for name, m in mass.items()}
