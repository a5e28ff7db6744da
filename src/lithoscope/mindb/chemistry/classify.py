"""Chemical class of a mineral from its parsed formula (Strunz-like precedence).

Rules, in order of precedence (the first that applies wins):

1. ``organic``: C with H where some C is not written before O (CH4, abelsonite
   NiC31H32N4), or C bound to O below +4 (oxalates C2O4, formates). Strunz class 10.
2. ``native element``: one element (Strunz 1.A-1.C).
3. Formulas without O:

   * ``sulfide``: any S, Se, Te, As or Sb (sulfides, selenides, tellurides, arsenides,
     antimonides, sulfosalts: Strunz class 2, which also keeps sulfide-halides);
   * ``halide``: F, Cl, Br or I (Strunz 3);
   * ``carbide/nitride/phosphide/silicide``: C, N, P, Si or B with metals (Strunz 1.B-1.D,
     cohenite, osbornite, schreibersite, moissanite);
   * ``native element``: metals only (alloys and intermetallics, Strunz 1.A).

4. Formulas with O, by anion complex (a mineral with several belongs to the first):
   ``silicate`` (any Si: silicates come first as in Strunz, borosilicates and
   silicate-carbonates included; SiO2 phases are counted as silicates), ``borate`` (B),
   ``phosphate`` (P bound to O), ``arsenate`` (As5+ bound to O), ``vanadate`` (V5+ bound to
   O), ``sulfate`` (S6+ bound to O), ``sulfite`` (S4+), ``chromate`` (Cr6+),
   ``tungstate/molybdate`` (W6+, Mo6+ bound to O), ``selenate``/``selenite`` (Se6+/Se4+),
   ``tellurate``/``tellurite`` (Te6+/Te4+), ``arsenite`` (As3+ bound to O), ``iodate``
   (I5+/I7+), ``carbonate`` (C4+ bound to O), ``nitrate`` (N bound to O), ``sulfide``
   (S/Se/Te/As/Sb anions: oxysulfides such as kermesite), ``halide`` (oxy- and
   hydroxyhalides such as atacamite), ``hydroxide`` (H with other cations: brucite,
   goethite, also hydrated oxides), ``oxide``.

   The oxyanion classes after ``phosphate`` need another cation besides the oxyanion
   former and H; V2O5, MoO3, As2O3 or SeO2 alone are oxides.
"""

from __future__ import annotations

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._elements import HALOGENS, METALS
from lithoscope.mindb.chemistry.formula import Formula, parse_formula

__all__ = ["MINERAL_CLASSES", "mineral_class"]

MINERAL_CLASSES: tuple[str, ...] = (
    "organic",
    "native element",
    "sulfide",
    "halide",
    "carbide/nitride/phosphide/silicide",
    "silicate",
    "borate",
    "phosphate",
    "arsenate",
    "vanadate",
    "sulfate",
    "sulfite",
    "chromate",
    "tungstate/molybdate",
    "selenate",
    "selenite",
    "tellurate",
    "tellurite",
    "arsenite",
    "iodate",
    "carbonate",
    "nitrate",
    "hydroxide",
    "oxide",
)

_OXY_ANION_SHARE = 0.2
_SULFIDE_FORMERS = frozenset({"S", "Se", "Te", "As", "Sb"})
_INTERSTITIAL = frozenset({"C", "N", "P", "Si", "B"})
# (class, element, valences (None: any positive), needs another cation)
_OXYANIONS: tuple[tuple[str, str, tuple[float, ...] | None, bool], ...] = (
    ("phosphate", "P", None, False),
    ("arsenate", "As", (5.0,), True),
    ("vanadate", "V", (5.0,), True),
    ("sulfate", "S", (6.0,), False),
    ("sulfite", "S", (4.0,), False),
    ("chromate", "Cr", (6.0,), True),
    ("tungstate/molybdate", "W", (6.0,), True),
    ("tungstate/molybdate", "Mo", (6.0,), True),
    ("selenate", "Se", (6.0,), True),
    ("selenite", "Se", (4.0,), True),
    ("tellurate", "Te", (6.0,), True),
    ("tellurite", "Te", (4.0,), True),
    ("arsenite", "As", (3.0,), True),
    ("iodate", "I", None, True),
    ("carbonate", "C", (4.0,), False),
    ("nitrate", "N", None, False),
)


def mineral_class(formula: Formula | str) -> str:
    """Chemical class of a mineral (Strunz-like precedence, see the module docstring).

    Parameters
    ----------
    formula : Formula or str
        A parsed formula, or a formula string (parsed with `parse_formula`).

    Returns
    -------
    str
        One of ``MINERAL_CLASSES``.

    Raises
    ------
    FormulaError
        If a string is given that does not parse.

    Examples
    --------
    >>> mineral_class("(Mg,Fe)2SiO4")
    'silicate'
    >>> mineral_class("CaCO3")
    'carbonate'
    >>> mineral_class("FeS2")
    'sulfide'
    """
    if isinstance(formula, str):
        formula = parse_formula(formula)
    if not isinstance(formula, Formula):
        raise FormulaError(
            f"mineral_class: expected a Formula or a formula string, got {type(formula).__name__}"
        )
    elements = set(formula.amounts)
    detail = formula._detail
    has_h = "H" in elements

    def oxo(sym: str, valences: tuple[float, ...] | None) -> bool:
        for sp in detail:
            if sp.sym != sym or sp.amount <= 0 or sp.valence <= 0:
                continue
            if sp.bound != "O" and not (sp.explicit and sym in ("P", "S", "As", "C", "N")):
                continue
            if valences is None or any(abs(sp.valence - v) < 0.01 for v in valences):
                return True
        return False

    carbon = [sp for sp in detail if sp.sym == "C" and sp.amount > 0]
    if carbon and (
        (has_h and any(sp.bound != "O" for sp in carbon))
        or any(sp.bound == "O" and 0 < sp.valence < 3.99 for sp in carbon)
    ):
        return "organic"
    if len(elements) == 1:
        return "native element"
    if "O" not in elements:
        if elements & _SULFIDE_FORMERS:
            return "sulfide"
        if elements & HALOGENS:
            return "halide"
        if elements & _INTERSTITIAL:
            return "carbide/nitride/phosphide/silicide"
        if elements <= METALS:
            return "native element"
        return "hydroxide" if has_h else "oxide"
    if "Si" in elements:
        return "silicate"
    if "B" in elements:
        return "borate"
    for name, sym, valences, needs_cation in _OXYANIONS:
        if not oxo(sym, valences):
            continue
        if needs_cation:
            others = {
                sp.sym
                for sp in detail
                if sp.valence > 0 and sp.sym not in (sym, "H") and sp.amount > 0
            }
            if not others:
                continue
        return name
    # oxysulfides and oxy/hydroxyhalides: when those anions carry at least a fifth of the
    # anion charge not compensated by H (atacamite Cu2Cl(OH)3, kermesite Sb2S2O), not
    # chlormayenite Ca12Al14O32Cl2 or akaganeite, which are oxides/hydroxides in Strunz
    oxygen_charge = max(2 * formula.amounts["O"] - formula.amounts.get("H", 0.0), 0.0)
    for group, name in ((_SULFIDE_FORMERS, "sulfide"), (HALOGENS, "halide")):
        charge = sum(
            -sp.valence * sp.amount
            for sp in detail
            if sp.sym in group and sp.valence < 0 and sp.amount > 0
        )
        if charge > 0 and charge >= _OXY_ANION_SHARE * (charge + oxygen_charge):
            return name
    cations = {sp.sym for sp in detail if sp.valence > 0 and sp.sym != "H" and sp.amount > 0}
    if has_h and cations:
        return "hydroxide"
    return "oxide"
