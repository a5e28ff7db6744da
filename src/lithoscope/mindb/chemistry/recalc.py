"""Mineral formulas from oxide weight percents (microprobe analyses).

Method
------
Each oxide ``MaOb`` gives moles of cation M at valence ``2b/a``. Cations are normalized so
that their total charge is twice the number of oxygens of the basis (the usual "oxygen
basis" recalculation, e.g. Deer, Howie & Zussman 2013, Appendix). F and Cl are reported
per formula unit on the same factor and replace O (one O per two F/Cl): the oxygens listed
are ``basis - (F + Cl)/2``. Water (``H2O``, ``H2O+``, ``H2O-``) and ``LOI`` are not part of
anhydrous bases and are left out of the normalization (they still count in the total).

Bases (``OXYGEN_BASES``): olivine 4 O, pyroxene 6, feldspar 8, garnet 12, spinel 4,
ilmenite 3, amphibole 23 (anhydrous, 24 (O,OH,F,Cl) minus 1), mica 22 (anhydrous, for
X2Y4-6Z8O20(OH,F)4), apatite 12.5 (Ca5(PO4)3X with X as half an O: 25 anion charges), and
others listed in the table; or any number of oxygens.

Iron
----
``FeO`` is Fe2+ and ``Fe2O3`` Fe3+. Total iron may be given as ``FeOT`` (also ``FeO*``,
``FeOt``, ``FeOtot``, ``FeO(T)``, ``ΣFeO``) or ``Fe2O3T``; without an Fe3+ method it is all
Fe2+ (FeOT) or all Fe3+ (Fe2O3T). ``fe3_method="droop"`` estimates Fe3+ from stoichiometry
(Droop 1987, Mineral. Mag. 51:431): with X oxygens, T ideal cations and S the cation total
with all Fe as Fe2+, ``Fe3+ = 2X(1 - T/S)`` after scaling all cations by T/S (no Fe3+ when
S <= T). ``fe3_ratio`` fixes Fe3+/ΣFe instead (e.g. from Mössbauer data).

End members
-----------
olivine: Fo, Fa (and Tp when Mn is given) over Mg + Fe + Mn; pyroxene (Morimoto 1988,
Mineral. Mag. 52:535): Wo = Ca, En = Mg, Fs = Fe2+ + Fe3+ + Mn; feldspar: An = Ca,
Ab = Na, Or = K; garnet: Prp = Mg, Alm = Fe2+, Sps = Mn over Mg + Fe2+ + Mn + Ca, with
the Ca share split into Grs, Adr and Uv in the proportions of Al, Fe3+ and Cr (IMA
symbols, Warr 2021); spinel, chromite, magnetite: Cr# = 100 Cr/(Cr + Al) and
Mg# = 100 Mg/(Mg + Fe2+); ilmenite: Ilm, Gk, Pph; melilite: Åk = Mg + Fe2+,
Gh = Al/2. All in percent.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._elements import ATOMIC_WEIGHTS, plausible_valence

__all__ = [
    "IDEAL_CATIONS",
    "OXYGEN_BASES",
    "AnalysisTotalWarning",
    "Recalculation",
    "oxides_to_formula",
    "parse_oxide_list",
]

#: oxygens per formula unit for named bases (anhydrous where the mineral has OH)
OXYGEN_BASES: dict[str, float] = {
    "olivine": 4,
    "pyroxene": 6,
    "clinopyroxene": 6,
    "orthopyroxene": 6,
    "pyroxenoid": 6,
    "feldspar": 8,
    "plagioclase": 8,
    "alkali feldspar": 8,
    "garnet": 12,
    "spinel": 4,
    "chromite": 4,
    "magnetite": 4,
    "ilmenite": 3,
    "armalcolite": 5,
    "amphibole": 23,
    "mica": 22,
    "apatite": 12.5,
    "merrillite": 28,
    "melilite": 7,
    "perovskite": 3,
    "zircon": 4,
    "titanite": 5,
    "rutile": 2,
    "quartz": 2,
    "calcite": 3,
    "dolomite": 6,
}
#: ideal cations per formula unit on those bases (used by Droop's Fe3+ estimate)
IDEAL_CATIONS: dict[str, float] = {
    "olivine": 3,
    "pyroxene": 4,
    "clinopyroxene": 4,
    "orthopyroxene": 4,
    "feldspar": 5,
    "plagioclase": 5,
    "alkali feldspar": 5,
    "garnet": 8,
    "spinel": 3,
    "chromite": 3,
    "magnetite": 3,
    "ilmenite": 2,
    "armalcolite": 3,
    "apatite": 8,
    "merrillite": 18,
    "melilite": 5,
    "perovskite": 2,
    "zircon": 2,
    "titanite": 3,
    "rutile": 1,
    "quartz": 1,
}
#: tetrahedral cations per formula unit (filled with Si, then Al) for `formula_text`
_TETRAHEDRAL: dict[str, float] = {
    "olivine": 1,
    "pyroxene": 2,
    "clinopyroxene": 2,
    "orthopyroxene": 2,
    "garnet": 3,
    "amphibole": 8,
    "mica": 8,
    "feldspar": math.inf,
    "plagioclase": math.inf,
    "alkali feldspar": math.inf,
}
_SPINEL_LIKE = frozenset({"spinel", "chromite", "magnetite", "ilmenite", "armalcolite"})
_FE3_METHODS = ("droop",)
#: order of cations in results and formula text: large cations, divalent, trivalent,
#: tetravalent, tetrahedral (so olivine reads (Mg1.80Fe0.20)Si1.00O4)
_ORDER = tuple("Ca Na K Sr Ba Pb Li Rb Cs Mg Fe Mn Ni Co Zn Cu Al Cr V Ti Zr Si B P S C H".split())
_TOTAL_FE = re.compile(
    r"(?P<oxide>FeO|Fe2O3)\s*(?:T|t|tot|total|TOT|Total|\*|\(T\)|\(t\)|\(tot\)|_T|_t)|"
    r"[ΣΣ](?P<sigma>FeO|Fe2O3)"
)
_OXIDE = re.compile(r"([A-Z][a-z]?)(\d*)O(\d*)")
_WATER = frozenset({"H2O", "H2O+", "H2O-", "H2O−", "H2OT", "H2O(T)", "LOI"})
_HALOGENS = ("F", "Cl")
_TOTAL_ERROR = (50.0, 110.0)
_TOTAL_WARN = (98.0, 102.0)
_W_O = ATOMIC_WEIGHTS["O"]


class AnalysisTotalWarning(UserWarning):
    """An oxide analysis total is outside 98-102 wt% (but within 50-110)."""


@dataclass(frozen=True)
class _Oxide:
    name: str
    cation: str | None  # None for halogens and water
    n_cation: int
    n_oxygen: int
    total_iron: bool = False
    water: bool = False

    @property
    def valence(self) -> float:
        return 2.0 * self.n_oxygen / self.n_cation

    @property
    def mass(self) -> float:
        if self.cation is None:
            return ATOMIC_WEIGHTS[self.name] if self.name in _HALOGENS else math.nan
        return self.n_cation * ATOMIC_WEIGHTS[self.cation] + self.n_oxygen * _W_O


def _suggest(name: str) -> str:
    known = ["SiO2", "TiO2", "Al2O3", "Cr2O3", "FeO", "Fe2O3", "MnO", "MgO", "CaO", "Na2O", "K2O"]
    for k in known:
        if k.lower() == name.lower():
            return f"; did you mean {k!r}?"
    return "; use oxide formulas such as SiO2, Al2O3, FeO, Fe2O3, FeOT, or F, Cl, H2O"


def _oxide(name: object) -> _Oxide:
    if not isinstance(name, str) or not name.strip():
        raise FormulaError(f"oxide name {name!r}: expected a non-empty string such as 'SiO2'")
    key = name.strip()
    if key in _WATER:
        return _Oxide(key, None, 1, 0, water=True)
    if key in _HALOGENS:
        return _Oxide(key, None, 1, 0)
    m = _TOTAL_FE.fullmatch(key)
    if m:
        base = m.group("oxide") or m.group("sigma")
        return _Oxide(key, "Fe", 1 if base == "FeO" else 2, 1 if base == "FeO" else 3, True)
    m = _OXIDE.fullmatch(key)
    if not m:
        raise FormulaError(f"oxide {key!r} is not an oxide formula{_suggest(key)}")
    cation, a, b = m.group(1), int(m.group(2) or 1), int(m.group(3) or 1)
    if cation not in ATOMIC_WEIGHTS or cation == "O":
        raise FormulaError(f"oxide {key!r}: unknown element {cation!r}{_suggest(key)}")
    valence = 2.0 * b / a
    if not plausible_valence(cation, valence):
        raise FormulaError(
            f"oxide {key!r} implies {cation}{valence:g}+, which is not a valence of "
            f"{cation}; check the formula (e.g. Na2O, not NaO)"
        )
    return _Oxide(key, cation, a, b)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise FormulaError(f"oxide {name!r}: weight percent must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise FormulaError(f"oxide {name!r}: weight percent must be finite, got {value!r}")
    if v < 0:
        raise FormulaError(
            f"oxide {name!r}: weight percent must not be negative, got {v:g}; use 0 for "
            "'not detected'"
        )
    return v


def parse_oxide_list(text: str) -> dict[str, float]:
    """Read an oxide analysis written as text: ``"SiO2=40.87, MgO=49.35, FeO=9.78"``.

    Items are separated by ``,`` or ``;`` (or new lines); each is ``NAME=VALUE`` (``:`` also
    works). Names are checked as in `oxides_to_formula`.

    Parameters
    ----------
    text : str
        The analysis.

    Returns
    -------
    dict of str to float
        Oxide name -> weight percent, in the order given.

    Raises
    ------
    FormulaError
        Empty text, an item without ``=``, a value that is not a number or is negative, an
        unknown oxide, an oxide given twice.

    Examples
    --------
    >>> parse_oxide_list("SiO2=40.87,MgO=49.35,FeO=9.78")
    {'SiO2': 40.87, 'MgO': 49.35, 'FeO': 9.78}
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError(
            f"oxide list {text!r} is empty; write it as 'SiO2=40.87, MgO=49.35, FeO=9.78'"
        )
    out: dict[str, float] = {}
    for k, item in enumerate(re.split(r"[,;\n]", text)):
        item = item.strip()
        if not item:
            continue
        m = re.fullmatch(r"([^=:]+?)\s*[=:]\s*(.*)", item)
        if not m:
            raise FormulaError(
                f"oxide list item {k + 1} {item!r}: expected NAME=VALUE, e.g. 'SiO2=40.87'"
            )
        name, raw = m.group(1).strip(), m.group(2).strip()
        _oxide(name)
        try:
            value = float(raw)
        except ValueError:
            raise FormulaError(
                f"oxide list item {k + 1}: value of {name!r} is {raw!r}, not a number"
            ) from None
        _number(name, value)
        if name in out:
            raise FormulaError(f"oxide list: {name!r} is given twice; give each oxide once")
        out[name] = value
    if not out:
        raise FormulaError(f"oxide list {text!r} has no items; write it as 'SiO2=40.87, MgO=49.35'")
    return out


@dataclass(frozen=True)
class Recalculation:
    """Result of `oxides_to_formula`.

    Attributes
    ----------
    basis : str or float
        The basis as given (name or number of oxygens).
    oxygens : float
        Oxygens per formula unit of the basis (F and Cl replace some: see `anions`).
    cations : dict of str to float
        Cations per formula unit by element (Fe is total Fe).
    cation_species : dict of str to float
        Cations per formula unit by element and valence (``"Fe2+"``, ``"Fe3+"``).
    anions : dict of str to float
        O (``oxygens - (F + Cl)/2``), F and Cl per formula unit.
    cation_total : float
        Sum of `cations`.
    total_wt : float
        Analysis total in wt%, after subtracting O = F, Cl.
    endmembers : dict of str to float
        End-member proportions in percent (see the module docstring).
    indices : dict of str to float
        Mg# (100 Mg/(Mg + Fe2+)), Cr# (100 Cr/(Cr + Al)) when Cr is given, Fe3+/ΣFe.
    formula_text : str
        The formula, e.g. ``"(Mg1.80Fe0.20)Si1.00O4"``.
    fe3_method : str or None
        How Fe3+ was obtained.
    notes : list of str
        What was assumed or left out.
    """

    basis: str | float
    oxygens: float
    cations: dict[str, float]
    cation_species: dict[str, float]
    anions: dict[str, float]
    cation_total: float
    total_wt: float
    endmembers: dict[str, float]
    indices: dict[str, float]
    formula_text: str
    fe3_method: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of every field."""
        return {
            "basis": self.basis,
            "oxygens": self.oxygens,
            "cations": dict(self.cations),
            "cation_species": dict(self.cation_species),
            "anions": dict(self.anions),
            "cation_total": self.cation_total,
            "total_wt": self.total_wt,
            "endmembers": dict(self.endmembers),
            "indices": dict(self.indices),
            "formula_text": self.formula_text,
            "fe3_method": self.fe3_method,
            "notes": list(self.notes),
        }


def _resolve_basis(basis: object) -> tuple[str | None, float]:
    if isinstance(basis, str):
        key = basis.strip().lower()
        if key in OXYGEN_BASES:
            return key, float(OXYGEN_BASES[key])
        try:
            number = float(key)
        except ValueError:
            raise FormulaError(
                f"basis {basis!r} is not known; use a number of oxygens or one of: "
                + ", ".join(sorted(OXYGEN_BASES))
            ) from None
        basis = number
    if isinstance(basis, bool) or not isinstance(basis, Real):
        raise FormulaError(
            f"basis {basis!r}: expected a mineral name (e.g. 'olivine') or a number of oxygens"
        )
    value = float(basis)
    if not math.isfinite(value) or value <= 0:
        raise FormulaError(f"basis {basis!r}: the number of oxygens must be positive")
    return None, value


def _label(el: str, valence: float, multi: bool) -> str:
    if not multi:
        return el
    return f"{el}{round(valence) if abs(valence - round(valence)) < 1e-9 else valence:g}+"


def oxides_to_formula(
    oxides: Mapping[str, float],
    *,
    basis: str | float,
    fe3_method: str | None = None,
    fe3_ratio: float | None = None,
    cation_total: float | None = None,
) -> Recalculation:
    """Recalculate an oxide analysis (wt%) into a formula on an oxygen basis.

    Parameters
    ----------
    oxides : mapping of str to float
        Oxide (or F, Cl, H2O) -> weight percent, e.g. ``{"SiO2": 40.87, "MgO": 49.35,
        "FeO": 9.78}``.
    basis : str or float
        A name from ``OXYGEN_BASES`` (``"olivine"``, ``"pyroxene"``, ``"feldspar"``,
        ``"garnet"``, ``"spinel"`` ...) or a number of oxygens.
    fe3_method : {None, "droop"}, optional
        ``"droop"`` estimates Fe3+ from the ideal cation total (Droop 1987); needs a named
        basis in ``IDEAL_CATIONS`` or ``cation_total``.
    fe3_ratio : float, optional
        Fixed Fe3+/ΣFe (0 to 1) instead of a method.
    cation_total : float, optional
        Ideal cations per formula unit for Droop's method with a numeric basis.

    Returns
    -------
    Recalculation
        Cations per formula unit, end members, indices and the formula text.

    Raises
    ------
    FormulaError
        Unknown oxide or basis, a value that is not a number or is negative, FeOT given with
        FeO or Fe2O3, an analysis total below 50 or above 110 wt%, an unknown ``fe3_method``.

    Warns
    -----
    AnalysisTotalWarning
        When the total is outside 98-102 wt%.

    Examples
    --------
    >>> r = oxides_to_formula({"SiO2": 40.87, "MgO": 49.35, "FeO": 9.78}, basis="olivine")
    >>> r.formula_text
    '(Mg1.80Fe0.20)Si1.00O4'
    >>> round(r.endmembers["Fo"], 1)
    90.0
    """
    if not isinstance(oxides, Mapping) or not oxides:
        raise FormulaError(
            f"oxides must be a non-empty mapping such as {{'SiO2': 40.9, 'MgO': 49.4}}, "
            f"got {oxides!r}"
        )
    name, n_oxygen = _resolve_basis(basis)
    if fe3_method is not None and fe3_method not in _FE3_METHODS:
        raise FormulaError(
            f"fe3_method {fe3_method!r} is not known; use None or one of: "
            + ", ".join(_FE3_METHODS)
        )
    if fe3_method is not None and fe3_ratio is not None:
        raise FormulaError("give either fe3_method or fe3_ratio, not both")
    if fe3_ratio is not None:
        fe3_ratio = _number("fe3_ratio", fe3_ratio)
        if fe3_ratio > 1:
            raise FormulaError(f"fe3_ratio must be between 0 and 1, got {fe3_ratio:g}")
    notes: list[str] = []

    parsed: list[tuple[_Oxide, float]] = []
    for key, value in oxides.items():
        ox = _oxide(key)
        parsed.append((ox, _number(ox.name, value)))
    iron = [ox for ox, _ in parsed if ox.cation == "Fe"]
    if any(ox.total_iron for ox in iron) and len(iron) > 1:
        raise FormulaError(
            "oxides: total iron ("
            + ", ".join(ox.name for ox in iron if ox.total_iron)
            + ") given together with "
            + ", ".join(ox.name for ox in iron if not ox.total_iron)
            + "; give either total iron or FeO and Fe2O3"
        )
    seen: set[tuple[str | None, float]] = set()
    for ox, _ in parsed:
        if ox.cation is None:
            continue
        k = (ox.cation, ox.valence)
        if k in seen:
            raise FormulaError(
                f"oxides: {ox.cation}{ox.valence:g}+ is given twice ({ox.name}); give it once"
            )
        seen.add(k)

    halogen_o = sum(
        v * 0.5 * _W_O / ATOMIC_WEIGHTS[ox.name] for ox, v in parsed if ox.name in _HALOGENS
    )
    total = math.fsum(v for _, v in parsed) - halogen_o
    if not _TOTAL_ERROR[0] <= total <= _TOTAL_ERROR[1]:
        raise FormulaError(
            f"oxides: analysis total {total:.2f} wt% is outside {_TOTAL_ERROR[0]:g}-"
            f"{_TOTAL_ERROR[1]:g}; check the values (wt%, not fractions or ppm)"
        )
    if not _TOTAL_WARN[0] <= total <= _TOTAL_WARN[1]:
        msg = f"analysis total {total:.2f} wt% is outside {_TOTAL_WARN[0]:g}-{_TOTAL_WARN[1]:g}"
        warnings.warn(msg, AnalysisTotalWarning, stacklevel=2)
        notes.append(msg)

    # moles of cation per valence, and halogens
    moles: dict[tuple[str, float], float] = {}
    halogens: dict[str, float] = {}
    for ox, v in parsed:
        if ox.water:
            if v > 0:
                notes.append(f"{ox.name} left out of the anhydrous normalization")
            continue
        if ox.cation is None:
            halogens[ox.name] = v / ATOMIC_WEIGHTS[ox.name]
            continue
        key = (ox.cation, ox.valence)
        moles[key] = moles.get(key, 0.0) + v / ox.mass * ox.n_cation
        if ox.total_iron:
            notes.append(
                f"{ox.name} is total iron"
                + ("" if fe3_method or fe3_ratio is not None else f", taken as Fe{ox.valence:g}+")
            )

    if fe3_method or fe3_ratio is not None:
        fe_total = sum(m for (el, _), m in moles.items() if el == "Fe")
        for k in [k for k in moles if k[0] == "Fe"]:
            del moles[k]
        if fe_total > 0:
            moles[("Fe", 2.0)] = fe_total
    charge = sum(m * v for (_, v), m in moles.items())
    if charge <= 0:
        raise FormulaError("oxides: no cations to normalize (only water or halogens given)")
    factor = 2.0 * n_oxygen / charge
    apfu = {k: m * factor for k, m in moles.items()}
    fe3_used: str | None = None

    if fe3_method == "droop":
        ideal = cation_total if cation_total is not None else IDEAL_CATIONS.get(name or "")
        if ideal is None:
            raise FormulaError(
                f"fe3_method='droop' needs the ideal cation total: basis {basis!r} has none; "
                "pass cation_total=..."
            )
        ideal = _number("cation_total", ideal)
        if ideal <= 0:
            raise FormulaError(f"cation_total must be positive, got {ideal:g}")
        s = sum(apfu.values())
        fe2 = apfu.get(("Fe", 2.0), 0.0)
        if s > ideal and fe2 > 0:
            f = 2.0 * n_oxygen * (1.0 - ideal / s)
            scale = ideal / s
            apfu = {k: a * scale for k, a in apfu.items()}
            fe_total = apfu[("Fe", 2.0)]
            fe3 = min(f, fe_total)
            if f > fe_total + 1e-12:
                notes.append(
                    f"Droop Fe3+ ({f:.3f}) exceeds total Fe ({fe_total:.3f}): all Fe taken "
                    "as Fe3+; the analysis is not stoichiometric for this basis"
                )
            apfu[("Fe", 2.0)] = fe_total - fe3
            apfu[("Fe", 3.0)] = fe3
            if apfu[("Fe", 2.0)] <= 1e-12:
                del apfu[("Fe", 2.0)]
            notes.append(
                f"Fe3+ by Droop (1987): {ideal:g} cations per {n_oxygen:g} O, Fe3+ = {fe3:.4f} apfu"
            )
        else:
            notes.append(f"Droop (1987): cation total {s:.4f} <= {ideal:g}, so no Fe3+ is needed")
        fe3_used = "droop"
    elif fe3_ratio is not None:
        fe_total = apfu.pop(("Fe", 2.0), 0.0)
        # Fe3+ carries one more charge: renormalize so the charges still match the basis
        fe3, fe2 = fe_total * fe3_ratio, fe_total * (1 - fe3_ratio)
        apfu[("Fe", 2.0)] = fe2
        apfu[("Fe", 3.0)] = fe3
        rescale = 2.0 * n_oxygen / sum(a * v for (_, v), a in apfu.items())
        apfu = {k: a * rescale for k, a in apfu.items() if a > 0}
        notes.append(f"Fe3+/ΣFe fixed at {fe3_ratio:g}")
        fe3_used = "ratio"

    rank = {el: k for k, el in enumerate(_ORDER)}
    keys = sorted(apfu, key=lambda k: (rank.get(k[0], len(rank)), -k[1]))
    cations: dict[str, float] = {}
    for el, _v in keys:
        cations[el] = cations.get(el, 0.0) + apfu[(el, _v)]
    multi = {el for el in cations if sum(1 for k in keys if k[0] == el) > 1}
    species = {_label(el, v, True): apfu[(el, v)] for el, v in keys}
    anions: dict[str, float] = {}
    halogen_total = 0.0
    for hal, mol in halogens.items():
        anions[hal] = mol * factor
        halogen_total += mol * factor
    anions = {"O": n_oxygen - 0.5 * halogen_total, **anions}
    if halogen_total > 0:
        notes.append("F and Cl replace O (1 O per 2 F/Cl) on the same normalization")

    get = {f"{el}{v:g}": a for (el, v), a in apfu.items()}
    fe2 = get.get("Fe2", 0.0)
    fe3 = get.get("Fe3", 0.0)
    indices: dict[str, float] = {}
    mg = cations.get("Mg", 0.0)
    if mg + fe2 > 0:
        indices["Mg#"] = 100.0 * mg / (mg + fe2)
    if "Cr" in cations and cations["Cr"] + cations.get("Al", 0.0) > 0:
        indices["Cr#"] = 100.0 * cations["Cr"] / (cations["Cr"] + cations.get("Al", 0.0))
    if fe2 + fe3 > 0:
        indices["Fe3+/ΣFe"] = fe3 / (fe2 + fe3)

    endmembers = _endmembers(name, cations, fe2, fe3, indices)
    text = _formula_text(name, keys, apfu, multi, anions)
    return Recalculation(
        basis=basis if name is None else name,
        oxygens=n_oxygen,
        cations=cations,
        cation_species=species,
        anions=anions,
        cation_total=math.fsum(cations.values()),
        total_wt=total,
        endmembers=endmembers,
        indices=indices,
        formula_text=text,
        fe3_method=fe3_used,
        notes=notes,
    )


def _percent(parts: dict[str, float]) -> dict[str, float]:
    total = sum(parts.values())
    if total <= 0:
        return {}
    return {k: 100.0 * v / total for k, v in parts.items()}


def _endmembers(
    name: str | None,
    c: dict[str, float],
    fe2: float,
    fe3: float,
    indices: dict[str, float],
) -> dict[str, float]:
    mg, mn, ca = c.get("Mg", 0.0), c.get("Mn", 0.0), c.get("Ca", 0.0)
    fe = fe2 + fe3
    if name == "olivine":
        parts = {"Fo": mg, "Fa": fe}
        if "Mn" in c:
            parts["Tp"] = mn
        return _percent(parts)
    if name in ("pyroxene", "clinopyroxene", "orthopyroxene"):
        return _percent({"Wo": ca, "En": mg, "Fs": fe + mn})
    if name in ("feldspar", "plagioclase", "alkali feldspar"):
        return _percent({"An": ca, "Ab": c.get("Na", 0.0), "Or": c.get("K", 0.0)})
    if name == "garnet":
        x = mg + fe2 + mn + ca
        if x <= 0:
            return {}
        out = {"Prp": 100 * mg / x, "Alm": 100 * fe2 / x}
        if "Mn" in c:
            out["Sps"] = 100 * mn / x
        al, cr = c.get("Al", 0.0), c.get("Cr", 0.0)
        y = al + fe3 + cr
        ca_share = 100 * ca / x
        if y > 0:
            out["Grs"] = ca_share * al / y
            if fe3 > 0 or "Fe" in c:
                out["Adr"] = ca_share * fe3 / y
            if "Cr" in c:
                out["Uv"] = ca_share * cr / y
        else:
            out["Grs"] = ca_share
        return out
    if name in ("spinel", "chromite", "magnetite"):
        return {k: indices[k] for k in ("Cr#", "Mg#") if k in indices}
    if name == "ilmenite":
        return _percent({"Ilm": fe2, "Gk": mg, "Pph": mn})
    if name == "melilite":
        return _percent({"Åk": mg + fe2, "Gh": c.get("Al", 0.0) / 2})
    return {}


def _formula_text(
    name: str | None,
    keys: list[tuple[str, float]],
    apfu: dict[tuple[str, float], float],
    multi: set[str],
    anions: dict[str, float],
) -> str:
    def fmt(items: list[tuple[str, float]]) -> str:
        # cations that round to 0.00 are left out of the text (they stay in `cations`)
        shown = [(label, a) for label, a in items if a >= 0.005]
        body = "".join(f"{label}{a:.2f}" for label, a in shown)
        return f"({body})" if len(shown) > 1 else body

    labelled = [(_label(el, v, el in multi), el, v, apfu[(el, v)]) for el, v in keys]
    groups: list[list[tuple[str, float]]]
    if name in _TETRAHEDRAL:
        t_room = _TETRAHEDRAL[name]
        taken: dict[str, float] = {}
        for wanted in ("Si", "Al"):  # Si fills the tetrahedral site first, then Al
            for label, e, _v, a in labelled:
                if e == wanted and t_room > 1e-12:
                    taken[label] = min(a, t_room)
                    t_room -= taken[label]
        tetra = list(taken.items())
        other = [
            (label, e, v, a - taken.get(label, 0.0))
            for label, e, v, a in labelled
            if a - taken.get(label, 0.0) > 1e-12
        ]
        if name == "garnet":
            x = [(lb, a) for lb, e, v, a in other if v <= 2]
            y = [(lb, a) for lb, e, v, a in other if v > 2]
            groups = [x, y, tetra]
        else:
            groups = [[(lb, a) for lb, _, _, a in other], tetra]
    elif name in _SPINEL_LIKE:
        groups = [
            [(lb, a) for lb, e, v, a in labelled if v <= 2],
            [(lb, a) for lb, e, v, a in labelled if v > 2],
        ]
    else:
        groups = [[(lb, a)] for lb, e, v, a in labelled]
    text = "".join(fmt(g) for g in groups if g)
    text += f"O{anions['O']:.4g}"
    text += "".join(f"{k}{v:.2f}" for k, v in anions.items() if k != "O" and v > 0)
    return text
