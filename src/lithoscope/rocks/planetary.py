"""Planetary rock classes from modes: lunar rocks, Martian meteorites, chondrites.

Each class function takes an `Assemblage` and returns a `RockName` whose ``name`` is the planetary
class, or ``"unclassified"`` when none of its rules fits (the reasoning says which rules were
tried). The IUGS name is always computed first and quoted in the reasoning.

References
----------
[St80] Stöffler D. et al. 1980, Recommended classification and nomenclature of lunar highland
rocks, *Proc. Conf. Lunar Highlands Crust*, 51-70.
[Pa98] Papike J.J., Ryder G., Shearer C.K. 1998, Lunar samples, *Rev. Mineral.* 36, ch. 5.
[NT92] Neal C.R. & Taylor L.A. 1992, Petrogenesis of mare basalts, *GCA* 56:2177-2211.
[McS94] McSween H.Y. 1994, What we have learned about Mars from SNC meteorites,
*Meteoritics* 29:757-779.
[Tr00] Treiman A.H. et al. 2000, The SNC meteorites are from Mars, *PSS* 48:1213-1230.
[Ud20] Udry A. et al. 2020, What Martian meteorites reveal about the interior and surface of
Mars, *JGR Planets* 125:e2020JE006523.
[BJ98] Brearley A.J. & Jones R.H. 1998, Chondritic meteorites, *Rev. Mineral.* 36, ch. 3.

Mode proxies (lithoscope's choices, stated in every answer that uses them)
-------------------------------------------------------------------------
* **Mare-basalt TiO2.** Bulk TiO2 wt % ~ sum over Ti-oxides of (wt % of the oxide x its
  stoichiometric TiO2): ilmenite FeTiO3 52.65 %, ulvöspinel 35.7 %, armalcolite ~74 %, rutile
  100 %. Volume % are turned into weight % with the densities of ``minerals.csv`` (DHZ:
  ilmenite 4.72, plagioclase 2.69-2.76, augite 3.40, pigeonite 3.38, olivine 3.32 g/cm³). Ti in
  pyroxene (~1-2 wt % TiO2 in mare augite) is ignored, so the proxy is low by ~0.5-1 wt %. Classes
  [NT92]: very-low-Ti <= 1, low-Ti 1-6, high-Ti > 6 wt % TiO2.
* **Shergottite subclasses** are textural [Ud20]; the mode proxy used is olivine <= 5 vol %
  basaltic, 5-35 olivine-phyric (typical 10-30), > 35 poikilitic (typical 40-60).
* **Ordinary-chondrite groups** by Fe-Ni metal weight %: typical ranges H ~15-19, L ~7-8
  (4-10 in some compilations), LL ~3-4 (1-4) wt %; boundaries set at the midpoints,
  H/L 11.5 and L/LL 5.5 wt %, i.e. roughly 6 and 2.5 vol % metal. Olivine Fa (H 16-20,
  L 22-26, LL 27-32 mol %, [BJ98]) is the better discriminator; terrestrial weathering of finds
  lowers metal.
* **Ferroan anorthosite** needs plagioclase >= 90 vol % (ROCKS.md; St80 uses > 90 for
  anorthosite); FAN plagioclase is An94-98 [Pa98]. Given An < 90 the rock is called an alkali
  anorthosite (alkali suite, more sodic plagioclase). FAN and Mg-suite anorthosites are told apart
  by the Mg# of their mafic minerals, which a mode does not carry.
"""

from __future__ import annotations

from collections.abc import Callable

from lithoscope.rocks.iugs import iugs_name
from lithoscope.rocks.minerals import Assemblage, weight_percent
from lithoscope.rocks.result import UNCLASSIFIED, RockName

__all__ = ["lunar", "martian", "meteorite", "tio2_proxy"]

_TOL = 1e-9
_P = ("plagioclase", "maskelynite")
_LOW_CA = ("orthopyroxene", "pigeonite")
_PX = ("orthopyroxene", "pigeonite", "clinopyroxene", "pyroxene", "pyroxenoid")
Rule = Callable[[Assemblage, RockName, float | None, list[str]], tuple[str, str] | None]


def _f(x: float) -> str:
    return f"{x:.1f}"


def tio2_proxy(asm: Assemblage) -> tuple[float, str]:
    """Bulk TiO2 wt % estimated from the Ti-oxide modes, and how it was computed.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> asm = parse_modes({"clinopyroxene": 50, "plagioclase": 30, "ilmenite": 20})
    >>> round(tio2_proxy(asm)[0], 1)
    14.4
    """
    wt = weight_percent(asm)
    parts = [
        (info.name, wt[name], info.tio2_wt_pct)
        for name, info, v in asm.minerals
        if info.tio2_wt_pct > 0 and v > 0
    ]
    tio2 = sum(w * t / 100.0 for _, w, t in parts)
    detail = " + ".join(f"{n} {_f(w)} wt % x {t:g} %" for n, w, t in parts) or "no Ti-oxide"
    return tio2, detail


def _classify(
    asm: Assemblage,
    an: float | None,
    volcanic: bool,
    scheme: str,
    rules: tuple[tuple[str, Rule], ...],
) -> RockName:
    iugs = iugs_name(asm, an=an, volcanic=volcanic)
    steps = list(asm.notes)
    steps.append(
        f"IUGS name: {iugs.name} ({iugs.scheme}"
        + (f", field {iugs.field}" if iugs.field else "")
        + ")"
    )
    for label, rule in rules:
        tried: list[str] = []
        hit = rule(asm, iugs, an, tried)
        if hit is not None:
            name, field = hit
            return RockName(name, scheme, field, tuple(steps + tried))
        steps.append(f"not {label}: " + "; ".join(tried))
    steps.append(f"no {scheme} class fits")
    return RockName(UNCLASSIFIED, scheme, "", tuple(steps))


# ---- Moon ----------------------------------------------------------------------------------


def _fan(asm, iugs, an, out) -> tuple[str, str] | None:
    plag = asm.vol(*_P)
    if plag < 90.0 - _TOL:
        out.append(f"plagioclase {_f(plag)} < 90 vol %")
        return None
    out.append(f"plagioclase {_f(plag)} >= 90 vol %: lunar anorthosite [St80, ROCKS.md]")
    if an is None:
        out.append(
            "An not given: ferroan anorthosite assumed, the dominant highland anorthosite "
            "(FAN plagioclase An94-98 [Pa98]; Mg# of the mafics would tell Mg-suite apart)"
        )
        return "ferroan anorthosite", "FAN"
    if an < 90.0 - _TOL:
        out.append(f"An {an:g} < 90: more sodic than FAN (An94-98): alkali-suite anorthosite")
        return "alkali anorthosite", "alkali suite"
    typical = "" if an >= 94.0 - _TOL else " (below the typical An94-98)"
    out.append(f"An {an:g} >= 90{typical}: ferroan anorthosite [Pa98]")
    return "ferroan anorthosite", f"FAN (An{an:g})"


def _kreep(asm, iugs, an, out) -> tuple[str, str] | None:
    carriers = asm.names("phosphate", "alkali feldspar")
    plag, low, high = asm.vol(*_P), asm.vol(*_LOW_CA), asm.vol("clinopyroxene")
    if not carriers:
        out.append("no merrillite, apatite or K-feldspar (the KREEP carriers)")
        return None
    if not 20.0 <= plag <= 70.0 or low <= high:
        out.append(
            f"KREEP carriers present but plagioclase {_f(plag)} (needs 20-70) and low-Ca "
            f"pyroxene {_f(low)} vs augite {_f(high)} (needs low-Ca > augite) do not fit"
        )
        return None
    out.append(
        f"plagioclase {_f(plag)} + low-Ca pyroxene {_f(low)} > augite {_f(high)}, with "
        f"{', '.join(carriers)}: KREEP basalt [Pa98; Apollo 15 type]. KREEP itself is a "
        "chemical signature (K, REE, P, Th); the mode shows only its carrier minerals"
    )
    return "KREEP basalt", "KREEP"


def _mare(asm, iugs, an, out) -> tuple[str, str] | None:
    px, plag = asm.vol(*_PX), asm.vol(*_P)
    cpx = asm.vol("clinopyroxene", "pigeonite")
    opx = asm.vol("orthopyroxene")
    if px < plag or plag < 10.0 or cpx <= opx:
        out.append(
            f"pyroxene {_f(px)} vs plagioclase {_f(plag)}, clinopyroxene {_f(cpx)} vs "
            f"orthopyroxene {_f(opx)}: not a mare basalt (needs pyroxene >= plagioclase >= 10, "
            "clinopyroxene-dominated)"
        )
        return None
    tio2, detail = tio2_proxy(asm)
    out.append(
        f"pyroxene {_f(px)} >= plagioclase {_f(plag)}, clinopyroxene-dominated: mare basalt [Pa98]"
    )
    out.append(
        f"TiO2 proxy = {detail} = {tio2:.2f} wt % (vol -> wt with DHZ densities; Ti in "
        "pyroxene ignored, so low by ~0.5-1)"
    )
    if tio2 > 6.0 + _TOL:
        cls = "high-Ti"
    elif tio2 > 1.0 + _TOL:
        cls = "low-Ti"
    else:
        cls = "very-low-Ti"
    out.append(f"TiO2 {tio2:.2f} wt %: {cls} (bounds 1 and 6 wt % [NT92])")
    return f"{cls} mare basalt", cls


_MG_SUITE_ROOTS = ("norite", "troctolite", "dunite")


def _mg_suite(asm, iugs, an, out) -> tuple[str, str] | None:
    if not any(root in iugs.name for root in _MG_SUITE_ROOTS) or "anorthosite" in iugs.name:
        out.append(f"IUGS name {iugs.name} is not a norite, gabbronorite, troctolite or dunite")
        return None
    name = iugs.name
    if "troctolite" in name and asm.vol("spinel") > 0:
        name = name.replace("troctolite", "spinel troctolite")
    out.append(
        f"{iugs.name}: Mg-suite rock type [St80, Pa98] (Mg-suite vs ferroan needs the Mg# of "
        "the mafic minerals, which a mode does not carry)"
    )
    return f"Mg-suite {name}", "Mg-suite"


_LUNAR_RULES: tuple[tuple[str, Rule], ...] = (
    ("ferroan anorthosite", _fan),
    ("KREEP basalt", _kreep),
    ("mare basalt", _mare),
    ("Mg-suite", _mg_suite),
)


def lunar(asm: Assemblage, *, an: float | None = None, volcanic: bool = False) -> RockName:
    """Lunar rock type: ferroan anorthosite, KREEP basalt, mare basalt (by Ti) or Mg-suite.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> lunar(parse_modes({"plagioclase": 96, "orthopyroxene": 3, "augite": 1}), an=96).name
    'ferroan anorthosite'
    """
    return _classify(asm, an, volcanic, "lunar", _LUNAR_RULES)


# ---- Mars ----------------------------------------------------------------------------------


def _sediment(asm, iugs, an, out) -> tuple[str, str] | None:
    sulfate, clay = asm.vol("sulfate"), asm.vol("phyllosilicate")
    if sulfate + clay < 50.0 - _TOL:
        out.append(f"sulfate {_f(sulfate)} + phyllosilicate {_f(clay)} < 50 vol %")
        return None
    kind = "sulfate" if sulfate >= clay else "clay"
    out.append(
        f"sulfate {_f(sulfate)} + phyllosilicate {_f(clay)} >= 50 vol %: aqueous sediment, "
        f"{kind}-dominated (as at Meridiani, Gale) [ROCKS.md]"
    )
    return f"{kind}-bearing sediment", kind


def _chassignite(asm, iugs, an, out) -> tuple[str, str] | None:
    ol = asm.vol("olivine")
    if ol <= 80.0 + _TOL:
        out.append(f"olivine {_f(ol)} <= 80 vol %")
        return None
    out.append(
        f"olivine {_f(ol)} > 80 vol %: dunite cumulate, chassignite (Chassigny ~90 % olivine, "
        "Fo ~68) [McS94, Ud20]"
    )
    return "chassignite", "chassignite"


def _alh84001(asm, iugs, an, out) -> tuple[str, str] | None:
    opx = asm.vol("orthopyroxene")
    if opx <= 90.0 + _TOL:
        out.append(f"orthopyroxene {_f(opx)} <= 90 vol %")
        return None
    out.append(
        f"orthopyroxene {_f(opx)} > 90 vol %: orthopyroxenite like ALH 84001 (~97 % opx, "
        "4.1 Ga) [Tr00]"
    )
    return "orthopyroxenite (ALH 84001-like)", "ALH 84001"


def _nakhlite(asm, iugs, an, out) -> tuple[str, str] | None:
    aug, px = asm.vol("clinopyroxene"), asm.vol(*_PX)
    if aug < 60.0 - _TOL or aug < 0.8 * px:
        out.append(
            f"augite {_f(aug)} vol % ({_f(100 * aug / px if px else 0)} % of the pyroxene); "
            "needs >= 60 vol % and >= 80 % of the pyroxene"
        )
        return None
    out.append(
        f"augite {_f(aug)} >= 60 vol % and >= 80 % of the pyroxene, olivine "
        f"{_f(asm.vol('olivine'))}: clinopyroxenite cumulate, nakhlite (~75 % augite, "
        "~10-15 % olivine) [McS94, Ud20]"
    )
    return "nakhlite", "nakhlite"


def _shergottite(asm, iugs, an, out) -> tuple[str, str] | None:
    px, plag, ol = asm.vol(*_PX), asm.vol(*_P), asm.vol("olivine")
    if px < 20.0 - _TOL or plag <= 0:
        out.append(
            f"pyroxene {_f(px)} (needs >= 20) and plagioclase/maskelynite {_f(plag)} (needs > 0)"
        )
        return None
    if ol > 35.0 + _TOL:
        sub = "poikilitic"
    elif ol > 5.0 + _TOL:
        sub = "olivine-phyric"
    else:
        sub = "basaltic"
    out.append(
        f"pyroxene {_f(px)} with plagioclase/maskelynite {_f(plag)}: shergottite [McS94]; "
        f"olivine {_f(ol)} vol % (proxy bounds 5 and 35; the classes are textural [Ud20]): {sub}"
    )
    return f"{sub} shergottite", sub


_MARTIAN_RULES: tuple[tuple[str, Rule], ...] = (
    ("a sediment", _sediment),
    ("chassignite", _chassignite),
    ("ALH 84001-like", _alh84001),
    ("nakhlite", _nakhlite),
    ("shergottite", _shergottite),
)


def martian(asm: Assemblage, *, an: float | None = None, volcanic: bool = False) -> RockName:
    """Martian class: sediment, chassignite, ALH 84001-like, nakhlite or shergottite.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> martian(parse_modes({"augite": 75, "olivine": 12, "plagioclase": 13})).name
    'nakhlite'
    """
    return _classify(asm, an, volcanic, "martian", _MARTIAN_RULES)


# ---- meteorites ----------------------------------------------------------------------------

_CC_MATRIX = ("phyllosilicate", "magnetite", "carbonate", "sulfide")


def _carbonaceous(asm, iugs, an, out) -> tuple[str, str] | None:
    matrix = asm.vol(*_CC_MATRIX)
    clay = asm.vol("phyllosilicate")
    if matrix <= 50.0 + _TOL or clay <= 0:
        out.append(
            f"phyllosilicate + magnetite + carbonate + sulfide {_f(matrix)} vol % (needs > 50, "
            "with phyllosilicate)"
        )
        return None
    out.append(
        f"phyllosilicate-dominated matrix ({_f(matrix)} vol % with magnetite, carbonate, "
        "sulfide): aqueously altered carbonaceous chondrite, CI/CM-like [BJ98] (anhydrous "
        "CV/CO chondrites are not recognised from a mode)"
    )
    return "carbonaceous chondrite", "CI/CM-like"


def _ordinary(asm, iugs, an, out) -> tuple[str, str] | None:
    silicate = asm.vol("olivine", *_PX)
    metal, sulfide = asm.vol("metal"), asm.vol("sulfide")
    if silicate < 50.0 - _TOL or metal <= 0 or sulfide <= 0:
        out.append(
            f"olivine + pyroxene {_f(silicate)} (needs >= 50), Fe-Ni metal {_f(metal)} and "
            f"troilite {_f(sulfide)} (both needed)"
        )
        return None
    wt = weight_percent(asm)
    metal_wt = sum(wt[name] for name, info, _ in asm.minerals if info.role == "metal")
    if metal_wt > 11.5 + _TOL:
        group = "H"
    elif metal_wt > 5.5 + _TOL:
        group = "L"
    else:
        group = "LL"
    out.append(
        f"olivine + pyroxene {_f(silicate)} vol % with Fe-Ni metal and troilite: ordinary "
        "chondrite [BJ98]"
    )
    out.append(
        f"Fe-Ni metal {_f(metal)} vol % = {_f(metal_wt)} wt % (densities of minerals.csv); "
        f"bounds H/L 11.5, L/LL 5.5 wt % (typical H 15-19, L 7-8, LL 3-4): {group} "
        "(olivine Fa would decide better; weathering lowers metal)"
    )
    return f"{group} chondrite", group


_METEORITE_RULES: tuple[tuple[str, Rule], ...] = (
    ("carbonaceous chondrite", _carbonaceous),
    ("ordinary chondrite", _ordinary),
)


def meteorite(asm: Assemblage, *, an: float | None = None, volcanic: bool = False) -> RockName:
    """Chondrite class: aqueously altered carbonaceous, or ordinary H/L/LL by metal.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> modes = {"olivine": 40, "orthopyroxene": 30, "plagioclase": 10, "kamacite": 9,
    ...          "troilite": 5, "clinopyroxene": 6}
    >>> meteorite(parse_modes(modes)).name
    'H chondrite'
    """
    return _classify(asm, an, volcanic, "meteorite", _METEORITE_RULES)
