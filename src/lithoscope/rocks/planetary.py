"""Planetary rock classes from modes: lunar rocks and Martian meteorites (meteorites: see below).

Each class function takes an `Assemblage` and returns a `RockName` whose ``name`` is the planetary
class, or ``"unclassified"`` when none of its rules fits (the reasoning says which rules were
tried). The IUGS name is always computed first and quoted in the reasoning. The meteorite
classes (chondrites, primitive achondrites, HED) live in `lithoscope.rocks.meteorites`;
`meteorite` is re-exported here.

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
[Wa85] Warren P.H. 1985, The magma ocean concept and lunar evolution, *Annu. Rev. Earth
Planet. Sci.* 13:201-240.
[Sh06] Shearer C.K. et al. 2006, Thermal and magmatic evolution of the Moon, *Rev. Mineral.
Geochem.* 60:365-518.

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
* **Ferroan anorthosite** needs plagioclase >= 90 vol % (ROCKS.md; St80 uses > 90 for
  anorthosite); FAN plagioclase is An94-98 [Pa98]. Given An < 90 the rock is called an alkali
  anorthosite (alkali suite, more sodic plagioclase).
* **FAN or Mg-suite** is decided by the Mg# of the mafic minerals [Wa85, Sh06]: ferroan-suite
  mafics have Mg# below ~70, Mg-suite mafics above. With olivine Fa or low-Ca pyroxene Fs given,
  Mg# = 100 - Fa or ~100 - Fs (`lithoscope.rocks.chemistry`); Mg# > 70 makes a >= 90 %
  plagioclase rock a magnesian (Mg-suite) anorthosite, and Mg# <= 70 takes a norite, troctolite
  or dunite out of the Mg-suite (the IUGS name is then kept). When both Fa and Fs are given and
  they fall on either side of 70, the more abundant of olivine and low-Ca pyroxene decides and
  the conflict is reported. Without Fa or Fs the mode alone cannot tell, and the reasoning says so.
"""

from __future__ import annotations

from lithoscope.rocks._rules import LOW_CA, PX, TOL, P, Rule, classify, f1
from lithoscope.rocks.chemistry import Chemistry
from lithoscope.rocks.meteorites import meteorite
from lithoscope.rocks.minerals import Assemblage, weight_percent
from lithoscope.rocks.result import RockName

__all__ = ["lunar", "martian", "meteorite", "tio2_proxy"]


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
    detail = " + ".join(f"{n} {f1(w)} wt % x {t:g} %" for n, w, t in parts) or "no Ti-oxide"
    return tio2, detail


# ---- Moon ----------------------------------------------------------------------------------


_MG_BOUND = 70.0  # mafic Mg#: ferroan suite below, Mg-suite above [Wa85, Sh06]


def _mafic_mg(asm: Assemblage, chem: Chemistry, out: list[str]) -> float | None:
    """Mg# of the mafic minerals from the given Fa/Fs (None without them), with the reasoning."""
    mg = chem.mg_numbers()
    if not mg:
        return None
    parts = []
    if "olivine" in mg:
        parts.append(f"olivine Fa {chem.olivine_fa:g} -> Mg# {mg['olivine']:.0f}")
    if "pyroxene" in mg:
        parts.append(
            f"low-Ca pyroxene Fs {chem.pyroxene_fs:g} -> Mg# ~{mg['pyroxene']:.0f} (Wo ignored)"
        )
    key = next(iter(mg))
    if len(mg) == 2:
        ol, low = asm.vol("olivine"), asm.vol(*LOW_CA, "pyroxene")
        key = "olivine" if ol >= low else "pyroxene"
        if (mg["olivine"] > _MG_BOUND + TOL) != (mg["pyroxene"] > _MG_BOUND + TOL):
            parts.append(
                f"conflict: they fall on either side of Mg# {_MG_BOUND:g}; the more abundant "
                f"mafic mineral ({'olivine' if key == 'olivine' else 'low-Ca pyroxene'}) decides"
            )
    out.append("; ".join(parts))
    return mg[key]


def _fan(asm, iugs, chem, out) -> tuple[str, str] | None:
    plag = asm.vol(*P)
    if plag < 90.0 - TOL:
        out.append(f"plagioclase {f1(plag)} < 90 vol %")
        return None
    out.append(f"plagioclase {f1(plag)} >= 90 vol %: lunar anorthosite [St80, ROCKS.md]")
    an = chem.plagioclase_an
    if an is not None and an < 90.0 - TOL:
        out.append(f"An {an:g} < 90: more sodic than FAN (An94-98): alkali-suite anorthosite")
        return "alkali anorthosite", "alkali suite"
    mg = _mafic_mg(asm, chem, out)
    if mg is not None and mg > _MG_BOUND + TOL:
        out.append(
            f"mafic Mg# {mg:.0f} > {_MG_BOUND:g}: Mg-suite, not ferroan (FAN mafics Mg# < ~70, "
            "Mg-suite > ~70 [Wa85, Sh06]): magnesian anorthosite"
        )
        return "magnesian anorthosite", f"Mg-suite (Mg# {mg:.0f})"
    if mg is not None:
        out.append(f"mafic Mg# {mg:.0f} <= {_MG_BOUND:g}: ferroan, as FAN mafics are [Wa85, Sh06]")
    if an is None:
        out.append(
            "An not given: ferroan anorthosite "
            + ("by the Mg# of its mafics" if mg is not None else "assumed")
            + ", the dominant highland anorthosite (FAN plagioclase An94-98 [Pa98]"
            + ("" if mg is not None else "; olivine Fa or pyroxene Fs would tell Mg-suite apart")
            + ")"
        )
        return "ferroan anorthosite", "FAN"
    typical = "" if an >= 94.0 - TOL else " (below the typical An94-98)"
    out.append(f"An {an:g} >= 90{typical}: ferroan anorthosite [Pa98]")
    return "ferroan anorthosite", f"FAN (An{an:g})"


def _kreep(asm, iugs, chem, out) -> tuple[str, str] | None:
    carriers = asm.names("phosphate", "alkali feldspar")
    plag, low, high = asm.vol(*P), asm.vol(*LOW_CA), asm.vol("clinopyroxene")
    if not carriers:
        out.append("no merrillite, apatite or K-feldspar (the KREEP carriers)")
        return None
    if not 20.0 <= plag <= 70.0 or low <= high:
        out.append(
            f"KREEP carriers present but plagioclase {f1(plag)} (needs 20-70) and low-Ca "
            f"pyroxene {f1(low)} vs augite {f1(high)} (needs low-Ca > augite) do not fit"
        )
        return None
    out.append(
        f"plagioclase {f1(plag)} + low-Ca pyroxene {f1(low)} > augite {f1(high)}, with "
        f"{', '.join(carriers)}: KREEP basalt [Pa98; Apollo 15 type]. KREEP itself is a "
        "chemical signature (K, REE, P, Th); the mode shows only its carrier minerals"
    )
    return "KREEP basalt", "KREEP"


def _mare(asm, iugs, chem, out) -> tuple[str, str] | None:
    px, plag = asm.vol(*PX), asm.vol(*P)
    cpx = asm.vol("clinopyroxene", "pigeonite")
    opx = asm.vol("orthopyroxene")
    if px < plag or plag < 10.0 or cpx <= opx:
        out.append(
            f"pyroxene {f1(px)} vs plagioclase {f1(plag)}, clinopyroxene {f1(cpx)} vs "
            f"orthopyroxene {f1(opx)}: not a mare basalt (needs pyroxene >= plagioclase >= 10, "
            "clinopyroxene-dominated)"
        )
        return None
    tio2, detail = tio2_proxy(asm)
    out.append(
        f"pyroxene {f1(px)} >= plagioclase {f1(plag)}, clinopyroxene-dominated: mare basalt [Pa98]"
    )
    out.append(
        f"TiO2 proxy = {detail} = {tio2:.2f} wt % (vol -> wt with DHZ densities; Ti in "
        "pyroxene ignored, so low by ~0.5-1)"
    )
    if tio2 > 6.0 + TOL:
        cls = "high-Ti"
    elif tio2 > 1.0 + TOL:
        cls = "low-Ti"
    else:
        cls = "very-low-Ti"
    out.append(f"TiO2 {tio2:.2f} wt %: {cls} (bounds 1 and 6 wt % [NT92])")
    return f"{cls} mare basalt", cls


_MG_SUITE_ROOTS = ("norite", "troctolite", "dunite")


def _mg_suite(asm, iugs, chem, out) -> tuple[str, str] | None:
    if not any(root in iugs.name for root in _MG_SUITE_ROOTS) or "anorthosite" in iugs.name:
        out.append(f"IUGS name {iugs.name} is not a norite, gabbronorite, troctolite or dunite")
        return None
    mg = _mafic_mg(asm, chem, out)
    if mg is not None and mg <= _MG_BOUND + TOL:
        out.append(
            f"{iugs.name} but mafic Mg# {mg:.0f} <= {_MG_BOUND:g}: ferroan, not Mg-suite "
            "(Mg-suite mafics Mg# > ~70 [Wa85, Sh06])"
        )
        return None
    name = iugs.name
    if "troctolite" in name and asm.vol("spinel") > 0:
        name = name.replace("troctolite", "spinel troctolite")
    if mg is not None:
        why = f"mafic Mg# {mg:.0f} > {_MG_BOUND:g}, as Mg-suite mafics are [Wa85, Sh06]"
    else:
        why = (
            "Mg-suite vs ferroan needs the Mg# of the mafic minerals, which a mode does not "
            "carry; give olivine Fa or pyroxene Fs"
        )
    out.append(f"{iugs.name}: Mg-suite rock type [St80, Pa98]; {why}")
    return f"Mg-suite {name}", "Mg-suite"


_LUNAR_RULES: tuple[tuple[str, Rule], ...] = (
    ("ferroan anorthosite", _fan),
    ("KREEP basalt", _kreep),
    ("mare basalt", _mare),
    ("Mg-suite", _mg_suite),
)


def lunar(
    asm: Assemblage,
    *,
    an: float | None = None,
    volcanic: bool = False,
    fa: float | None = None,
    fs: float | None = None,
) -> RockName:
    """Lunar rock type: ferroan anorthosite, KREEP basalt, mare basalt (by Ti) or Mg-suite.

    ``fa``/``fs`` (olivine Fa, low-Ca pyroxene Fs, mol %) give the Mg# that separates ferroan
    from Mg-suite rocks.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> lunar(parse_modes({"plagioclase": 96, "orthopyroxene": 3, "augite": 1}), an=96).name
    'ferroan anorthosite'
    >>> lunar(parse_modes({"plagioclase": 50, "orthopyroxene": 50}), fs=19).name
    'Mg-suite norite'
    """
    chem = Chemistry(plagioclase_an=an, olivine_fa=fa, pyroxene_fs=fs)
    return classify(asm, chem, volcanic, "lunar", _LUNAR_RULES)


# ---- Mars ----------------------------------------------------------------------------------


def _sediment(asm, iugs, chem, out) -> tuple[str, str] | None:
    sulfate, clay = asm.vol("sulfate"), asm.vol("phyllosilicate")
    if sulfate + clay < 50.0 - TOL:
        out.append(f"sulfate {f1(sulfate)} + phyllosilicate {f1(clay)} < 50 vol %")
        return None
    kind = "sulfate" if sulfate >= clay else "clay"
    out.append(
        f"sulfate {f1(sulfate)} + phyllosilicate {f1(clay)} >= 50 vol %: aqueous sediment, "
        f"{kind}-dominated (as at Meridiani, Gale) [ROCKS.md]"
    )
    return f"{kind}-bearing sediment", kind


def _chassignite(asm, iugs, chem, out) -> tuple[str, str] | None:
    ol = asm.vol("olivine")
    if ol <= 80.0 + TOL:
        out.append(f"olivine {f1(ol)} <= 80 vol %")
        return None
    out.append(
        f"olivine {f1(ol)} > 80 vol %: dunite cumulate, chassignite (Chassigny ~90 % olivine, "
        "Fo ~68) [McS94, Ud20]"
    )
    return "chassignite", "chassignite"


def _alh84001(asm, iugs, chem, out) -> tuple[str, str] | None:
    opx = asm.vol("orthopyroxene")
    if opx <= 90.0 + TOL:
        out.append(f"orthopyroxene {f1(opx)} <= 90 vol %")
        return None
    out.append(
        f"orthopyroxene {f1(opx)} > 90 vol %: orthopyroxenite like ALH 84001 (~97 % opx, "
        "4.1 Ga) [Tr00]"
    )
    return "orthopyroxenite (ALH 84001-like)", "ALH 84001"


def _nakhlite(asm, iugs, chem, out) -> tuple[str, str] | None:
    aug, px = asm.vol("clinopyroxene"), asm.vol(*PX)
    if aug < 60.0 - TOL or aug < 0.8 * px:
        out.append(
            f"augite {f1(aug)} vol % ({f1(100 * aug / px if px else 0)} % of the pyroxene); "
            "needs >= 60 vol % and >= 80 % of the pyroxene"
        )
        return None
    out.append(
        f"augite {f1(aug)} >= 60 vol % and >= 80 % of the pyroxene, olivine "
        f"{f1(asm.vol('olivine'))}: clinopyroxenite cumulate, nakhlite (~75 % augite, "
        "~10-15 % olivine) [McS94, Ud20]"
    )
    return "nakhlite", "nakhlite"


def _shergottite(asm, iugs, chem, out) -> tuple[str, str] | None:
    px, plag, ol = asm.vol(*PX), asm.vol(*P), asm.vol("olivine")
    if px < 20.0 - TOL or plag <= 0:
        out.append(
            f"pyroxene {f1(px)} (needs >= 20) and plagioclase/maskelynite {f1(plag)} (needs > 0)"
        )
        return None
    if ol > 35.0 + TOL:
        sub = "poikilitic"
    elif ol > 5.0 + TOL:
        sub = "olivine-phyric"
    else:
        sub = "basaltic"
    out.append(
        f"pyroxene {f1(px)} with plagioclase/maskelynite {f1(plag)}: shergottite [McS94]; "
        f"olivine {f1(ol)} vol % (proxy bounds 5 and 35; the classes are textural [Ud20]): {sub}"
    )
    return f"{sub} shergottite", sub


_MARTIAN_RULES: tuple[tuple[str, Rule], ...] = (
    ("a sediment", _sediment),
    ("chassignite", _chassignite),
    ("ALH 84001-like", _alh84001),
    ("nakhlite", _nakhlite),
    ("shergottite", _shergottite),
)


def martian(
    asm: Assemblage,
    *,
    an: float | None = None,
    volcanic: bool = False,
    fa: float | None = None,
    fs: float | None = None,
) -> RockName:
    """Martian class: sediment, chassignite, ALH 84001-like, nakhlite or shergottite.

    The classes are modal; given ``fa``/``fs`` are reported as not used.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> martian(parse_modes({"augite": 75, "olivine": 12, "plagioclase": 13})).name
    'nakhlite'
    """
    chem = Chemistry(plagioclase_an=an, olivine_fa=fa, pyroxene_fs=fs)
    rock = classify(asm, chem, volcanic, "martian", _MARTIAN_RULES)
    if not chem.mafic_given:
        return rock
    note = "olivine Fa / pyroxene Fs given but not used: the Martian classes here are modal"
    return RockName(rock.name, rock.scheme, rock.field, (*rock.reasoning, note))
