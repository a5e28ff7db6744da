"""Stoichiometric consistency: does a candidate mineral's formula agree with the chemistry seen?

A Raman or infrared answer names a mineral; LIBS (or an analysis given by the user) says which
elements the sample holds. `check_consistency` confronts a candidate's MinDB formula with that
evidence (a `ChemistryEvidence`, built once per sample) and returns a `Consistency`: a score in
[0, 1] and the contradictions in words ("LIBS sees no Mg (forsterite is 35 wt% Mg)", "LIBS
sees Cu at confidence 0.98; forsterite has none", "measured Fe 12 wt%, almandine needs Fe 34
wt%"). `rerank` folds the scores into a model's probabilities.

The score
---------
Each rule that finds a conflict contributes a *factor* in (0, 1]: roughly the probability of
the observation if the candidate were right, relative to a candidate that explains it. The
score is the product of the factors (1 = nothing contradicts, near 0 = contradicted), so
``p * score`` is Bayes' rule with the rules taken as independent; `rerank` tempers it with an
exponent. A factor below `CONTRADICTION_BELOW` (0.5) is reported as a contradiction; a score
below `FLAG_BELOW` flags the candidate.

Solid solutions
---------------
A species is a range of compositions: forsterite ``Mg2SiO4`` holds some Fe2+, Mn2+ and Ni on
its Mg site, jarosite some Na for K. Ions substitute extensively when they have the same charge
and radii within about 15 % (Goldschmidt's rules; Deer, Howie & Zussman 2013, *An Introduction
to the Rock-Forming Minerals*, 3rd ed.; radii of Shannon 1976, Acta Cryst. A32:751).
`SUBSTITUTION_CLASSES` lists the classes used, each with its radii and example series
(Mg-Fe2+-Mn2+-Ni-Co-Zn; Na-K-Rb-Cs; Al-Fe3+-Cr3+-V3+-Mn3+-Ga; Ca-Sr-Ba-Pb; REE-Y; F-OH-Cl;
...). A formula's atoms join a class by element *and* valence, as the chemistry engine infers
them (`lithoscope.mindb.chemistry.parse_formula`: Fe2+ of almandine joins Mg, Fe3+ of jarosite
joins Al, so Cr3+ may replace the iron of jarosite but not of siderite). The classes of the
occupants of one written site group (``(Ca,Na)``, ``(Al,Mg,Fe)``; the notes of `parse_formula`
say "site (...) split equally") are merged into one *unit*, and those occupants are
alternatives: seeing one is enough. An element of the evidence that the formula lacks is
accepted when it can enter one of the formula's units, but only as a minority: by the IMA
dominant-constituent rule (Hatert & Burke 2008, Can. Mineral. 46:717) a species keeps the
dominant occupant of its site, so a garnet whose Mg outweighs its Fe is pyrope, not almandine.

LIBS evidence (`ChemistryEvidence.from_detection`, `from_elements`)
------------------------------------------------------------------
* **Blind elements** never contradict, present or absent (`LIBS_BLIND`, with the reason for
  each): H, N, O and Ar come with the air or a purge gas (the ``ambient`` flag of
  `lithoscope.physics.libs.detect_elements` is honoured too); C, S, P, As, Se and Te have their
  strongest lines below 200 nm (vacuum UV: absorbed by air, and outside the NIST line list the
  simulator and detector use); F, Cl, Br and I have upper levels at 9-15 eV, so their lines are
  weak in a plasma in air; Zr, Nb, Ta, Th and U spread their emission over thousands of weak
  lines that line matching does not pick out (never detected in the calibration spectra).
* **Missing elements**: an element that is a major constituent (at least `MAJOR_WT_PERCENT`,
  5 wt%, of the formula), not blind, and not detected, is *expected but missing*. Its factor is
  its miss rate `LIBS_MISS_RATE`: the share of simulated spectra in which the detector missed
  it although it was there at >= 5 wt% (per instrument preset; `miss_rates`). An element LIBS
  sees in nearly every spectrum (Mg, Ca, Mn, Ba, Cu: 2-5 %) contradicts strongly; one it often
  misses (Si, Al, Fe, Na, Zn: 15-25 %) weakly. Misses come together (a spectrum dominated
  by one element hides the others: Si and Al were missed together 4.5 times as often as
  independent misses would be), so the missing elements together count with the smallest miss
  rate among them, not the product; a spectrum in which no judgeable element was detected says
  nothing.
* **Extra elements**: an element detected (confidence >= `DETECTED`) that the formula lacks and
  that enters none of its units gives the factor ``1 - confidence`` (at least `EXTRA_FLOOR`):
  the confidence is the detector's probability that the element is there. Natural samples hold
  minor elements their ideal formula lacks, so with a LIBS ratio the factor is at least the
  chance that a minor constituent (atom fraction `MINOR_RATIO`) shows that ratio under the
  ratios' error, ``exp(-ln(ratio / MINOR_RATIO) / RATIO_LOG_SCALE)``. Common contaminants
  (`COMMON_CONTAMINANTS`: Na, K, Ca, Mg, Li, Si, Al, whose lines show at ppm levels and which
  dust, handling and mounts bring) are excused below `CONTAMINANT_MAX_RATIO` of the atoms, or
  when no ratio is known.
* **Dominance**: when LIBS detects a formula element and a substituent of its unit, the
  calibration-free ratios must not make the substituent dominant: the factor is
  ``exp(ln(own / substituent) / RATIO_LOG_SCALE)`` below 1, and no smaller than one minus the
  substituent's confidence (the ratios are semi-quantitative: a factor 1.7 off in the median).

Measured chemistry (`ChemistryEvidence.from_chemistry`, `from_context`)
----------------------------------------------------------------------
Weight percents by element or oxide (``FeO``, ``Fe2O3``, ``FeOT``, ``SiO2``; water and LOI
count in the total only) become element wt% of the whole sample, then moles per 100 g. A
measured element the formula lacks goes into the units it can enter (split in proportion to
their size). The valence an oxide implies is not used (microprobe FeO is often all the iron;
Droop 1987, Mineral. Mag. 51:431). H, C, N and O are never judged (rarely measured, often
computed by stoichiometry), nor are units holding them (an (OH,F) site).

* **Amounts**: per unit, the measured moles against the formula's, as shares of the formula's
  judged atoms, and (with two or more units measured) the unit's share of the measured judged
  atoms against its share in the formula, which is free of unmeasured water and of the
  molar-mass change substitution brings. Deviations are divided by the square root of the
  unit's share: in RRUFF analyses of the training samples, natural spread grows like that (a
  unit of 10 % of the atoms varies relatively twice as much as one of 40 %). Beyond
  `AMOUNT_TOLERANCE` and `PROPORTION_TOLERANCE` the factor falls by e for every `AMOUNT_SCALE`.
* **Dominance**: the formula's own elements must hold at least ``0.5 - DOMINANCE_MARGIN`` of
  their unit; below, the factor falls by e every `DOMINANCE_SCALE`.
* **Foreign elements**: a measured element that enters no unit of the formula, above
  `FOREIGN_FRACTION` of the judged atoms; the factor falls by e every `FOREIGN_SCALE`.
* **What was measured**: an analysis is *complete* when its total reaches `COMPLETE_TOTAL` wt%
  (oxides, or elements including O); then an element it does not list is absent. Otherwise
  only units with a listed element are judged. Li, Be and B are never inferred absent (a
  microprobe cannot measure them).

The constants were set on simulated LIBS spectra and RRUFF measured chemistry of the training
samples of ``benchmarks/consistency.py`` (a grouped split by RRUFF sample); its held-out
samples measure how well the rules work.

Examples
--------
>>> ev = ChemistryEvidence.from_elements({"Si": 0.99, "Fe": 0.97})
>>> check_consistency("Mg2SiO4", ev, name="forsterite").contradictions
('LIBS sees no Mg (forsterite is 35 wt% Mg)',)
>>> check_consistency("(Mg,Fe)2SiO4", ev).score
1.0
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.mindb.chemistry import Formula, parse_formula

__all__ = [
    "AMOUNT_SCALE",
    "AMOUNT_TOLERANCE",
    "COMMON_CONTAMINANTS",
    "COMPLETE_TOTAL",
    "CONTAMINANT_MAX_RATIO",
    "CONTRADICTION_BELOW",
    "DEFAULT_MISS_RATE",
    "DEFAULT_STRENGTH",
    "DETECTED",
    "DOMINANCE_MARGIN",
    "DOMINANCE_SCALE",
    "EXTRA_FLOOR",
    "FLAG_BELOW",
    "FOREIGN_FRACTION",
    "FOREIGN_SCALE",
    "LIBS_BLIND",
    "LIBS_MISS_RATE",
    "MAJOR_WT_PERCENT",
    "MINOR_RATIO",
    "PROPORTION_TOLERANCE",
    "RATIO_LOG_SCALE",
    "SUBSTITUTION_CLASSES",
    "ChemistryEvidence",
    "Consistency",
    "SubstitutionClass",
    "check_consistency",
    "consistency_batch",
    "miss_rates",
    "rerank",
]

# ------------------------------------------------------------------------------ constants
#: Elements LIBS cannot judge, present or absent, and why.
LIBS_BLIND: Mapping[str, str] = MappingProxyType(
    {
        "H": "ambient: air humidity and adsorbed water supply it (H-alpha 656.3 nm)",
        "N": "ambient: the air around the plasma",
        "O": "ambient: the air around the plasma",
        "Ar": "ambient: a purge gas",
        "He": "a noble gas: purge or trapped gas, not a mineral constituent",
        "Ne": "a noble gas",
        "Kr": "a noble gas",
        "Xe": "a noble gas",
        "C": "strongest line C I 193.1 nm lies below 200 nm; C I 247.9 nm is weak; CO2 of air",
        "S": "strongest lines 180.7-182.6 nm (vacuum UV); the 921-923 nm triplet is weak",
        "P": "strongest lines 177.5-178.8 nm (vacuum UV); 213.6-255.3 nm lines are weak",
        "As": "strongest lines 189.0, 193.8, 197.3 nm (below 200 nm); 228.8-286.0 nm are weak",
        "Se": "strongest lines 196.1 and 204.0 nm, at the edge of the range, weak",
        "Te": "strongest lines 214.3 and 238.6 nm, weak",
        "F": "upper levels near 14.5 eV: F I 685.6 and 690.2 nm are weak in air",
        "Cl": "upper levels near 10.4 eV: Cl I 837.6 nm is weak in air",
        "Br": "upper levels above 9 eV: weak near-infrared lines",
        "I": "upper levels above 8 eV: weak lines",
        "Zr": "emission spread over thousands of weak lines; not picked out by line matching",
        "Nb": "emission spread over thousands of weak lines; not picked out by line matching",
        "Ta": "emission spread over thousands of weak lines; not picked out by line matching",
        "Th": "emission spread over thousands of weak lines; not picked out by line matching",
        "U": "emission spread over thousands of weak lines; not picked out by line matching",
    }
)
#: Elements whose lines show at ppm levels and that dust, handling, glue or a mount put on
#: almost any sample (Cremers & Radziemski 2013, Handbook of LIBS, ch. 4 and 8).
COMMON_CONTAMINANTS: frozenset[str] = frozenset({"Na", "K", "Ca", "Mg", "Li", "Si", "Al"})
#: A contaminant is excused only below this atom fraction of the LIBS ratios.
CONTAMINANT_MAX_RATIO = 0.1
#: LIBS atom fraction of a minor constituent: natural samples hold minor elements their ideal
#: formula lacks, so an extra element at this ratio or below is no contradiction.
MINOR_RATIO = 0.02
#: Confidence from which a LIBS element counts as seen (the default of `detect_elements`).
DETECTED = 0.5
#: Formula wt% from which a missing element counts.
MAJOR_WT_PERCENT = 5.0
#: Smallest factor of one extra element (a detection is never taken as certain).
EXTRA_FLOOR = 0.01
#: Per instrument preset (`lithoscope.physics.libs.PRESETS`): the share of spectra in which
#: LIBS missed an element present at >= 5 wt% (detection confidence below 0.5), as
#: (misses + 1) / (spectra + 2), at least 0.02, over simulated spectra of RRUFF training samples
#: (measured chemistry, else the ideal formula) under random plasma and instrument conditions
#: (``benchmarks/consistency.py --calibrate``: 600 training samples, one spectrum each per
#: preset; the held-out samples are never used). Evidence of an unknown instrument uses the
#: larger of the presets' rates (`miss_rates`).
# fmt: off
LIBS_MISS_RATE: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "handheld": MappingProxyType({
        "Ag": 0.14, "Al": 0.21, "Au": 0.33, "B": 0.17, "Ba": 0.04, "Be": 0.07, "Bi": 0.33,
        "Ca": 0.02, "Ce": 0.5, "Co": 0.33, "Cr": 0.22, "Cs": 0.33, "Cu": 0.05, "Fe": 0.24,
        "Ge": 0.29, "Hf": 0.33, "Hg": 0.12, "K": 0.32, "La": 0.25, "Li": 0.33, "Mg": 0.02,
        "Mn": 0.04, "Mo": 0.2, "Na": 0.19, "Nd": 0.33, "Ni": 0.19, "Pb": 0.15, "Pt": 0.33,
        "Ru": 0.33, "Sb": 0.19, "Si": 0.22, "Sn": 0.5, "Sr": 0.07, "Ti": 0.12, "Tl": 0.2,
        "V": 0.07, "W": 0.38, "Y": 0.14, "Zn": 0.15,
    }),
    "supercam": MappingProxyType({
        "Ag": 0.07, "Al": 0.21, "Au": 0.33, "B": 0.26, "Ba": 0.04, "Be": 0.2, "Bi": 0.5,
        "Ca": 0.02, "Ce": 0.17, "Co": 0.33, "Cr": 0.33, "Cs": 0.67, "Cu": 0.05, "Fe": 0.11,
        "Ge": 0.29, "Hf": 0.33, "Hg": 0.12, "K": 0.96, "La": 0.25, "Li": 0.33, "Mg": 0.03,
        "Mn": 0.04, "Mo": 0.3, "Na": 0.78, "Nd": 0.67, "Ni": 0.12, "Pb": 0.08, "Pt": 0.33,
        "Ru": 0.33, "Sb": 0.19, "Si": 0.21, "Sn": 0.12, "Sr": 0.07, "Ti": 0.04, "Tl": 0.2,
        "V": 0.07, "W": 0.38, "Y": 0.14, "Zn": 0.22,
    }),
})
# fmt: on
#: Miss rate of a visible element that the calibration saw too rarely to measure.
DEFAULT_MISS_RATE = 0.5


def miss_rates(preset: str | None = None) -> Mapping[str, float]:
    """LIBS miss rates (`LIBS_MISS_RATE`) of one preset, or the larger of all presets' rates.

    Parameters
    ----------
    preset : str, optional
        A name of `LIBS_MISS_RATE` (``'handheld'``, ``'supercam'``); None: the instrument is not
        known, so each element gets its largest rate (an element counts only as strongly as
        the weakest instrument sees it).

    Returns
    -------
    mapping of str to float

    Raises
    ------
    InputError
        An unknown preset (the message lists the valid names).

    Examples
    --------
    >>> miss_rates("supercam")["K"] > miss_rates("handheld")["K"]
    True
    """
    if preset is None:
        return _CONSERVATIVE_RATES
    if preset not in LIBS_MISS_RATE:
        raise InputError(
            f"preset {preset!r} is not one of {', '.join(LIBS_MISS_RATE)}; pass None for an "
            "unknown instrument"
        )
    return LIBS_MISS_RATE[preset]


_CONSERVATIVE_RATES: Mapping[str, float] = MappingProxyType(
    {
        el: max(table.get(el, 0.0) for table in LIBS_MISS_RATE.values())
        for el in sorted({el for table in LIBS_MISS_RATE.values() for el in table})
    }
)
#: Spread (natural-log units, Laplace scale) of the error of LIBS element ratios: the median
#: absolute error of ln(ratio of two detected elements) over the calibration spectra (0.55),
#: divided by ln 2.
RATIO_LOG_SCALE = 0.80
#: Measured chemistry: tolerated deviation of a unit's amount (mol per 100 g, as a share of
#: the formula's judged atoms) from the formula's, over the square root of its share.
AMOUNT_TOLERANCE = 0.2
#: ... and of its share of the measured judged atoms (two or more units measured).
PROPORTION_TOLERANCE = 0.15
#: Beyond the tolerance, the factor falls by e for every this much of deviation.
AMOUNT_SCALE = 0.05
#: The formula's own elements may hold down to 0.5 minus this of their unit (site).
DOMINANCE_MARGIN = 0.05
#: ... and below it the factor falls by e for every this much of share.
DOMINANCE_SCALE = 0.05
#: A measured element foreign to the formula is tolerated up to this share of the judged atoms.
FOREIGN_FRACTION = 0.05
#: ... and above it the factor falls by e for every this much of share.
FOREIGN_SCALE = 0.03
#: A measured analysis with a total of at least this (wt%) lists everything the sample holds.
COMPLETE_TOTAL = 90.0
#: A factor below this is reported as a contradiction.
CONTRADICTION_BELOW = 0.5
#: Scores below this flag a candidate as contradicted: the largest of 0.02, 0.05, 0.1, 0.2, 0.3,
#: 0.5 that flags fewer than 5 % of the right answers on the validation samples of
#: ``benchmarks/consistency.py`` with LIBS evidence (0.05; measured chemistry allows 0.5).
FLAG_BELOW = 0.05
#: Exponent of the scores in `rerank`: Bayes' rule. On the validation samples of the benchmark,
#: Raman top-1 was best at 1 (ties with 1.5) with LIBS evidence and at 0.75 (ties with 1) with
#: measured chemistry.
DEFAULT_STRENGTH = 1.0

#: never judged in measured chemistry (rarely analysed; computed by stoichiometry)
_UNJUDGED_CHEMISTRY = frozenset({"H", "C", "N", "O", "He", "Ne", "Ar", "Kr", "Xe"})
#: not inferred absent from a complete analysis: a microprobe does not measure them
_NOT_INFERRED_ABSENT = _UNJUDGED_CHEMISTRY | {"Li", "Be", "B"}
_WATER_KEYS = frozenset({"H2O", "H2O+", "H2O-", "H2O−", "H2OT", "H2O(T)", "LOI"})
_TOTAL_FE = re.compile(
    r"(?P<oxide>FeO|Fe2O3)\s*(?:T|t|tot|total|TOT|Total|\*|\(T\)|\(t\)|\(tot\)|_T|_t)|"
    r"[Σ∑](?P<sigma>FeO|Fe2O3)"
)
_OXIDE_KEY = re.compile(r"([A-Z][a-z]?)(\d*)O(\d*)")
_SITE_NOTE = re.compile(r"site \((?P<occupants>.+?)\) split equally")
_SYMBOL = re.compile(r"[A-Z][a-z]?")


# ---------------------------------------------------------------------- substitution classes
@dataclass(frozen=True)
class SubstitutionClass:
    """Ions that replace one another on one kind of site.

    Attributes
    ----------
    name : str
    members : frozenset of str
        Ions as ``"Fe2+"``, ``"Na+"``, ``"F-"``; ``"H+"`` stands for OH.
    basis : str
        Radii (Shannon 1976, Å, coordination in Roman numerals) and example series.
    """

    name: str
    members: frozenset[str]
    basis: str


def _ions(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: The substitution classes (see the module docstring for the rules and sources).
SUBSTITUTION_CLASSES: tuple[SubstitutionClass, ...] = (
    SubstitutionClass(
        "alkali",
        _ions("Na+ K+ Rb+ Cs+"),
        "VIII Na 1.18, K 1.51, Rb 1.61, Cs 1.74; alkali feldspar, jarosite-natrojarosite, "
        "alunite-natroalunite",
    ),
    SubstitutionClass(
        "octahedral divalent",
        _ions("Mg2+ Fe2+ Mn2+ Ni2+ Co2+ Zn2+"),
        "VI Mg 0.72, Fe2+ 0.78, Mn2+ 0.83, Ni 0.69, Co 0.745, Zn 0.74; olivine, garnet, "
        "pyroxene, carbonate series (Cu2+ 0.73 left out: its Jahn-Teller distorted sites, "
        "Burns 1993)",
    ),
    SubstitutionClass(
        "large divalent",
        _ions("Ca2+ Sr2+ Ba2+ Pb2+"),
        "VIII Ca 1.12, Sr 1.26, Ba 1.42, Pb2+ 1.29; aragonite-strontianite-witherite, "
        "celestine-baryte",
    ),
    SubstitutionClass(
        "octahedral trivalent",
        _ions("Al3+ Fe3+ Cr3+ V3+ Mn3+ Ga3+ Co3+"),
        "VI Al 0.535, Fe3+ 0.645, Cr 0.615, V3+ 0.64, Mn3+ 0.645, Ga 0.62; spinel, garnet, "
        "epidote, alunite-jarosite",
    ),
    SubstitutionClass(
        "rare earths",
        _ions(
            "Y3+ La3+ Ce3+ Pr3+ Nd3+ Sm3+ Eu3+ Gd3+ Tb3+ Dy3+ Ho3+ Er3+ Tm3+ Yb3+ Lu3+ Sc3+ Ce4+"
        ),
        "VIII Y 1.019, La 1.16 ... Lu 0.977; monazite, xenotime, bastnäsite",
    ),
    SubstitutionClass(
        "Zr-Hf", _ions("Zr4+ Hf4+"), "VIII Zr 0.84, Hf 0.83; zircon-hafnon (lanthanide contraction)"
    ),
    SubstitutionClass("Ti-Sn", _ions("Ti4+ Sn4+"), "VI Ti 0.605, Sn 0.69; rutile-cassiterite"),
    SubstitutionClass("Th-U", _ions("Th4+ U4+"), "VIII Th 1.05, U4+ 1.00; thorite-coffinite"),
    SubstitutionClass("Nb-Ta", _ions("Nb5+ Ta5+"), "VI Nb 0.64, Ta 0.64; columbite-tantalite"),
    SubstitutionClass("Mo-W", _ions("Mo6+ W6+"), "IV Mo 0.41, W 0.42; powellite-scheelite"),
    SubstitutionClass("tetrahedral", _ions("Si4+ Ge4+"), "IV Si 0.26, Ge 0.39; Ge in silicates"),
    SubstitutionClass(
        "XO4 pentavalent",
        _ions("P5+ As5+ V5+"),
        "IV P 0.17, As5+ 0.335, V5+ 0.355; pyromorphite-mimetite-vanadinite",
    ),
    SubstitutionClass(
        "XO4 hexavalent", _ions("S6+ Se6+ Cr6+"), "IV S6+ 0.12, Se6+ 0.28, Cr6+ 0.26; SO4-CrO4"
    ),
    SubstitutionClass(
        "pnictogen cations",
        _ions("As3+ Sb3+ Bi3+"),
        "VI As3+ 0.58, Sb3+ 0.76, Bi 1.03; tennantite-tetrahedrite, stibnite-bismuthinite",
    ),
    SubstitutionClass(
        "chalcogenide",
        _ions("S2- Se2- Te2- S- Se- Te-"),
        "VI S2- 1.84, Se2- 1.98; sulfide-selenide",
    ),
    SubstitutionClass(
        "monovalent coinage", _ions("Cu+ Ag+"), "tetrahedrite-freibergite (Cu+, Ag+ in sulfosalts)"
    ),
    SubstitutionClass(
        "halide, hydroxyl",
        _ions("F- Cl- Br- I- H+"),
        "F 1.33, OH 1.37, Cl 1.81; apatite, amphibole, mica (H+ stands for OH)",
    ),
)


def _ion(element: str, valence: float) -> str:
    v = round(valence)
    if v == 0:
        return f"{element}0"
    mag = abs(v)
    return f"{element}{mag if mag > 1 else ''}{'+' if v > 0 else '-'}"


_CLASS_OF_ION: dict[str, int] = {
    ion: k for k, cls in enumerate(SUBSTITUTION_CLASSES) for ion in cls.members
}
_CLASSES_OF_ELEMENT: dict[str, frozenset[int]] = {}
for _k, _cls in enumerate(SUBSTITUTION_CLASSES):
    for _member in _cls.members:
        _el = _SYMBOL.match(_member).group(0)  # type: ignore[union-attr]
        _CLASSES_OF_ELEMENT[_el] = _CLASSES_OF_ELEMENT.get(_el, frozenset()) | {_k}


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Consistency:
    """How well a candidate's formula agrees with the chemistry evidence.

    Attributes
    ----------
    score : float
        1 = fully consistent, 0 = contradicted (the product of the rules' factors).
    contradictions : tuple of str
        Human-readable conflicts, strongest first.
    """

    score: float
    contradictions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``{"score": float rounded to 3 decimals, "contradictions": [...]}``."""
        return {"score": round(float(self.score), 3), "contradictions": list(self.contradictions)}


# ------------------------------------------------------------------------------- evidence
@functools.cache
def _atomic_weight(symbol: str) -> float:
    from periodictable import elements

    return float(elements.symbol(symbol).mass)


def _element(symbol: object, what: str) -> str:
    from periodictable import elements

    text = str(symbol).strip()
    try:
        el = elements.symbol(text)
    except ValueError:
        el = None
    if el is None or el.number == 0:
        raise InputError(
            f"{what}: {symbol!r} is not an element symbol; use symbols such as 'Fe', 'Si', 'Mg'"
        )
    return str(el.symbol)


def _chemistry_item(key: object, value: object) -> tuple[str | None, float, float]:
    """(element or None, element wt%, wt% counted in the total) of one analysis entry."""
    name = str(key).strip()
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"chemistry {key!r}: expected a number of wt%, got {value!r}") from None
    if not (math.isfinite(number) and 0 <= number <= 100):
        raise InputError(f"chemistry {key!r}: {value!r} wt% is outside 0-100; give weight percents")
    if name in _WATER_KEYS or name.startswith("O="):
        return None, 0.0, number if name in _WATER_KEYS else 0.0
    m = _TOTAL_FE.fullmatch(name)
    if m:
        name = m.group("oxide") or m.group("sigma")
    if _SYMBOL.fullmatch(name):
        return _element(name, f"chemistry {key!r}"), number, number
    m = _OXIDE_KEY.fullmatch(name)
    if not m or m.group(1) == "O":
        raise InputError(
            f"chemistry {key!r}: expected an element symbol ('Fe') or an oxide ('FeO', "
            "'Fe2O3', 'FeOT', 'SiO2', 'H2O'); rename the entry"
        )
    el = _element(m.group(1), f"chemistry {key!r}")
    a, b = int(m.group(2) or 1), int(m.group(3) or 1)
    cation = a * _atomic_weight(el)
    return el, number * cation / (cation + b * _atomic_weight("O")), number


@dataclass(frozen=True, eq=False)
class ChemistryEvidence:
    """What is known about a sample's chemistry; build it once per sample.

    Use the constructors: `from_detection` (a LIBS `ElementDetection`), `from_elements`
    (element symbols, with or without confidences), `from_chemistry` (wt% by element or
    oxide) or `from_context` (a measurement's `Context`).

    Attributes
    ----------
    seen : mapping of str to float
        Elements seen by LIBS (or listed by the user) -> confidence; elements not in it count
        as not seen. Empty when there is no element evidence.
    ratios : mapping of str to float
        LIBS atom fractions among the detected non-ambient elements (may be empty).
    ambient : frozenset of str
        Seen elements flagged ambient (never judged).
    chemistry : mapping of str to float or None
        Measured element wt% of the whole sample (oxides converted), or None.
    complete : bool
        The measured analysis is complete (total >= `COMPLETE_TOTAL`): elements it does not
        list are absent.
    has_elements : bool
        Whether there is element (LIBS-like) evidence at all.
    miss_rate : mapping of str to float
        LIBS miss rate per element for the instrument (`miss_rates`).
    """

    seen: Mapping[str, float] = field(default_factory=dict)
    ratios: Mapping[str, float] = field(default_factory=dict)
    ambient: frozenset[str] = frozenset()
    chemistry: Mapping[str, float] | None = None
    complete: bool = False
    has_elements: bool = False
    miss_rate: Mapping[str, float] = field(default_factory=lambda: _CONSERVATIVE_RATES)

    # -- constructors
    @classmethod
    def from_detection(cls, detection: Any, *, preset: str | None = None) -> ChemistryEvidence:
        """Evidence from `lithoscope.physics.libs.detect_elements`.

        Parameters
        ----------
        detection : ElementDetection
            Its ``elements`` (the detected ones) give ``seen``, ``ratio`` and ``ambient``.
        preset : str, optional
            The instrument preset, for its miss rates (`miss_rates`); default: not known.

        Returns
        -------
        ChemistryEvidence

        Raises
        ------
        InputError
            ``detection`` is not an `ElementDetection`.
        """
        elements = getattr(detection, "elements", None)
        if elements is None or isinstance(detection, (str, bytes, Mapping)):
            raise InputError(
                f"detection: expected the ElementDetection of physics.libs.detect_elements, got "
                f"{type(detection).__name__}; use ChemistryEvidence.from_elements for symbols"
            )
        seen: dict[str, float] = {}
        ratios: dict[str, float] = {}
        ambient: set[str] = set()
        for e in elements:
            symbol = _element(e.element, "detection")
            seen[symbol] = float(e.confidence)
            if e.ratio is not None:
                ratios[symbol] = float(e.ratio)
            if e.ambient:
                ambient.add(symbol)
        return cls(
            seen=MappingProxyType(seen),
            ratios=MappingProxyType(ratios),
            ambient=frozenset(ambient),
            has_elements=True,
            miss_rate=miss_rates(preset),
        )

    @classmethod
    def from_elements(
        cls, elements: Mapping[str, float] | Iterable[str], *, preset: str | None = None
    ) -> ChemistryEvidence:
        """Evidence from element symbols seen (confidence 1) or ``{symbol: confidence}``.

        Elements with a confidence below `DETECTED` count as not seen; elements not listed are
        not seen.

        Parameters
        ----------
        elements : mapping of str to float, or iterable of str
        preset : str, optional
            The LIBS instrument preset, for its miss rates (`miss_rates`); default: not known.

        Returns
        -------
        ChemistryEvidence

        Raises
        ------
        InputError
            An unknown symbol, a confidence outside 0-1, or a single string instead of a list.

        Examples
        --------
        >>> dict(ChemistryEvidence.from_elements(["Fe", "Si"]).seen)
        {'Fe': 1.0, 'Si': 1.0}
        """
        if isinstance(elements, (str, bytes)):
            raise InputError(
                f"elements {elements!r}: expected a list of symbols such as ['Fe', 'Si'] or a "
                "mapping {'Fe': 0.98}, got a single string"
            )
        if isinstance(elements, Mapping):
            items = list(elements.items())
        else:
            try:
                items = [(e, 1.0) for e in elements]
            except TypeError:
                raise InputError(
                    f"elements: expected a list of symbols or a mapping symbol -> confidence, "
                    f"got {type(elements).__name__}"
                ) from None
        from lithoscope.physics._libs_detect import AMBIENT_ELEMENTS

        seen: dict[str, float] = {}
        for key, value in items:
            symbol = _element(key, "elements")
            try:
                conf = float(value)
            except (TypeError, ValueError):
                conf = math.nan
            if isinstance(value, bool) or not 0 <= conf <= 1:
                raise InputError(f"elements {key!r}: confidence {value!r} is not a number in 0-1")
            seen[symbol] = max(conf, seen.get(symbol, 0.0))
        return cls(
            seen=MappingProxyType(seen),
            ambient=frozenset(seen) & AMBIENT_ELEMENTS,
            has_elements=True,
            miss_rate=miss_rates(preset),
        )

    @classmethod
    def from_chemistry(cls, chemistry: Mapping[str, float]) -> ChemistryEvidence:
        """Evidence from a measured composition in wt%, by element or oxide.

        Parameters
        ----------
        chemistry : mapping of str to float
            ``{"MgO": 49.4, "FeO": 9.8, "SiO2": 40.9}``, ``{"Fe": 12.1}``; total iron as
            ``FeOT`` (``FeO*``, ``Fe2O3T`` ...); ``H2O``, ``H2O+``, ``LOI`` count in the total
            only. An element given twice (FeO and Fe2O3) is summed.

        Returns
        -------
        ChemistryEvidence

        Raises
        ------
        InputError
            Not a mapping, empty, all zero, a value outside 0-100, or an entry that is neither
            an element nor an oxide.

        Examples
        --------
        >>> ev = ChemistryEvidence.from_chemistry({"MgO": 49.4, "FeO": 9.8, "SiO2": 40.9})
        >>> {k: round(v, 1) for k, v in ev.chemistry.items()}, ev.complete
        ({'Mg': 29.8, 'Fe': 7.6, 'Si': 19.1}, True)
        """
        if not isinstance(chemistry, Mapping):
            raise InputError(
                f"chemistry: expected a mapping of wt% such as {{'FeO': 15.6, 'SiO2': 40.1}}, "
                f"got {type(chemistry).__name__}"
            )
        if not chemistry:
            raise InputError(
                "chemistry is empty; give wt% by element or oxide such as {'FeO': 15.6}"
            )
        wt: dict[str, float] = {}
        total = 0.0
        for key, value in chemistry.items():
            el, amount, counted = _chemistry_item(key, value)
            total += counted
            if el is not None:
                wt[el] = wt.get(el, 0.0) + amount
        if not any(v > 0 for v in wt.values()):
            raise InputError("chemistry: no element has a wt% above 0; give the measured amounts")
        return cls(chemistry=MappingProxyType(wt), complete=total >= COMPLETE_TOTAL)

    @classmethod
    def from_context(cls, context: Any) -> ChemistryEvidence | None:
        """Evidence from a measurement's context: its ``chemistry`` and/or ``elements``.

        Parameters
        ----------
        context : lithoscope.spectra.measurement.Context

        Returns
        -------
        ChemistryEvidence or None
            None when the context holds neither.

        Raises
        ------
        InputError
            Not a Context, or its chemistry or elements are not valid.
        """
        from lithoscope.spectra.measurement import Context

        if not isinstance(context, Context):
            raise InputError(
                f"context: expected a lithoscope.spectra.measurement.Context, got "
                f"{type(context).__name__}"
            )
        chem = cls.from_chemistry(context.chemistry) if context.chemistry else None
        elem = cls.from_elements(context.elements) if context.elements else None
        if chem is None:
            return elem
        if elem is None:
            return chem
        return cls(
            seen=elem.seen,
            ambient=elem.ambient,
            chemistry=chem.chemistry,
            complete=chem.complete,
            has_elements=True,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        out: dict[str, Any] = {}
        if self.has_elements:
            out["elements"] = {k: round(v, 4) for k, v in self.seen.items()}
            if self.ratios:
                out["ratios"] = {k: round(v, 4) for k, v in self.ratios.items()}
        if self.chemistry is not None:
            out["chemistry_wt_percent"] = {k: round(v, 4) for k, v in self.chemistry.items()}
            out["complete"] = self.complete
        return out


# ----------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class _Candidate:
    """A parsed formula, ready for the rules.

    Atoms are grouped by substitution class (`SUBSTITUTION_CLASSES`; an element in none is its
    own class), and the classes of the elements of one written site group (``(Ca,Na)``,
    ``(Al,Mg,Fe)``) are merged into one *unit*: its share among them is the formula's
    representative choice, not a requirement.
    """

    formula: Formula
    wt: dict[str, float]  # element wt%
    unit_of: dict[str, tuple[tuple[int, float], ...]]  # element -> ((unit, share of atoms), ...)
    unit_elements: dict[int, tuple[str, ...]]  # unit -> the formula's elements in it
    unit_moles: dict[int, float]  # unit -> mol per 100 g of its judged elements
    open_units: frozenset[int]  # units holding H, C, N or O: amounts not judged
    host_units: dict[str, tuple[int, ...]]  # element not in the formula -> units it can enter
    alternatives: dict[str, frozenset[str]]  # element -> its site-group partners
    allowed: frozenset[str]  # every element written in the formula


@functools.lru_cache(maxsize=4096)
def _candidate(text: str) -> _Candidate:
    formula = parse_formula(text)
    wt = formula.element_wt_percent()
    mass = formula.molar_mass
    per_el: dict[str, dict[int | str, float]] = {}
    for el, valence, amount in formula.species:
        key: int | str = _CLASS_OF_ION.get(_ion(el, valence), el)
        per_el.setdefault(el, {})
        per_el[el][key] = per_el[el].get(key, 0.0) + amount
    alternatives: dict[str, set[str]] = {}
    groups = []
    for note in formula.notes:
        m = _SITE_NOTE.match(note)
        if m:
            group = set(_SYMBOL.findall(m.group("occupants"))) & set(per_el)
            groups.append(group)
            for el in group:
                alternatives.setdefault(el, set()).update(group - {el})
    # union-find over class keys: a site group merges the classes of its occupants
    keys = sorted({k for parts in per_el.values() for k in parts}, key=str)
    parent = {k: k for k in keys}

    def find(k: int | str) -> int | str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for group in groups:
        ks = [k for el in sorted(group) for k in per_el[el]]
        for other in ks[1:]:
            parent[find(other)] = find(ks[0])
    roots = sorted({find(k) for k in keys}, key=str)
    number = {r: i for i, r in enumerate(roots)}
    unit = {k: number[find(k)] for k in keys}
    unit_of: dict[str, tuple[tuple[int, float], ...]] = {}
    unit_elements: dict[int, list[str]] = {}
    unit_moles: dict[int, float] = {}
    open_units: set[int] = set()
    for el, parts in per_el.items():
        total = sum(parts.values())
        shares: dict[int, float] = {}
        for k, a in parts.items():
            u = unit[k]
            shares[u] = shares.get(u, 0.0) + a / total
            if el not in unit_elements.setdefault(u, []):
                unit_elements[u].append(el)
            if el in _UNJUDGED_CHEMISTRY:
                open_units.add(u)
            else:
                unit_moles[u] = unit_moles.get(u, 0.0) + 100.0 * a / mass
        unit_of[el] = tuple(shares.items())
    host_units = {}
    for el, class_ids in _CLASSES_OF_ELEMENT.items():
        if el not in per_el:
            hosts = sorted({unit[k] for k in class_ids if k in unit})
            if hosts:
                host_units[el] = tuple(hosts)
    return _Candidate(
        formula,
        wt,
        unit_of,
        {u: tuple(els) for u, els in unit_elements.items()},
        unit_moles,
        frozenset(open_units),
        host_units,
        {k: frozenset(v) for k, v in alternatives.items()},
        frozenset(formula.written_elements) | frozenset(formula.amounts),
    )


def _check_formula(formula: object) -> str:
    if not isinstance(formula, str) or not formula.strip():
        raise InputError(
            f"formula {formula!r}: expected a mineral formula such as 'Mg2SiO4'; pass None to "
            "consistency_batch for a candidate without one"
        )
    return formula


def _pct(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


# ---------------------------------------------------------------------------------- rules
def _libs_rules(cand: _Candidate, ev: ChemistryEvidence, name: str) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    seen = {el for el, c in ev.seen.items() if c >= DETECTED and el not in ev.ambient}
    # missing major elements: together they count as much as the most telling one, since
    # misses come together (a spectrum dominated by one element hides the others); a spectrum
    # showing no element LIBS can judge says nothing
    missing = []
    if seen - LIBS_BLIND.keys():
        for el, wt in cand.wt.items():
            if el in LIBS_BLIND or wt < MAJOR_WT_PERCENT or el in seen:
                continue
            if cand.alternatives.get(el, frozenset()) & seen:
                continue
            missing.append((ev.miss_rate.get(el, DEFAULT_MISS_RATE), el, wt))
    if missing:
        missing.sort()
        told = [(el, wt) for rate, el, wt in missing if rate < CONTRADICTION_BELOW] or [
            missing[0][1:]
        ]
        out.append(
            (
                missing[0][0],
                f"LIBS sees no {', '.join(el for el, _ in told)} ({name} is "
                f"{', '.join(f'{_pct(wt)} wt% {el}' for el, wt in told)})",
            )
        )
    # extra elements, and substituents by unit
    substituents: dict[int, list[str]] = {}
    for el in sorted(seen - cand.allowed):
        if el in LIBS_BLIND:
            continue
        ratio = ev.ratios.get(el)
        if el in COMMON_CONTAMINANTS and (ratio is None or ratio < CONTAMINANT_MAX_RATIO):
            continue
        hosts = cand.host_units.get(el)
        if hosts:
            # the most lenient host: the unit whose own elements LIBS sees most of
            best = max(
                hosts, key=lambda u: sum(ev.ratios.get(e, 0.0) for e in cand.unit_elements[u])
            )
            substituents.setdefault(best, []).append(el)
            continue
        conf = ev.seen[el]
        # a minor constituent (an impurity of a natural sample) is no contradiction: the
        # probability that one at MINOR_RATIO shows a ratio this high, under the ratios' error
        minor = 0.0
        if ratio is not None:
            minor = math.exp(-max(0.0, math.log(max(ratio, 1e-12) / MINOR_RATIO)) / RATIO_LOG_SCALE)
        factor = max(1.0 - conf, EXTRA_FLOOR, minor)
        where = f" ({100 * ratio:.0f} % of the atoms)" if ratio is not None else ""
        out.append((factor, f"LIBS sees {el} at confidence {conf:.2f}{where}; {name} has none"))
    # dominance of the formula's own elements over their substituents (LIBS ratios)
    for u, subs in substituents.items():
        own_elements = [e for e in cand.unit_elements[u] if e not in LIBS_BLIND]
        own = sum(ev.ratios.get(e, 0.0) for e in own_elements)
        sub = sum(ev.ratios.get(e, 0.0) for e in subs)
        if own <= 0 or sub <= own:
            continue
        # no surer than the substituent's own detection
        factor = max(
            math.exp(math.log(own / sub) / RATIO_LOG_SCALE), 1.0 - min(ev.seen[e] for e in subs)
        )
        mine = "+".join(own_elements)
        out.append(
            (
                factor,
                f"LIBS sees {'+'.join(subs)} {sub / own:.2g} times {mine}; {name} needs {mine} "
                "to dominate that site",
            )
        )
    return out


def _amount_factor(deviation: float, tolerance: float) -> float:
    excess = abs(deviation) - tolerance
    return math.exp(-excess / AMOUNT_SCALE) if excess > 0 else 1.0


def _chemistry_rules(cand: _Candidate, ev: ChemistryEvidence, name: str) -> list[tuple[float, str]]:
    assert ev.chemistry is not None
    out: list[tuple[float, str]] = []
    measured = {el: wt for el, wt in ev.chemistry.items() if el not in _UNJUDGED_CHEMISTRY}
    moles = {el: wt / _atomic_weight(el) for el, wt in measured.items()}
    judged_total = sum(moles.values())
    # measured moles per unit of the formula; foreign elements
    in_unit: dict[int, dict[str, float]] = {u: {} for u in cand.unit_elements}
    for el, n in moles.items():
        if el in cand.unit_of:
            for u, share in cand.unit_of[el]:
                in_unit[u][el] = in_unit[u].get(el, 0.0) + n * share
            continue
        hosts = cand.host_units.get(el)
        if hosts:
            weight = sum(cand.unit_moles.get(u, 0.0) for u in hosts)
            for u in hosts:
                share = cand.unit_moles.get(u, 0.0) / weight if weight > 0 else 1 / len(hosts)
                in_unit[u][el] = in_unit[u].get(el, 0.0) + n * share
            continue
        fraction = n / judged_total if judged_total > 0 else 0.0
        if fraction > FOREIGN_FRACTION:
            factor = math.exp(-(fraction - FOREIGN_FRACTION) / FOREIGN_SCALE)
            out.append((factor, f"measured {el} {_pct(measured[el])} wt%; {name} has none"))
    # which units were measured: a listed element in them, or a complete analysis; units
    # holding H, C, N or O are not judged (the unmeasured part may fill them)
    judged = []
    for u, elements in cand.unit_elements.items():
        own = [e for e in elements if e not in _UNJUDGED_CHEMISTRY]
        if u in cand.open_units or not own:
            continue
        if in_unit[u] or (ev.complete and not set(own) <= _NOT_INFERRED_ABSENT):
            judged.append(u)
    need = {u: cand.unit_moles.get(u, 0.0) for u in judged}
    have = {u: sum(in_unit[u].values()) for u in judged}
    # deviations are differences of shares over the square root of the formula's share (the
    # spread of natural compositions grows like that: a unit of 10 % of the atoms varies by
    # about half as much as one of 40 %); `need_total` makes shares of the formula's amounts
    need_total = sum(need.values())
    # proportions between units, free of unmeasured water and of the molar-mass change that
    # substitution brings; only with two or more units measured
    have_total = None
    if sum(1 for u in judged if need[u] > 0 and have[u] > 0) >= 2:
        have_total = sum(have.values())
    for u in judged:
        own = list(cand.unit_elements[u])
        parts = in_unit[u]
        need_wt = sum(cand.wt[e] for e in own)
        have_wt = {e: measured.get(e, 0.0) for e in parts}
        own_txt = ", ".join(f"{e} {_pct(cand.wt[e])} wt%" for e in own)
        subs = [e for e in parts if e not in own]
        got = ", ".join(f"{e} {_pct(have_wt[e])} wt%" for e in parts)
        if need[u] > 0 and max(need_wt, sum(have_wt.values())) >= 1.0:
            if have[u] <= 0:
                if need_wt >= 2.0 or set(own) & set(measured):
                    out.append(
                        (
                            EXTRA_FLOOR,
                            f"measured chemistry has no {'+'.join(own)} ({name} is {own_txt})",
                        )
                    )
                continue
            share = need[u] / need_total
            root = math.sqrt(share)
            absolute = _amount_factor((have[u] - need[u]) / need_total / root, AMOUNT_TOLERANCE)
            relative = 1.0
            if have_total is not None:
                measured_share = have[u] / have_total
                relative = _amount_factor((measured_share - share) / root, PROPORTION_TOLERANCE)
            where = f" with {', '.join(subs)} on its site" if subs else ""
            if absolute < 1.0 and absolute <= relative:
                out.append((absolute, f"measured {got}{where}, {name} needs {own_txt}"))
            elif relative < 1.0:
                out.append(
                    (
                        relative,
                        f"measured {got}{where} is {100 * measured_share:.0f} % of the judged "
                        f"atoms, {name} has {100 * share:.0f} % ({own_txt})",
                    )
                )
        if subs and have[u] > 0:
            share = sum(parts.get(e, 0.0) for e in own) / have[u]
            floor = 0.5 - DOMINANCE_MARGIN
            if share < floor:
                factor = math.exp(-(floor - share) / DOMINANCE_SCALE)
                mine = "+".join(own)
                out.append(
                    (
                        factor,
                        f"measured {mine} is {100 * share:.0f} % of its site ({got}); "
                        f"{name} needs {mine} to dominate",
                    )
                )
    return out


# ----------------------------------------------------------------------------- public API
def check_consistency(
    formula: str, evidence: ChemistryEvidence, *, name: str | None = None
) -> Consistency:
    """Score a candidate's formula against a sample's chemistry evidence.

    The rules, their constants and sources are in the module docstring.

    Parameters
    ----------
    formula : str
        The candidate's formula (MinDB's, e.g. ``"Mg2SiO4"`` or ``"(Mg,Fe)2SiO4"``).
    evidence : ChemistryEvidence
    name : str, optional
        The candidate's name for the messages (default: the formula).

    Returns
    -------
    Consistency
        ``score`` in [0, 1] and ``contradictions`` (strongest first).

    Raises
    ------
    InputError
        ``evidence`` is not a `ChemistryEvidence`, ``formula`` is not a string;
        `FormulaError` for a formula that cannot be read.

    Examples
    --------
    >>> ev = ChemistryEvidence.from_elements({"Mg": 1.0, "Si": 1.0, "Cu": 0.98})
    >>> c = check_consistency("Mg2SiO4", ev, name="forsterite")
    >>> c.to_dict()
    {'score': 0.02, 'contradictions': ['LIBS sees Cu at confidence 0.98; forsterite has none']}
    """
    if not isinstance(evidence, ChemistryEvidence):
        raise InputError(
            f"evidence: expected a ChemistryEvidence, got {type(evidence).__name__}; build it "
            "with ChemistryEvidence.from_detection, from_elements or from_chemistry"
        )
    text = _check_formula(formula)
    cand = _candidate(text)
    label = name or text
    factors: list[tuple[float, str]] = []
    if evidence.has_elements:
        factors += _libs_rules(cand, evidence, label)
    if evidence.chemistry is not None:
        factors += _chemistry_rules(cand, evidence, label)
    score = math.prod(f for f, _ in factors) if factors else 1.0
    score = min(1.0, max(0.0, score))
    reported = sorted((f, msg) for f, msg in factors if f < CONTRADICTION_BELOW)
    return Consistency(score, tuple(msg for _, msg in reported))


def consistency_batch(
    formulas: Sequence[str | None],
    evidence: ChemistryEvidence,
    *,
    names: Sequence[str | None] | None = None,
) -> list[Consistency | None]:
    """`check_consistency` for many candidates of one sample (parsed formulas are cached).

    Parameters
    ----------
    formulas : sequence of str or None
        One formula per candidate; None for a candidate without one.
    evidence : ChemistryEvidence
    names : sequence of str or None, optional
        Names for the messages, one per formula.

    Returns
    -------
    list of Consistency or None
        None where the formula is None.

    Raises
    ------
    InputError
        As `check_consistency`; ``names`` of another length than ``formulas``.
    """
    if isinstance(formulas, (str, bytes)):
        raise InputError(
            f"formulas {formulas!r}: expected a list of formulas, got a single string; use "
            "check_consistency for one"
        )
    formulas = list(formulas)
    labels = [None] * len(formulas) if names is None else list(names)
    if len(labels) != len(formulas):
        raise InputError(
            f"names: {len(labels)} names for {len(formulas)} formulas; give one name per formula"
        )
    return [
        None if f is None else check_consistency(f, evidence, name=n)
        for f, n in zip(formulas, labels, strict=True)
    ]


#: scores are clipped to this before `rerank`, so that evidence contradicting every candidate
#: leaves their order as it was instead of dividing by zero
_SCORE_FLOOR = 1e-6


def rerank(
    proba: npt.ArrayLike,
    scores: Sequence[float | None] | npt.ArrayLike,
    *,
    strength: float = DEFAULT_STRENGTH,
) -> np.ndarray:
    """Re-weight probabilities by consistency scores: ``p * score**strength``, renormalised.

    A score is a likelihood ratio (see the module docstring), so ``strength=1`` is Bayes'
    rule under independent rules; a smaller strength trusts the chemistry less. Scores are
    clipped to at least 1e-6, so candidates all contradicted keep their relative order.

    Parameters
    ----------
    proba : array_like, shape (n_classes,) or (n_samples, n_classes)
        Probabilities (rows sum to 1, or any non-negative weights).
    scores : array_like, same shape as ``proba`` (or (n_classes,) for every row)
        Consistency scores in [0, 1]; None (or NaN) means "not judged" (a candidate without a
        formula) and leaves that probability as it is.
    strength : float, default=DEFAULT_STRENGTH
        Exponent of the scores, >= 0 (0: no effect).

    Returns
    -------
    numpy.ndarray
        Same shape as ``proba``; rows sum to 1.

    Raises
    ------
    InputError
        Shapes that do not match, negative probabilities, scores outside [0, 1], a row of
        zeros, or a negative ``strength``.

    Examples
    --------
    >>> rerank([0.6, 0.4], [0.01, 1.0]).round(3)
    array([0.015, 0.985])
    """
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"proba: expected an array of probabilities, got {proba!r}") from None
    if p.ndim not in (1, 2) or p.shape[-1] == 0:
        raise InputError(
            f"proba: expected shape (n_classes,) or (n_samples, n_classes), got {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise InputError("proba: expected finite probabilities >= 0; check the model's output")
    try:
        s = np.asarray(
            [np.nan if v is None else v for v in np.asarray(scores, dtype=object).ravel()],
            dtype=np.float64,
        ).reshape(np.shape(scores))
    except (TypeError, ValueError):
        raise InputError(f"scores: expected numbers in [0, 1] or None, got {scores!r}") from None
    if s.shape != p.shape and s.shape != p.shape[-1:]:
        raise InputError(
            f"scores: shape {s.shape} does not match proba {p.shape}; give one score per "
            "probability (or one per class for every row)"
        )
    if np.any((s < 0) | (s > 1)):
        raise InputError("scores: expected consistency scores in [0, 1]")
    try:
        k = float(strength)
    except (TypeError, ValueError):
        k = math.nan
    if not (math.isfinite(k) and k >= 0):
        raise InputError(f"strength {strength!r}: expected a number >= 0 (0 = no effect)")
    weight = np.where(np.isnan(s), 1.0, np.clip(s, _SCORE_FLOOR, 1.0)) ** k
    out = p * weight
    total = out.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise InputError("proba: a row sums to 0; give probabilities with some mass")
    return out / total
