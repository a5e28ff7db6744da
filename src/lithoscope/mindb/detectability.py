"""What each method can see of a mineral, derived from its formula and structure.

PANGAEA's MinDB records per mineral and method whether the method detects it and by which
features (Drozdovskiy et al. 2020). MinDB derives the same from chemistry with the rules below;
each result carries ``basis``, the rule that produced it, so a curator can check it.

Rules and their sources
-----------------------
Raman (Nasdala et al. 2004, EMU Notes Mineral. 6:281; Frezzotti et al. 2012, J. Geochem.
Explor. 112:1):
  metals and metallic alloys have no first-order Raman spectrum; rock-salt structures
  (space group Fm-3m with two elements: halite, periclase, oldhamite, osbornite) have no
  first-order Raman-active mode; everything else is active, with the band regions of its
  anion groups.
Infrared (Farmer 1974, The Infrared Spectra of Minerals; Salisbury et al. 1991):
  metals are inactive; oxyanion stretching and bending, OH and H2O bands otherwise.
VNIR 0.35-2.5 um (Burns 1993, Mineralogical Applications of Crystal Field Theory; Hunt 1977,
Geophysics 42:501; Clark et al. 1990, JGR 95:12653):
  Fe2+ crystal-field bands near 1 and 2 um, Fe3+ charge transfer below 0.55 um and a band
  near 0.9 um, Cu2+, Ni2+, Mn, Cr3+ bands; OH overtones at 1.4 um and metal-OH combinations at
  2.2-2.35 um; H2O at 1.4 and 1.9 um; CO3 at 2.3 and 2.5 um. No such feature: 'none'.
LIBS (Cremers & Radziemski 2013, Handbook of LIBS; Wiens et al. 2012, Space Sci. Rev.
170:167):
  every element emits; H, C, Si, metals have strong lines in 240-850 nm; S, P, halogens and N
  have weak lines there, and O and N are also in the atmosphere around the plasma.
XRD: crystalline phases diffract; amorphous ones give no Bragg peaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lithoscope.mindb.chemistry import Formula
from lithoscope.mindb.models import Method

__all__ = ["DetectabilityResult", "derive_detectability"]

_METALS = frozenset(
    (
        "Li Be Na Mg Al K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Rb Sr Y Zr Nb Mo Ru Rh Pd Ag Cd In "
        "Sn Cs Ba La Ce Pr Nd Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi "
        "Th U"
    ).split()
)
_LIBS_WEAK = frozenset({"S", "P", "F", "Cl", "Br", "I", "N", "O", "Se", "Te", "As"})

# Raman band regions (cm-1) of anion groups and structural units.
_RAMAN_BANDS: dict[str, list[tuple[str, float, float]]] = {
    "silicate": [("Si-O stretching", 800, 1100), ("Si-O-Si bending", 400, 700)],
    "carbonate": [("CO3 symmetric stretch (v1)", 1080, 1100), ("CO3 bend (v4)", 680, 760)],
    "sulfate": [("SO4 symmetric stretch (v1)", 980, 1025), ("SO4 bend", 400, 680)],
    "phosphate": [("PO4 symmetric stretch (v1)", 940, 980), ("PO4 bend", 400, 620)],
    "arsenate": [("AsO4 stretch", 780, 900)],
    "vanadate": [("VO4 stretch", 780, 950)],
    "tungstate/molybdate": [("WO4/MoO4 stretch", 850, 950)],
    "nitrate": [("NO3 symmetric stretch", 1040, 1070)],
    "borate": [("B-O stretch", 850, 1100)],
    "oxide": [("metal-oxygen lattice modes", 150, 800)],
    "hydroxide": [("metal-oxygen lattice modes", 150, 800)],
    "sulfide": [("metal-sulfur and S-S modes", 200, 500)],
    "halide": [("lattice modes", 100, 400)],
}
_IR_BANDS: dict[str, list[tuple[str, float, float]]] = {
    "silicate": [("Si-O stretching", 850, 1200), ("Si-O bending", 400, 600)],
    "carbonate": [("CO3 asymmetric stretch (v3)", 1400, 1500), ("CO3 out-of-plane (v2)", 850, 890)],
    "sulfate": [("SO4 asymmetric stretch (v3)", 1080, 1200), ("SO4 bend (v4)", 590, 680)],
    "phosphate": [("PO4 asymmetric stretch (v3)", 1000, 1100), ("PO4 bend (v4)", 550, 620)],
    "arsenate": [("AsO4 stretch", 780, 900)],
    "vanadate": [("VO4 stretch", 750, 900)],
    "tungstate/molybdate": [("WO4/MoO4 stretch", 750, 900)],
    "nitrate": [("NO3 asymmetric stretch", 1350, 1450)],
    "borate": [("B-O stretch", 1200, 1450)],
    "oxide": [("metal-oxygen stretching", 400, 800)],
    "hydroxide": [("metal-oxygen stretching", 400, 800)],
    "sulfide": [("far-infrared lattice modes", 100, 450)],
    "halide": [("far-infrared lattice modes", 100, 300)],
}


@dataclass(frozen=True)
class DetectabilityResult:
    """Detectability of one mineral by one method."""

    method: Method
    level: str  # 'strong', 'weak' or 'none'
    features: list[dict[str, Any]] = field(default_factory=list)
    basis: str = ""


def _valence_amounts(formula: Formula, element: str) -> dict[float, float]:
    out: dict[float, float] = {}
    for el, valence, amount in formula.species:
        if el == element and amount > 0:
            out[valence] = out.get(valence, 0.0) + amount
    return out


def _water_and_hydroxyl(formula: Formula) -> tuple[bool, bool]:
    text = formula.normalized.replace(" ", "")
    water = "H2O" in text
    hydroxyl = "OH" in text or ("H" in formula.amounts and not water)
    return water, hydroxyl


def _is_metallic(formula: Formula, mineral_class: str) -> bool:
    elements = set(formula.amounts)
    if "O" in elements or "S" in elements or not elements:
        return False
    if mineral_class in {"native element", "carbide/nitride/phosphide/silicide"}:
        non_metal = elements - _METALS
        # graphite, diamond, sulfur, silicon are covalent solids, not metals
        if elements <= {"C", "S", "Si", "Se", "Te"}:
            return False
        return len(non_metal) <= 1
    return False


def _raman(formula: Formula, mclass: str, space_group: str | None) -> DetectabilityResult:
    elements = set(formula.amounts)
    if _is_metallic(formula, mclass):
        return DetectabilityResult(
            Method.RAMAN, "none", [], "metal or metallic alloy: no first-order Raman spectrum"
        )
    if space_group and space_group.replace(" ", "") in {"Fm-3m", "Fm3m"} and len(elements) == 2:
        return DetectabilityResult(
            Method.RAMAN,
            "none",
            [],
            "rock-salt structure (Fm-3m, two elements): no first-order Raman-active mode",
        )
    features = [
        {"feature": name, "from_cm1": lo, "to_cm1": hi}
        for name, lo, hi in _RAMAN_BANDS.get(mclass, [])
    ]
    if elements == {"C"}:
        features = [{"feature": "diamond T2g / graphite G band", "from_cm1": 1330, "to_cm1": 1585}]
    water, hydroxyl = _water_and_hydroxyl(formula)
    if hydroxyl:
        features.append({"feature": "O-H stretching", "from_cm1": 3200, "to_cm1": 3700})
    if water:
        features.append({"feature": "H2O stretching", "from_cm1": 3000, "to_cm1": 3600})
    level = "weak" if mclass in {"sulfide", "halide"} else "strong"
    return DetectabilityResult(
        Method.RAMAN, level, features, f"Raman-active {mclass}; band regions of its anion groups"
    )


def _ir(formula: Formula, mclass: str) -> DetectabilityResult:
    if _is_metallic(formula, mclass):
        return DetectabilityResult(Method.IR, "none", [], "metal: no vibrational absorption bands")
    features = [
        {"feature": name, "from_cm1": lo, "to_cm1": hi}
        for name, lo, hi in _IR_BANDS.get(mclass, [])
    ]
    water, hydroxyl = _water_and_hydroxyl(formula)
    if hydroxyl:
        features.append({"feature": "O-H stretching", "from_cm1": 3400, "to_cm1": 3700})
    if water:
        features.append({"feature": "H2O bending", "from_cm1": 1590, "to_cm1": 1660})
    level = "strong" if features else "weak"
    return DetectabilityResult(
        Method.IR, level, features, f"{mclass}: infrared-active vibrations of its bonds"
    )


def _vnir(formula: Formula, mclass: str) -> DetectabilityResult:
    features: list[dict[str, Any]] = []
    fe = _valence_amounts(formula, "Fe")
    if _is_metallic(formula, mclass):
        return DetectabilityResult(
            Method.VNIR,
            "weak",
            [{"feature": "red-sloped featureless continuum"}],
            "metal: featureless, red-sloped reflectance",
        )
    if any(abs(v - 2) < 1e-6 for v in fe):
        features.append({"feature": "Fe2+ crystal-field band", "near_um": 1.0})
        amounts = formula.amounts
        chain = mclass == "silicate" and amounts.get("O", 0) <= 3.2 * amounts.get("Si", 1e9)
        spinel_type = mclass == "oxide" and ("Al" in amounts or "Cr" in amounts)
        if chain or spinel_type:
            # pyroxenes (M2 site) and spinels (tetrahedral Fe2+) add a band near 2 um
            features.append({"feature": "Fe2+ band (pyroxene/spinel-type sites)", "near_um": 2.0})
    if any(abs(v - 3) < 1e-6 for v in fe):
        features.append({"feature": "Fe3+ charge-transfer edge", "below_um": 0.55})
        features.append({"feature": "Fe3+ crystal-field band", "near_um": 0.9})
    for element, near, label in (
        ("Cu", 0.8, "Cu2+ crystal-field band"),
        ("Ni", 1.2, "Ni2+ crystal-field bands"),
        ("Mn", 0.45, "Mn crystal-field bands"),
        ("Cr", 0.55, "Cr3+ crystal-field bands"),
        ("Co", 0.55, "Co2+ crystal-field bands"),
    ):
        if element in formula.amounts and "S" not in formula.amounts:
            features.append({"feature": label, "near_um": near})
    water, hydroxyl = _water_and_hydroxyl(formula)
    if hydroxyl:
        features.append({"feature": "OH overtone", "near_um": 1.4})
        metal = "Al-OH" if "Al" in formula.amounts else "Fe/Mg-OH"
        features.append(
            {"feature": f"{metal} combination", "near_um": 2.2 if metal == "Al-OH" else 2.3}
        )
    if water:
        features.append({"feature": "H2O combination bands", "near_um": [1.4, 1.9]})
    if mclass == "carbonate":
        features.append({"feature": "CO3 overtones", "near_um": [2.3, 2.5]})
    if mclass == "sulfide":
        features.append({"feature": "low, dark reflectance"})
    if not features:
        return DetectabilityResult(
            Method.VNIR, "none", [], "no transition-metal, OH, H2O or CO3 absorption in 0.35-2.5 um"
        )
    strong = any(
        "Fe2+" in f["feature"]
        or "OH" in f["feature"]
        or "H2O" in f["feature"]
        or "CO3" in f["feature"]
        or "Fe3+" in f["feature"]
        for f in features
    )
    return DetectabilityResult(
        Method.VNIR,
        "strong" if strong else "weak",
        features,
        "crystal-field, charge-transfer and vibrational-overtone absorptions from composition",
    )


def _libs(formula: Formula) -> DetectabilityResult:
    features = [
        {"element": el, "emission": "weak" if el in _LIBS_WEAK else "strong"}
        for el in sorted(formula.amounts)
    ]
    strong = [f for f in features if f["emission"] == "strong"]
    return DetectabilityResult(
        Method.LIBS,
        "strong" if strong else "weak",
        features,
        "atomic emission of its elements; S, P, halogens, N, O weak in 240-850 nm",
    )


def _xrd(crystal_system: str | None, space_group: str | None) -> DetectabilityResult:
    if crystal_system == "amorphous":
        return DetectabilityResult(Method.XRD, "none", [], "amorphous: no Bragg reflections")
    features = [{"crystal_system": crystal_system, "space_group": space_group}]
    return DetectabilityResult(Method.XRD, "strong", features, "crystalline phase diffracts")


def derive_detectability(
    formula: Formula,
    mineral_class: str,
    crystal_system: str | None,
    space_group: str | None = None,
) -> list[DetectabilityResult]:
    """Detectability of a mineral by Raman, IR, VNIR, LIBS and XRD.

    Parameters
    ----------
    formula : Formula
        Parsed formula (its representative composition and valences).
    mineral_class : str
        Class from `lithoscope.mindb.chemistry.mineral_class`.
    crystal_system, space_group : str or None
        Structure facts from MinDB.

    Returns
    -------
    list of DetectabilityResult
        One per method, in the order raman, ir, vnir, libs, xrd.
    """
    return [
        _raman(formula, mineral_class, space_group),
        _ir(formula, mineral_class),
        _vnir(formula, mineral_class),
        _libs(formula),
        _xrd(crystal_system, space_group),
    ]
