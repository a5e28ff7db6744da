"""Meteorite classes from a mode and mineral chemistry, as meteoriticists name them.

Classes tried, in order: carbonaceous chondrite (CI/CM-like), ordinary chondrite (H, L, LL),
ureilite, primitive achondrites (acapulcoite/lodranite, winonaite), brachinite, and the HED
achondrites (diogenite, howardite, eucrite). The first whose rule fits names the rock; the
reasoning keeps what was tried before it, which evidence decided, and any evidence that
disagreed. When none fits, `lithoscope.rocks.name_rock` keeps the IUGS name.

Most meteorite rules look at the **silicates**: olivine, pyroxene and plagioclase (or
maskelynite) recalculated to 100 (the way Korda & Kohout 2024 give their modal labels), so that a
mode with or without metal, troilite and chromite is treated alike.

References
----------
[BJ98] Brearley A.J. & Jones R.H. 1998, Chondritic meteorites, *Rev. Mineral.* 36, ch. 3.
[VSW67] Van Schmus W.R. & Wood J.A. 1967, *GCA* 31:747-765.
[VSR68] Van Schmus W.R. & Ribbe P.H. 1968, The composition and structural state of feldspar from
chondritic meteorites, *GCA* 32:1327-1342.
[McS91] McSween H.Y., Bennett M.E. & Jarosewich E. 1991, The mineralogy of ordinary chondrites
and implications for asteroid spectrophotometry, *Icarus* 90:107-116.
[Du10] Dunn T.L., Cressey G., McSween H.Y. & McCoy T.J. 2010, Analysis of ordinary chondrites
using powder X-ray diffraction, 1. Modal mineral abundances, *MAPS* 45:123-134; 2. *MAPS*
45:135-156; Dunn T.L. et al. 2010, *Icarus* 208:789-797.
[Mi98] Mittlefehldt D.W., McCoy T.J., Goodrich C.A. & Kracher A. 1998, Non-chondritic
meteorites from asteroidal bodies, *Rev. Mineral.* 36, ch. 4.
[Mi15] Mittlefehldt D.W. 2015, Asteroid (4) Vesta: I. The howardite-eucrite-diogenite (HED)
clan of meteorites, *Chem. Erde* 75:155-183.
[De83] Delaney J.S. et al. 1983, The nomenclature of polymict basaltic achondrites,
*Meteoritics* 18:103-111.
[BM10] Beck A.W. & McSween H.Y. 2010, Diogenites as polymict breccias composed of
orthopyroxenite and harzburgite, *MAPS* 45:850-872 (names adopted by the Nomenclature
Committee, 2011).
[Gr14] Grady M.M., Pratesi G. & Moggi Cecchi V. 2014, *Atlas of Meteorites*, Cambridge Univ.
Press, chs 6-9, 12.
[Ne92] Nehru C.E. et al. 1992, Brachinites: a new primitive achondrite group, *Meteoritics*
27:267.
[Ke14] Keil K. 2014, Brachinite meteorites: partial melt residues from an FeO-rich asteroid,
*Chem. Erde* 74:311-329.
[Be98] Benedix G.K. et al. 1998, A petrologic and isotopic study of winonaites, *GCA*
62:2535-2553.
[McC97] McCoy T.J. et al. 1996, *GCA* 60:2681-2708; 1997, *GCA* 61:623-637 and 639-650
(acapulcoites and lodranites).
[Go92] Goodrich C.A. 1992, Ureilites: a critical review, *Meteoritics* 27:327-352.

Bounds used, and where lithoscope chooses
------------------------------------------
On a boundary a value goes to the lower class (as in `lithoscope.rocks.iugs`). Between two
literature ranges that do not touch, the boundary is the midpoint of the gap and the reasoning
says the value lies between the typical ranges.

* **Ordinary-chondrite groups.** Olivine Fa: H 16-20, L 22-26, LL 26-32 mol %; low-Ca pyroxene
  Fs: H 14.5-18.5, L 19-22, LL 22-26 mol % [VSW67, BJ98]. Boundaries: Fa 21 and 26, Fs 18.75
  and 22. Fa decides when both are given (the usual practice); Fs is checked against it. Then
  Fe-Ni metal, when given (H ~15-19, L ~7-8, LL ~3-4 wt %; boundaries 11.5 and 5.5 wt %), then
  the silicate ratio ol/(ol+px) (all pyroxene), whose group ranges overlap: about H 0.40-0.50,
  L 0.55-0.60, LL 0.60-0.70, after the XRD modes of [Du10]; boundaries 0.525 and 0.60. Metal
  goes before the ratio because its group ranges do not overlap (weathering of finds lowers it).
* **Ordinary chondrite from the silicates** (with or without metal and troilite), windows around
  the normative and XRD modes of equilibrated OCs [McS91, Du10] (olivine + low-Ca pyroxene ~80 %
  of the silicates, Ca-pyroxene ~5 %, feldspar ~10 wt % of the rock, ~12 % of the silicates),
  as % of the silicates: olivine 30-65, feldspar 5-20, Ca-pyroxene <= 15 and <= low-Ca pyroxene.
  The windows are lithoscope's; acapulcoites share this mineralogy and are told apart only by
  their more reduced silicates (Fa 3-14).
* **Chemistry outside the OC ranges** vetoes an OC: Fa <= 15 or Fs <= 14.25 (gap midpoints to the
  acapulcoite Fa/Fs <= 14) is more reduced, Fa > 32 or Fs > 26 more oxidised; plagioclase An > 30
  is more calcic than OC oligoclase (An ~10-12, [VSR68]).
* **Primitive achondrites** (Fa <= 15, or Fs <= 14.25 without Fa; olivine + pyroxene >= 75 % of
  the silicates): acapulcoites and lodranites Fa ~3-14, Fs ~3-14 [Mi98, McC97]; winonaites Fa
  ~1-8, Fs ~1-9 [Be98]. Fa < 3 (Fs < 3) is winonaite; Fa 3-8 (Fs 3-9) is either, and only
  oxygen isotopes (Delta17O) decide. Acapulcoites are finer-grained (~0.15-0.23 mm) than
  lodranites (~0.5-0.7 mm) [McC97]: grain size, not the mode, separates them; lodranites are
  also depleted in plagioclase and troilite, so feldspar < 5 % of the silicates is reported as
  lodranite-like. Fs < 1 (enstatite) belongs to aubrites and E chondrites, not named here.
* **Ureilite**: olivine + pyroxene, feldspar-free (<= 1 % of the silicates), pigeonite the main
  pyroxene or graphite/diamond present; olivine core Fa 5-24 (mg# 76-95, [Gr14, Go92]); typical
  mode ~60 % olivine, ~30 % pyroxene, <= 10 % carbon, metal, sulfide [Gr14].
* **Brachinite**: olivine >= 74 % of the silicates (74-98 vol % [Ne92]) with Fa 30-35 [Ke14];
  without Fa, Ca-pyroxene >= low-Ca pyroxene is required (brachinites carry augite 1.5-8.2 and
  orthopyroxene 0-2.4 vol % [Ne92]), else the rock is left to the diogenite rule. Chassignites
  (Mars, Fa ~32) look the same and are named with ``body="mars"``.
* **HED** [Mi98, Mi15]: plagioclase An >= 60 when given (HED plagioclase An ~60-98, typically
  75-95). A howardite is a breccia of eucrite and diogenite with 10-90 % of each [De83];
  with a eucritic end member of ~40 vol % plagioclase [Gr14] and a diogenitic one of ~0, the
  10 % and 90 % eucritic mixtures have 4 and 36 % plagioclase in the silicates. Diogenites may
  carry up to 10 % plagioclase [BM10]. So: feldspar <= 10 % with low-Ca pyroxene the main
  pyroxene: diogenite (4-10 %: or a diogenite-rich howardite), subtyped by olivine as in [BM10]
  (<= 10 orthopyroxenitic, 10-40 olivine-orthopyroxenitic, 40-90 harzburgitic, > 90 dunitic);
  10-36 %: howardite (one bulk mode cannot show the two components: said in the reasoning);
  36-70 %: eucrite (basaltic or cumulate is textural); > 70 %: none. Low-Ca pyroxene Fs is
  checked against diogenite orthopyroxene (~En67-77, Fs ~21-33) and eucrite pigeonite (Fs ~40-65),
  and a mismatch is reported as a conflict without changing the name. "Harzburgitic" is read as
  LM02's harzburgite (Ca-pyroxene <= 5 % of olivine + pyroxene): an olivine 40-90 % rock with
  more Ca-pyroxene is a lherzolite and not a diogenite.
"""

from __future__ import annotations

from dataclasses import dataclass

from lithoscope.rocks._rules import LOW_CA, TOL, Rule, classify, f1
from lithoscope.rocks.chemistry import Chemistry
from lithoscope.rocks.minerals import Assemblage, weight_percent
from lithoscope.rocks.result import RockName

__all__ = ["meteorite"]

_OTHER_SILICATES = ("quartz", "alkali feldspar", "feldspathoid", "hornblende", "mica", "garnet")

# ---- shared quantities -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Silicates:
    """Olivine, pyroxene and plagioclase recalculated to 100, and their vol % of the rock."""

    ol: float
    low: float  # orthopyroxene + pigeonite + pyroxene given without a split
    high: float  # Ca-rich clinopyroxene
    plag: float
    of_rock: float
    unsplit: bool

    @property
    def px(self) -> float:
        return self.low + self.high

    def describe(self) -> str:
        text = (
            f"silicates ({f1(self.of_rock)} vol % of the rock) recalculated to 100: olivine "
            f"{f1(self.ol)}, low-Ca pyroxene {f1(self.low)}, Ca-pyroxene {f1(self.high)}, "
            f"plagioclase {f1(self.plag)}"
        )
        if self.unsplit:
            text += " (pyroxene given without a split counted as low-Ca)"
        return text


def _silicates(asm: Assemblage) -> _Silicates:
    ol = asm.vol("olivine")
    low = asm.vol(*LOW_CA, "pyroxene")
    high = asm.vol("clinopyroxene")
    plag = asm.vol("plagioclase", "maskelynite")
    total = ol + low + high + plag
    s = 100.0 / total if total > 0 else 0.0
    return _Silicates(ol * s, low * s, high * s, plag * s, total, asm.vol("pyroxene") > 0)


def _silicate_rock(asm: Assemblage, s: _Silicates, out: list[str]) -> bool:
    """True when olivine + pyroxene + plagioclase make the rock (>= 50 vol %, few others)."""
    others = asm.vol(*_OTHER_SILICATES)
    if s.of_rock < 50.0 - TOL or others > 0.1 * s.of_rock + TOL:
        out.append(
            f"olivine + pyroxene + plagioclase {f1(s.of_rock)} vol % (needs >= 50) with "
            f"{f1(others)} vol % quartz, alkali feldspar, foids, amphibole, mica or garnet "
            "(needs <= 10 % of them): not an olivine-pyroxene-plagioclase meteorite"
        )
        return False
    return True


def _between(value: float, lo: float, hi: float) -> bool:
    return lo - TOL <= value <= hi + TOL


# ---- carbonaceous chondrites -----------------------------------------------------------------

_CC_MATRIX = ("phyllosilicate", "magnetite", "carbonate", "sulfide")


def _carbonaceous(asm, iugs, chem, out) -> tuple[str, str] | None:
    matrix = asm.vol(*_CC_MATRIX)
    clay = asm.vol("phyllosilicate")
    if matrix <= 50.0 + TOL or clay <= 0:
        out.append(
            f"phyllosilicate + magnetite + carbonate + sulfide {f1(matrix)} vol % (needs > 50, "
            "with phyllosilicate)"
        )
        return None
    out.append(
        f"phyllosilicate-dominated matrix ({f1(matrix)} vol % with magnetite, carbonate, "
        "sulfide): aqueously altered carbonaceous chondrite, CI/CM-like [BJ98] (anhydrous "
        "CV/CO chondrites are not recognised from a mode)"
    )
    return "carbonaceous chondrite", "CI/CM-like"


# ---- ordinary chondrites ---------------------------------------------------------------------

#: group, typical range (mol %) [VSW67, BJ98]
_OC_FA = (("H", 16.0, 20.0), ("L", 22.0, 26.0), ("LL", 26.0, 32.0))
_OC_FS = (("H", 14.5, 18.5), ("L", 19.0, 22.0), ("LL", 22.0, 26.0))
#: at or below: more reduced than H (midpoint to the acapulcoite Fa/Fs <= 14)
_REDUCED = {"Fa": 15.0, "Fs": 14.25}
#: ol/(ol+px) boundaries H/L, L/LL, after [Du10]
_RATIO = (("H", 0.525), ("L", 0.60), ("LL", float("inf")))
#: Fe-Ni metal wt % boundaries H/L, L/LL
_METAL = (("LL", 5.5), ("L", 11.5), ("H", float("inf")))


@dataclass(frozen=True)
class _Evidence:
    source: str
    group: str
    text: str


def _oc_chemistry(label: str, value: float) -> tuple[str | None, str]:
    """(group or None when outside the OC ranges, reasoning) for Fa or Fs."""
    table = _OC_FA if label == "Fa" else _OC_FS
    what = "olivine Fa" if label == "Fa" else "low-Ca pyroxene Fs"
    ranges = ", ".join(f"{g} {lo:g}-{hi:g}" for g, lo, hi in table)
    if value <= _REDUCED[label] + TOL:
        return None, (
            f"{what} {value:g} <= {_REDUCED[label]:g}: more reduced than H ({ranges} [BJ98]), "
            "as acapulcoites, lodranites and winonaites are"
        )
    if value > table[-1][2] + TOL:
        return None, f"{what} {value:g} > {table[-1][2]:g}: more oxidised than LL ({ranges})"
    bounds = [(table[i][0], (table[i][2] + table[i + 1][1]) / 2) for i in range(len(table) - 1)]
    group = next((g for g, b in bounds if value <= b + TOL), table[-1][0])
    lo, hi = next((lo, hi) for g, lo, hi in table if g == group)
    if _between(value, lo, hi):
        where = f"within {group} {lo:g}-{hi:g}"
    else:
        where = f"outside the typical {group} {lo:g}-{hi:g}, nearest {group}"
    return group, f"{what} {value:g}: {where} ({ranges} [VSW67, BJ98])"


def _oc_group(asm, s: _Silicates, chem: Chemistry, with_metal: bool, out: list[str]) -> str:
    evidence: list[_Evidence] = []
    for label, value in (("Fa", chem.olivine_fa), ("Fs", chem.pyroxene_fs)):
        if value is not None:
            group, text = _oc_chemistry(label, value)
            if group is not None:
                source = "olivine Fa" if label == "Fa" else "pyroxene Fs"
                evidence.append(_Evidence(source, group, text))
            else:
                out.append(f"conflict: {text}")
    if with_metal:
        wt = weight_percent(asm)
        metal = sum(wt[name] for name, info, _ in asm.minerals if info.role == "metal")
        group = next(g for g, b in _METAL if metal <= b + TOL)
        evidence.append(
            _Evidence(
                "Fe-Ni metal",
                group,
                f"Fe-Ni metal {f1(asm.vol('metal'))} vol % = {f1(metal)} wt % (densities of "
                f"minerals.csv): {group} (bounds 11.5 and 5.5 wt %; typical H 15-19, L 7-8, LL "
                "3-4; weathering lowers metal)",
            )
        )
    if s.px > 0:
        ratio = s.ol / (s.ol + s.px)
        group = next(g for g, b in _RATIO if ratio <= b + TOL)
        evidence.append(
            _Evidence(
                "ol/(ol+px)",
                group,
                f"ol/(ol+px) = {ratio:.2f}: {group} (about H 0.40-0.50, L 0.55-0.60, LL "
                "0.60-0.70 [Du10]; bounds 0.525 and 0.60; the groups overlap, the weakest "
                "evidence)",
            )
        )
    out.extend(e.text for e in evidence)
    decider = evidence[0]
    others = [e for e in evidence[1:] if e.group != decider.group]
    text = f"{decider.source} decides: {decider.group}"
    if others:
        text += "; conflict: " + ", ".join(f"{e.source} says {e.group}" for e in others)
    out.append(text)
    return decider.group


def _ordinary(asm, iugs, chem, out) -> tuple[str, str] | None:
    s = _silicates(asm)
    metal, sulfide = asm.vol("metal"), asm.vol("sulfide")
    with_metal = metal > 0 and sulfide > 0
    an = chem.plagioclase_an
    if an is not None and s.plag > 0 and an > 30.0 + TOL:
        out.append(
            f"plagioclase An {an:g} > 30: more calcic than the oligoclase (An ~10-12) of "
            "ordinary chondrites [VSR68]"
        )
        return None
    primary = next(
        ((k, v) for k, v in (("Fa", chem.olivine_fa), ("Fs", chem.pyroxene_fs)) if v is not None),
        None,
    )
    if primary is not None:
        group, text = _oc_chemistry(*primary)
        if group is None:
            out.append(text)
            return None
    if not _silicate_rock(asm, s, out):
        return None
    fits = (
        _between(s.ol, 30.0, 65.0)
        and _between(s.plag, 5.0, 20.0)
        and s.high <= 15.0 + TOL
        and s.high <= s.low + TOL
    )
    if not fits:
        out.append(
            s.describe() + "; outside the ordinary-chondrite windows (olivine 30-65, "
            "plagioclase 5-20, Ca-pyroxene <= 15 and <= low-Ca pyroxene [McS91, Du10])"
        )
        return None
    windows = (
        "within the windows of equilibrated ordinary chondrites (olivine 30-65, plagioclase "
        "5-20, Ca-pyroxene <= 15 and <= low-Ca pyroxene; lithoscope's windows around the modes "
        "of [McS91, Du10])"
    )
    if with_metal:
        out.append(f"{s.describe()}: {windows}, with Fe-Ni metal and troilite: ordinary chondrite")
    else:
        missing = (
            "Fe-Ni metal and troilite"
            if metal <= 0 and sulfide <= 0
            else ("Fe-Ni metal" if metal <= 0 else "troilite")
        )
        out.append(
            f"{missing} not given: recognised from the silicates alone; {s.describe()}: {windows}"
        )
    if not chem.mafic_given:
        out.append(
            "no Fa or Fs given: acapulcoites have the same minerals in similar proportions and "
            "differ by more reduced silicates (Fa 3-14 against >= 16 [Mi98]); give --fa or --fs"
        )
    group = _oc_group(asm, s, chem, with_metal, out)
    return f"{group} chondrite", group


# ---- ureilites -------------------------------------------------------------------------------


def _ureilite(asm, iugs, chem, out) -> tuple[str, str] | None:
    s = _silicates(asm)
    if not _silicate_rock(asm, s, out):
        return None
    pig, opx, cpx = asm.vol("pigeonite"), asm.vol("orthopyroxene"), asm.vol("clinopyroxene")
    carbon = asm.names("carbon")
    pigeonite_main = pig > 0 and pig >= opx - TOL and pig >= cpx - TOL
    if s.ol <= 0 or s.px <= 0 or s.plag > 1.0 + TOL or not (pigeonite_main or carbon):
        out.append(
            f"needs olivine and pyroxene, feldspar <= 1 % of the silicates (has {f1(s.plag)}) "
            "and pigeonite as the main pyroxene or graphite/diamond [Gr14, Go92]"
        )
        return None
    fa = chem.olivine_fa
    if fa is not None and not _between(fa, 5.0, 24.0):
        out.append(f"olivine Fa {fa:g} outside the ureilite olivine cores Fa 5-24 ([Gr14])")
        return None
    why = ["pigeonite the main pyroxene"] if pigeonite_main else []
    if carbon:
        why.append(f"with {', '.join(carbon)}")
    out.append(
        s.describe() + f"; feldspar-free olivine-pyroxene rock, {', '.join(why)}: ureilite "
        "(typically ~60 % olivine, ~30 % pigeonite, <= 10 % carbon, metal, sulfide [Gr14])"
    )
    if fa is not None:
        out.append(f"olivine Fa {fa:g} within the ureilite cores Fa 5-24 (mg# 76-95 [Gr14])")
    else:
        out.append("no Fa given: ureilite olivine cores are Fa 5-24 [Gr14]; lodranites overlap")
    return "ureilite", "olivine-pigeonite" if pigeonite_main else "carbon-bearing"


# ---- primitive achondrites -------------------------------------------------------------------


def _primitive(asm, iugs, chem, out) -> tuple[str, str] | None:
    fa, fs = chem.olivine_fa, chem.pyroxene_fs
    if fa is None and fs is None:
        out.append(
            "no Fa or Fs given: primitive achondrites are told from chondrites and from each "
            "other by how reduced their silicates are"
        )
        return None
    label, value = ("Fa", fa) if fa is not None else ("Fs", fs)
    if value > _REDUCED[label] + TOL:
        out.append(
            f"{label} {value:g} > {_REDUCED[label]:g}: not as reduced as acapulcoites/lodranites "
            "(Fa, Fs ~3-14 [Mi98]) or winonaites (Fa ~1-8 [Be98])"
        )
        return None
    if fs is not None and fs < 1.0 - TOL and fa is None:
        out.append(f"Fs {fs:g} < 1: enstatite, as in aubrites and E chondrites (not named here)")
        return None
    s = _silicates(asm)
    if not _silicate_rock(asm, s, out):
        return None
    if s.ol + s.px < 75.0 - TOL:
        out.append(s.describe() + "; olivine + pyroxene < 75 %: not a primitive achondrite")
        return None
    out.append(
        s.describe() + f"; {label} {value:g} <= {_REDUCED[label]:g}: reduced olivine-pyroxene "
        "rock, a primitive achondrite [Mi98]"
    )
    win_hi = 8.0 if label == "Fa" else 9.0
    if value < 3.0 - TOL:
        out.append(
            f"{label} {value:g} < 3: below acapulcoites/lodranites (~3-14 [Mi98, McC97]), within "
            f"winonaites ({label} ~1-{win_hi:g} [Be98]); oxygen isotopes would confirm"
        )
        return "winonaite", "winonaite"
    if value <= win_hi + TOL:
        out.append(
            f"{label} {value:g} in the overlap of winonaites ({label} ~1-{win_hi:g} [Be98]) and "
            "acapulcoites/lodranites (~3-14 [Mi98]): oxygen isotopes (Delta17O) decide, not the "
            "mode or the chemistry given"
        )
        return "primitive achondrite", "acapulcoite/lodranite or winonaite"
    depleted = s.plag < 5.0 - TOL
    kind = "lodranite-like" if depleted else "acapulcoite-like"
    out.append(
        f"{label} {value:g} in 3-14 above the winonaites: acapulcoite-lodranite clan [Mi98, "
        f"McC97]; plagioclase {f1(s.plag)} % of the silicates: {kind} (lodranites are depleted in "
        "plagioclase and troilite); grain size decides (acapulcoites ~0.15-0.23 mm, lodranites "
        "~0.5-0.7 mm [McC97]), which a mode does not carry"
    )
    return "acapulcoite/lodranite", kind


# ---- brachinites -----------------------------------------------------------------------------


def _brachinite(asm, iugs, chem, out) -> tuple[str, str] | None:
    s = _silicates(asm)
    if not _silicate_rock(asm, s, out):
        return None
    if s.ol < 74.0 - TOL:
        out.append(f"olivine {f1(s.ol)} % of the silicates < 74 (brachinites 74-98 vol % [Ne92])")
        return None
    fa = chem.olivine_fa
    if fa is not None and not _between(fa, 30.0, 35.0):
        out.append(f"olivine {f1(s.ol)} % but Fa {fa:g} outside the brachinite Fa 30-35 [Ke14]")
        return None
    if fa is None and s.high < s.low - TOL:
        out.append(
            f"olivine {f1(s.ol)} %, no Fa given, and low-Ca pyroxene {f1(s.low)} > Ca-pyroxene "
            f"{f1(s.high)}: more like an olivine-rich diogenite (brachinite pyroxene is mainly "
            "augite [Ne92]); Fa would decide"
        )
        return None
    out.append(
        s.describe() + "; olivine >= 74 %: olivine-dominated achondrite, brachinite [Ne92, Ke14]"
    )
    if fa is not None:
        out.append(f"olivine Fa {fa:g} within brachinites' Fa 30-35 [Ke14]")
    else:
        out.append(
            f"no Fa given; Ca-pyroxene {f1(s.high)} >= low-Ca pyroxene {f1(s.low)} as in "
            "brachinites [Ne92]; Fa 30-35 would confirm"
        )
    out.append(
        "chassignites (Martian dunites, Fa ~32) share mode and Fa; oxygen isotopes tell them apart "
        "(use body='mars' for a Martian sample)"
    )
    return "brachinite", "brachinite"


# ---- HED: howardites, eucrites, diogenites ---------------------------------------------------

_EUCRITIC_PLAG = 40.0  # vol % plagioclase of a eucrite [Gr14]


def _diogenite_subtype(ol: float) -> tuple[str, str]:
    if ol > 90.0 + TOL:
        return "dunitic diogenite", "dunitic (olivine > 90)"
    if ol > 40.0 + TOL:
        return "harzburgitic diogenite", "harzburgitic (olivine 40-90)"
    if ol > 10.0 + TOL:
        return "olivine-orthopyroxenitic diogenite", "olivine-orthopyroxenitic (olivine 10-40)"
    return "diogenite", "orthopyroxenitic (olivine <= 10)"


def _hed(asm, iugs, chem, out) -> tuple[str, str] | None:
    s = _silicates(asm)
    if not _silicate_rock(asm, s, out):
        return None
    an = chem.plagioclase_an
    if an is not None and s.plag > 0 and an < 60.0 - TOL:
        out.append(f"plagioclase An {an:g} < 60: more sodic than HED plagioclase (An ~60-98)")
        return None
    eucritic = 100.0 * s.plag / _EUCRITIC_PLAG
    mix = (
        f"plagioclase {f1(s.plag)} % of the silicates ~ {f1(min(eucritic, 100.0))} % eucritic "
        f"component (eucrite ~{_EUCRITIC_PLAG:g} % plagioclase [Gr14], diogenite ~0)"
    )
    fs = chem.pyroxene_fs
    if s.plag <= 10.0 + TOL:
        if (s.low <= 0 and s.ol <= 90.0 + TOL) or s.high > s.low + TOL:
            out.append(
                s.describe() + "; feldspar <= 10 % but low-Ca pyroxene is not the main pyroxene: "
                "not a diogenite"
            )
            return None
        name, field = _diogenite_subtype(s.ol)
        mafic = s.ol + s.px
        cpx_share = 100.0 * s.high / mafic if mafic > 0 else 0.0
        if name == "harzburgitic diogenite" and cpx_share > 5.0 + TOL:
            out.append(
                s.describe() + f"; olivine 40-90 % but Ca-pyroxene {f1(cpx_share)} % of "
                "olivine + pyroxene (> 5): a lherzolite, not the harzburgite that harzburgitic "
                "diogenites are [BM10, LM02]: not a diogenite"
            )
            return None
        out.append(
            s.describe() + f"; {mix}: plagioclase <= 10 % with low-Ca pyroxene the main "
            f"pyroxene: diogenite [Mi98, BM10], {field} [BM10]"
        )
        if s.plag > 4.0 + TOL:
            out.append(
                "plagioclase > 4 %: also a diogenite-rich howardite (> 10 % eucritic component "
                "[De83]); a bulk mode cannot tell"
            )
        if fs is not None and not _between(fs, 21.0, 33.0):
            out.append(
                f"conflict: Fs {fs:g} outside diogenite orthopyroxene (~En67-77, Fs ~21-33 "
                "[Mi98])"
                + (
                    "; eucritic pyroxene would point to a howardite"
                    if fs > 33.0
                    else "; more magnesian than diogenites"
                )
            )
        return name, field
    if s.plag <= 36.0 + TOL:
        if s.px < s.ol or s.low <= 0:
            out.append(s.describe() + "; pyroxene is not the main mafic mineral: not a howardite")
            return None
        out.append(
            s.describe() + f"; {mix}: between the 10 % and 90 % eucritic mixtures (4 and 36 % "
            "plagioclase): howardite, a breccia of eucrite and diogenite [De83, Mi15]"
        )
        out.append(
            "caveat: one bulk mode cannot show the two components; a plagioclase-poor eucrite "
            "or a plagioclase-rich diogenite would land here too. Pyroxene in two populations "
            "(diogenitic Fs ~20-33, eucritic Fs ~40-65) would confirm"
        )
        return "howardite", "howardite"
    if s.plag > 70.0 + TOL:
        out.append(s.describe() + "; plagioclase > 70 %: more feldspathic than eucrites")
        return None
    if s.px < s.ol or s.low <= 0:
        out.append(s.describe() + "; needs pyroxene with low-Ca pyroxene as the mafic mineral")
        return None
    out.append(
        s.describe() + f"; {mix}: plagioclase >= 36 % with pyroxene: eucrite (pigeonite + "
        "plagioclase basalt or gabbro [Mi98]; basaltic or cumulate is textural)"
    )
    if s.high > s.low + TOL:
        out.append(
            "Ca-pyroxene exceeds low-Ca pyroxene: eucrite pigeonite exsolves augite lamellae, "
            "counted apart they can dominate; an augite basalt could also be an angrite"
        )
    if an is not None:
        typical = "within" if _between(an, 75.0, 95.0) else "outside"
        out.append(f"plagioclase An {an:g} {typical} the typical eucrite An ~75-95 [Mi98]")
    if fs is not None and fs < 33.0 - TOL:
        out.append(
            f"conflict: Fs {fs:g} is diogenitic (Fs <~ 33), not eucritic pigeonite (Fs ~40-65 "
            "[Mi98]): a howardite or a magnesian cumulate eucrite"
        )
    return "eucrite", "eucrite"


_METEORITE_RULES: tuple[tuple[str, Rule], ...] = (
    ("carbonaceous chondrite", _carbonaceous),
    ("ordinary chondrite", _ordinary),
    ("ureilite", _ureilite),
    ("primitive achondrite", _primitive),
    ("brachinite", _brachinite),
    ("HED achondrite", _hed),
)


def meteorite(
    asm: Assemblage,
    *,
    an: float | None = None,
    volcanic: bool = False,
    fa: float | None = None,
    fs: float | None = None,
) -> RockName:
    """Meteorite class: chondrites, ureilite, primitive achondrites, brachinite, HED.

    Parameters
    ----------
    asm : Assemblage
        From `lithoscope.rocks.minerals.parse_modes`.
    an, fa, fs : float, optional
        Plagioclase An, olivine Fa and low-Ca pyroxene Fs, mol % (validated by
        `lithoscope.rocks.name_rock`; here taken as given).
    volcanic : bool, default=False
        For the IUGS name quoted in the reasoning.

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> modes = {"olivine": 40, "orthopyroxene": 30, "plagioclase": 10, "kamacite": 9,
    ...          "troilite": 5, "clinopyroxene": 6}
    >>> meteorite(parse_modes(modes)).name
    'H chondrite'
    >>> meteorite(parse_modes({"olivine": 55, "orthopyroxene": 24, "augite": 8,
    ...                        "plagioclase": 13}), fa=29).name
    'LL chondrite'
    >>> meteorite(parse_modes({"pigeonite": 45, "augite": 10, "plagioclase": 45}), an=88).name
    'eucrite'
    """
    chem = Chemistry(plagioclase_an=an, olivine_fa=fa, pyroxene_fs=fs)
    return classify(asm, chem, volcanic, "meteorite", _METEORITE_RULES)
