"""Element data used by the chemistry engine: symbols, atomic weights and valence tables.

Atomic weights are the standard atomic weights of ``periodictable`` (IUPAC values; for elements
with an interval the conventional value). Only elements H to Pu (Z = 1-94) are accepted as
symbols: heavier elements do not occur in minerals, and excluding them avoids reading e.g.
``Cn`` (copernicium) where a formula means ``C`` followed by the variable ``n``.

The valence tables drive `lithoscope.mindb.chemistry._valence`: ``OXIDATION_STATES`` lists the
states a symbol may carry in a mineral formula (used to tell ``Fe3+x`` = Fe(3+) times x from
``Be2+x`` = Be times 2+x); the ``*_LADDER`` tables give the states the inference may move an
element through to balance charge, and the start state.
"""

from __future__ import annotations

import periodictable

MAX_Z = 94

#: element symbol -> standard atomic weight (g/mol), Z = 1..94
ATOMIC_WEIGHTS: dict[str, float] = {
    el.symbol: float(el.mass) for el in periodictable.elements if 1 <= el.number <= MAX_Z
}
#: element symbol -> atomic number
ATOMIC_NUMBERS: dict[str, int] = {
    el.symbol: int(el.number) for el in periodictable.elements if 1 <= el.number <= MAX_Z
}
SYMBOLS = frozenset(ATOMIC_WEIGHTS)

#: placeholder symbols in IMA/RRUFF formulas and the element that represents them
PLACEHOLDERS: dict[str, str] = {"REE": "Ce", "Ln": "Ce"}

#: variables that may appear in counts, with their defaults (x, y, z: 0; n, m: 1)
VARIABLE_DEFAULTS: dict[str, float] = {"x": 0.0, "y": 0.0, "z": 0.0, "n": 1.0, "m": 1.0}

HALOGENS = frozenset({"F", "Cl", "Br", "I"})
CHALCOGENS = frozenset({"S", "Se", "Te"})
PNICTOGENS = frozenset({"As", "Sb"})
NOBLE_GASES = frozenset({"He", "Ne", "Ar", "Kr", "Xe", "Rn"})
#: non-metals and metalloids; every other symbol is a metal
NON_METALS = frozenset(
    {"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Ge", "As", "Se", "Br", "Sb", "Te", "I"}
    | NOBLE_GASES
)
METALS = SYMBOLS - NON_METALS
REE = frozenset("La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu".split())

# Oxidation states seen in minerals (Greenwood & Earnshaw 1997, Chemistry of the Elements, and
# the valences written in the RRUFF/IMA formula list). Only used to decide whether "El d+" can
# be a valence; the inference itself uses the ladders below.
_STATES = """
H -1 1; Li 1; Be 2; B 3; C -4 -3 -2 -1 1 2 3 4; N -3 3 5; O -2 -1; F -1
Na 1; Mg 2; Al 3; Si -4 4; P -3 3 5; S -2 -1 2 4 6; Cl -1 1 5 7
K 1; Ca 2; Sc 3; Ti 2 3 4; V 2 3 4 5; Cr 2 3 6; Mn 2 3 4 6 7; Fe 2 3; Co 2 3; Ni 2 3 4
Cu 1 2 3; Zn 2; Ga 3; Ge 2 4; As -3 -2 -1 2 3 5; Se -2 -1 4 6; Br -1 5
Rb 1; Sr 2; Y 3; Zr 4; Nb 3 4 5; Mo 3 4 5 6; Tc 4 7; Ru 2 3 4; Rh 1 3 4; Pd 2 4; Ag 1 2
Cd 2; In 1 3; Sn 2 4; Sb -3 -1 3 5; Te -2 -1 2 4 6; I -1 5 7
Cs 1; Ba 2; La 3; Ce 3 4; Pr 3 4; Nd 3; Pm 3; Sm 2 3; Eu 2 3; Gd 3; Tb 3 4; Dy 3; Ho 3; Er 3
Tm 3; Yb 2 3; Lu 3; Hf 4; Ta 3 4 5; W 4 5 6; Re 4 6 7; Os 2 3 4 6 8; Ir 3 4; Pt 2 3 4
Au 1 3; Hg 1 2; Tl 1 3; Pb 2 4; Bi 3 5; Po 2 4; At -1; Fr 1; Ra 2; Ac 3; Th 3 4; Pa 5
U 3 4 5 6; Np 4 5 6; Pu 3 4 6
He 0; Ne 0; Ar 0; Kr 0; Xe 0; Rn 0
"""
OXIDATION_STATES: dict[str, frozenset[float]] = {}
for _entry in _STATES.replace("\n", ";").split(";"):
    if _entry.strip():
        _sym, *_vals = _entry.split()
        OXIDATION_STATES[_sym] = frozenset(float(v) for v in _vals)
del _entry, _sym, _vals


def plausible_valence(symbol: str, valence: float) -> bool:
    """Whether ``symbol`` is known to take ``valence`` in minerals (see ``OXIDATION_STATES``)."""
    return float(valence) in OXIDATION_STATES.get(symbol, frozenset())


# Cation ladders: (start, allowed states in increasing order). The inference starts every
# element at `start` and moves it along the ladder, as little as needed, to balance charge.
# "low" start for the multi-valence transition metals (Fe2+, Mn2+, Co2+, Ni2+, Cr3+ ...).
CATION_LADDER: dict[str, tuple[float, tuple[float, ...]]] = {
    "H": (1, (1,)),
    "Li": (1, (1,)), "Na": (1, (1,)), "K": (1, (1,)), "Rb": (1, (1,)), "Cs": (1, (1,)),
    "Fr": (1, (1,)),
    "Be": (2, (2,)), "Mg": (2, (2,)), "Ca": (2, (2,)), "Sr": (2, (2,)), "Ba": (2, (2,)),
    "Ra": (2, (2,)), "Zn": (2, (2,)), "Cd": (2, (2,)),
    "B": (3, (3,)), "Al": (3, (3,)), "Ga": (3, (3,)), "In": (3, (3,)), "Sc": (3, (3,)),
    "Y": (3, (3,)),
    "Si": (4, (4,)), "Zr": (4, (4,)), "Hf": (4, (4,)), "Th": (4, (4,)),
    "Fe": (2, (2, 3)), "Mn": (2, (2, 3, 4)), "Co": (2, (2, 3)), "Ni": (2, (2, 3)),
    "Cr": (3, (2, 3, 6)), "V": (3, (3, 4, 5)), "Ti": (4, (2, 3, 4)),
    "Ce": (3, (3, 4)), "Pr": (3, (3, 4)), "Tb": (3, (3, 4)),
    "Eu": (3, (2, 3)), "Sm": (3, (2, 3)), "Yb": (3, (2, 3)),
    "U": (4, (4, 5, 6)), "Np": (4, (4, 5, 6)), "Pu": (4, (3, 4, 6)), "Pa": (5, (5,)),
    "Ac": (3, (3,)),
    "Sn": (4, (2, 4)), "Ge": (4, (2, 4)), "Pb": (2, (2, 4)), "Tl": (1, (1, 3)),
    "Hg": (2, (1, 2)), "Au": (1, (1, 3)), "Ag": (1, (1,)), "Cu": (2, (1, 2)),
    "Pt": (2, (2, 4)), "Pd": (2, (2, 4)), "Ir": (3, (3, 4)), "Rh": (3, (3,)),
    "Ru": (2, (2, 3, 4)), "Os": (2, (2, 3, 4)),
    "Mo": (4, (4, 5, 6)), "W": (4, (4, 5, 6)), "Re": (4, (4, 6, 7)), "Tc": (4, (4, 7)),
    "Nb": (5, (3, 4, 5)), "Ta": (5, (4, 5)),
    "Bi": (3, (3, 5)), "Sb": (3, (3, 5)), "As": (3, (3, 5)), "Po": (2, (2, 4)),
}  # fmt: skip

#: ladders for an element written directly before O (an oxyanion former: SO4, CO3, NO3, PO4,
#: AsO4, VO4, UO2 ...): start at the usual high state, may go down (sulfite, oxalate, nitrite,
#: arsenite, V2O3, UO2 ...)
OXO_LADDER: dict[str, tuple[float, tuple[float, ...]]] = {
    "S": (6, (4, 6)), "Se": (4, (4, 6)), "Te": (4, (4, 6)),
    "C": (4, (2, 3, 4)), "N": (5, (3, 5)), "P": (5, (3, 5)),
    "As": (5, (3, 5)), "Sb": (5, (3, 5)), "V": (5, (3, 4, 5)),
    "Mo": (6, (4, 5, 6)), "W": (6, (4, 5, 6)), "U": (6, (4, 5, 6)), "Np": (6, (4, 5, 6)),
    "I": (5, (5, 7)), "Cl": (7, (5, 7)), "Br": (5, (5,)), "Re": (7, (4, 6, 7)),
    "Cr": (3, (3, 6)),
}  # fmt: skip
#: O per centre from which the top state is certain: XO4 (sulfate, phosphate, arsenate,
#: vanadate, molybdate, tungstate, chromate, selenate), CO3, NO3; TeO6 for tellurates.
#: The parser accepts the ratio 0.5 below these to allow measured counts (As1.02O4).
FULL_OXO_RATIO: dict[str, float] = {
    "S": 4, "Se": 4, "P": 4, "As": 4, "V": 4, "Mo": 4, "W": 4, "Cr": 4, "Te": 6,
    "C": 3, "N": 3,
}  # fmt: skip

#: anion states of non-metals not bound to O (monomer); ``DIMER_STATE`` is the state in
#: S2(2-)-type dimers (pyrite, marcasite, löllingite, skutterudite, arsenopyrite ...)
ANION_STATE: dict[str, float] = {
    "O": -2, "F": -1, "Cl": -1, "Br": -1, "I": -1,
    "S": -2, "Se": -2, "Te": -2, "N": -3, "P": -3, "As": -3, "Sb": -3, "C": -4, "Si": -4,
    "B": -3, "Ge": -4, "Bi": -3,
}  # fmt: skip
DIMER_STATE: dict[str, float] = {"S": -1, "Se": -1, "Te": -1, "As": -1, "Sb": -1}

#: elements whose valence the inference still adjusts when the composition is a
#: representative choice (site split): the common mixed-valence elements
CORE_MIXED_VALENCE = frozenset(
    "Fe Mn Co Ni Cu Cr V Ce Eu U Tl Hg Au Sn Sb As S Se Te C N I".split()
)
#: order in which the inference raises elements when anions need more positive charge
RAISE_ORDER: tuple[str, ...] = tuple(
    "Fe Mn Co Ni Cr V Ti Ce Pr Tb Eu Sm Yb U Np Pu Sn Ge Mo W Re Tc Ru Os Ir Pt Pd Rh Au Tl "
    "Pb Hg Ag Cu Sb As Bi Po Se Te Nb Ta S N C P I Cl Br".split()
)
#: order in which it lowers them when cations carry too much positive charge
LOWER_ORDER: tuple[str, ...] = tuple(
    "Cu Hg U Np Pu S C N P Sb As V Mo W Re Tc Nb Ta Ti Sn Ge Pb Se Te Eu Sm Yb Ce Pr Tb I Cl "
    "Br Mn Fe Co Ni Cr Tl Au Pt Pd Ir Ru Os Bi Po".split()
)


def default_cation_ladder(symbol: str) -> tuple[float, tuple[float, ...]]:
    """Ladder for a symbol missing from ``CATION_LADDER``: its positive oxidation states."""
    if symbol in CATION_LADDER:
        return CATION_LADDER[symbol]
    positive = sorted(v for v in OXIDATION_STATES.get(symbol, ()) if v > 0)
    if not positive:
        return (0.0, (0.0,))
    return (positive[0], tuple(positive))
