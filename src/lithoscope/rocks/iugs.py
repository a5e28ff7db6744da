"""IUGS modal classification of igneous rocks: QAPF, ultramafic and gabbroic triangles [LM02].

References
----------
[LM02] Le Maitre R.W. (ed.) 2002, *Igneous Rocks: A Classification and Glossary of Terms*, 2nd ed.,
Cambridge Univ. Press (sections 2.3-2.11, Figs 2.4, 2.6-2.9, 2.11).
[S76] Streckeisen A. 1976, To each plutonic rock its proper name, *Earth-Sci. Rev.* 12:1-33.

Conventions and where lithoscope deviates or where ROCKS.md is imprecise
------------------------------------------------------------------------
* **On a boundary.** LM02 draws lines, not inequalities. A coordinate exactly on a boundary is
  put in the field on the *lower* side of that coordinate (Q = 20 -> quartz monzonite side,
  Ol = 90 -> peridotite, plagioclase = 90 -> leuco-gabbroic rock, An = 50 -> diorite), with a
  tolerance of 1e-9 vol % for rounding. Exceptions: LM02's own wording "M equal to or greater
  than 90" for ultramafic rocks, kept as written; and the anorthosite limit of QAPF field 10,
  read as "plagioclase > 90" (the gabbroic triangles' wording), so M = 10 is not anorthosite.
* **QAPF lower triangle.** ROCKS.md gives the P/(A+P) steps of fields 11-14 as "same steps"
  (10/35/65/90); LM02's foid fields 11-14 are bounded at P/(A+P) = 10, 50, 90 (four fields),
  and that is what is used here. Fields 6'-10' (F <= 10) use 10/35/65/90.
* **Volcanic 9'-10'.** Foid-bearing basalt/andesite fields get no qualifier here (basalt, andesite);
  LM02 separates basanite/tephrite from basalt at F = 10.
* **Basalt or andesite** (volcanic 9-10) should be decided by SiO2 (about 52 wt %) [LM02]; from a
  mode only the colour index M = 35 vol % is available, and it is used with a note.
* **Diorite or gabbro** is decided by the plagioclase An (50) [LM02]. When An is neither given
  nor implied by the plagioclase names, gabbro is assumed (the planetary rocks lithoscope sees are
  An-rich) and the reasoning gives the dioritic alternative.
* **Ultramafic pyroxenites.** ROCKS.md splits orthopyroxenite/websterite/clinopyroxenite at 90 %
  of the pyroxene; LM02 Fig. 2.9 draws the corresponding lines in the Ol-Opx-Cpx triangle. Here
  the pyroxene ratio (90 %) is used in the whole pyroxenite band (Ol <= 40), including the
  olivine pyroxenites, for which ROCKS.md states no split. Peridotites are split at 5 % Opx or
  Cpx of the whole triangle, as LM02 draws them.
* **Gabbroic Plag-Opx-Cpx.** Gabbro (s.s.) / gabbronorite / norite are split at 5 % of the
  pyroxene (ROCKS.md; LM02's lines radiate from the plagioclase apex).
* **Hornblende.** When hornblende is > 5 % of the triangle's minerals the Ol-Px-Hbl, Opx-Cpx-Hbl
  or Plag-Px-Hbl triangles would be needed; they are not implemented and the rock is left
  unclassified with that reason.
* **Pigeonite** counts with orthopyroxene (see ``lithoscope.rocks.minerals``); maskelynite counts
  as plagioclase (it is diaplectic plagioclase glass); albite (An0-5) counts as alkali feldspar
  [LM02], and so does plagioclase whose given An is below 5.
* **Non-igneous phases** (phyllosilicates, sulfates, secondary iron oxides, glass) are left out
  of the recalculation and named in the reasoning; at >= 50 vol % the modal schemes do not apply.
  Carbonate counts in M (LM02's primary carbonate) unless it is > 50 % (carbonatite).
"""

from __future__ import annotations

from collections.abc import Callable

from lithoscope.rocks.minerals import Assemblage
from lithoscope.rocks.result import UNCLASSIFIED, RockName

__all__ = ["gabbroic", "iugs_name", "qapf", "ultramafic"]

_TOL = 1e-9
_NON_IGNEOUS = ("phyllosilicate", "sulfate", "iron oxide", "glass")
_P_ROLES = ("plagioclase", "maskelynite")
_OPX = ("orthopyroxene", "pigeonite")


def _above(x: float, bound: float) -> bool:
    """True when ``x`` is in the field above ``bound`` (a value on the boundary is below)."""
    return x > bound + _TOL


def _f(x: float) -> str:
    return f"{x:.1f}"


class _Ctx:
    """Quantities shared by the three IUGS schemes, computed once from an assemblage."""

    def __init__(self, asm: Assemblage, an: float | None, volcanic: bool):
        self.asm = asm
        self.steps: list[str] = list(asm.notes)
        self.volcanic = volcanic
        excluded = asm.vol(*_NON_IGNEOUS)
        self.excluded = excluded
        crystalline = 100.0 - excluded
        self.crystalline = crystalline
        scale = 100.0 / crystalline if crystalline > 0 else 0.0
        self.scale = scale
        q = asm.vol("quartz") * scale
        a = asm.vol("alkali feldspar") * scale
        p = asm.vol(*_P_ROLES) * scale
        f = asm.vol("feldspathoid") * scale
        if an is not None and p > 0 and not _above(an, 5.0):
            self.steps.append(
                f"plagioclase An {an:g} <= 5: counted as alkali feldspar (A), as LM02 does "
                "for albite An0-5"
            )
            a, p = a + p, 0.0
        self.q, self.a, self.p, self.f = q, a, p, f
        self.m = 100.0 - (q + a + p + f)
        self.an = an
        self.an_range = asm.an_range()

    def pigeonite_note(self) -> None:
        if self.asm.vol("pigeonite") > 0:
            self.steps.append(
                "pigeonite counted with orthopyroxene as low-Ca pyroxene (inverts to "
                "orthopyroxene on slow cooling, DHZ; lunar usage St80); counted as "
                "clinopyroxene instead, the Opx/Cpx split would change"
            )

    def gabbroic_an(self) -> tuple[bool, str]:
        """(An > 50?, how it was decided) for the diorite/gabbro choice."""
        if self.an is not None:
            return _above(self.an, 50.0), f"plagioclase An {self.an:g} (given)"
        if self.an_range is not None:
            lo, hi = self.an_range
            if not _above(hi, 50.0):
                return False, f"plagioclase names imply An {lo:g}-{hi:g} <= 50"
            if lo >= 50.0:
                return True, f"plagioclase names imply An {lo:g}-{hi:g} > 50"
        return True, "An unknown: assumed > 50 (gabbroic); give --an to decide"

    def rock(self, name: str, scheme: str, field: str) -> RockName:
        return RockName(name=name, scheme=scheme, field=field, reasoning=tuple(self.steps))


def iugs_name(asm: Assemblage, *, an: float | None = None, volcanic: bool = False) -> RockName:
    """Name an assemblage by the IUGS modal schemes, choosing the scheme as LM02 does.

    M >= 90 -> ultramafic (Ol-Opx-Cpx); otherwise QAPF, whose field 10 (plutonic, An > 50) is
    refined by the gabbroic triangles.

    Parameters
    ----------
    asm : Assemblage
        From `lithoscope.rocks.minerals.parse_modes`.
    an : float, optional
        Plagioclase anorthite content, mol %.
    volcanic : bool, default=False
        Volcanic QAPF names instead of plutonic ones.

    Returns
    -------
    RockName
    """
    ctx = _Ctx(asm, an, volcanic)
    if ctx.excluded > 0:
        ctx.steps.append(
            f"{_f(ctx.excluded)} vol % non-igneous or glassy phases "
            f"({', '.join(asm.names(*_NON_IGNEOUS))}) left out; the rest recalculated to 100"
        )
    if not _above(ctx.crystalline, 50.0):
        ctx.steps.append(
            "IUGS modal schemes apply to crystalline igneous rocks; here half or more of the "
            "mode is secondary or glassy (glassy volcanic rocks are named chemically, TAS)"
        )
        return ctx.rock(UNCLASSIFIED, "iugs-qapf", "")
    carbonate = asm.vol("carbonate") * ctx.scale
    if _above(carbonate, 50.0):
        ctx.steps.append(
            f"carbonate {_f(carbonate)} % > 50: carbonatite [LM02 2.4] if the carbonate is "
            "primary magmatic (secondary carbonate would make it a sedimentary or altered rock)"
        )
        return ctx.rock("carbonatite", "iugs-qapf", "carbonatite")
    ctx.steps.append(
        f"LM02: M = {_f(ctx.m)} (mafic and related minerals), Q {_f(ctx.q)}, A {_f(ctx.a)}, "
        f"P {_f(ctx.p)}, F {_f(ctx.f)} vol %"
    )
    if ctx.m >= 90.0 - _TOL:
        ctx.steps.append("M >= 90: ultramafic rock, Ol-Opx-Cpx triangle [LM02 2.10]")
        return _ultramafic(ctx)
    ctx.steps.append("M < 90: QAPF classification [LM02 2.3, S76]")
    return _qapf(ctx)


def ultramafic(asm: Assemblage) -> RockName:
    """Name an ultramafic assemblage in the Ol-Opx-Cpx triangle [LM02 Fig. 2.9].

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> ultramafic(parse_modes({"olivine": 70, "orthopyroxene": 20, "clinopyroxene": 10})).name
    'lherzolite'
    """
    return _ultramafic(_Ctx(asm, None, False))


def gabbroic(asm: Assemblage) -> RockName:
    """Name a gabbroic assemblage in the Plag-Px-Ol and Plag-Opx-Cpx triangles [LM02 Fig. 2.8].

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> gabbroic(parse_modes({"plagioclase": 60, "orthopyroxene": 40})).name
    'norite'
    """
    return _gabbroic(_Ctx(asm, None, False), prefix="")


def qapf(asm: Assemblage, *, an: float | None = None, volcanic: bool = False) -> RockName:
    """Name an assemblage in the QAPF double triangle [S76, LM02 Figs 2.4, 2.11].

    Examples
    --------
    >>> from lithoscope.rocks.minerals import parse_modes
    >>> qapf(parse_modes({"quartz": 30, "orthoclase": 30, "plagioclase": 30, "biotite": 10})).name
    'granite'
    """
    return _qapf(_Ctx(asm, an, volcanic))


def _ultramafic_root(ol: float, opx: float, cpx: float, split: bool) -> tuple[str, str, str]:
    """(name, band, boundary text) in the Ol-Opx-Cpx triangle; coordinates sum to 100."""
    if _above(ol, 90.0):
        return "dunite", "dunite", f"Ol {_f(ol)} > 90: dunite"
    if _above(ol, 40.0):
        if not split:
            return "peridotite", "peridotite", f"Ol {_f(ol)} in 40-90; Opx/Cpx not split"
        if not _above(cpx, 5.0):
            why = f"Ol {_f(ol)} in 40-90, Cpx {_f(cpx)} <= 5: harzburgite"
            return "harzburgite", "peridotite", why
        if not _above(opx, 5.0):
            return "wehrlite", "peridotite", f"Ol {_f(ol)} in 40-90, Opx {_f(opx)} <= 5: wehrlite"
        why = f"Ol {_f(ol)} in 40-90, Opx {_f(opx)} and Cpx {_f(cpx)} > 5: lherzolite"
        return "lherzolite", "peridotite", why
    olivine = _above(ol, 10.0)
    band = "olivine pyroxenite" if olivine else "pyroxenite"
    lead = "olivine " if olivine else ""
    ol_text = f"Ol {_f(ol)} in 10-40" if olivine else f"Ol {_f(ol)} <= 10"
    if not split:
        return f"{lead}pyroxenite", band, f"{ol_text}; Opx/Cpx not split: {lead}pyroxenite"
    share = 100.0 * opx / (opx + cpx)
    if _above(share, 90.0):
        root = "orthopyroxenite"
    elif _above(100.0 - share, 90.0):
        root = "clinopyroxenite"
    else:
        root = "websterite"
    why = f"{ol_text}; Opx is {_f(share)} % of the pyroxene (90/10 split): {lead}{root}"
    return f"{lead}{root}", band, why


def _hornblende_blocks(ctx: _Ctx, others: float, triangles: str) -> bool:
    hbl = ctx.asm.vol("hornblende")
    if hbl <= 0:
        return False
    share = 100.0 * hbl / (hbl + others)
    if _above(share, 5.0):
        ctx.steps.append(
            f"hornblende is {_f(share)} % (> 5) of the triangle's minerals: the {triangles} "
            "triangles [LM02] would be needed; lithoscope does not implement them"
        )
        return True
    ctx.steps.append(f"hornblende {_f(share)} % (<= 5) of the triangle's minerals: ignored")
    return False


def _ultramafic(ctx: _Ctx) -> RockName:
    asm = ctx.asm
    ol, opx, cpx = asm.vol("olivine"), asm.vol(*_OPX), asm.vol("clinopyroxene")
    px_unsplit = asm.vol("pyroxene")
    total = ol + opx + cpx + px_unsplit
    if total <= 0:
        ctx.steps.append(
            "no olivine or pyroxene: LM02 names such ultramafic rocks by their main mineral "
            "(hornblendite, magnetitite ...), which lithoscope does not"
        )
        return ctx.rock(UNCLASSIFIED, "iugs-ultramafic", "")
    if _hornblende_blocks(ctx, total, "Ol-Px-Hbl and Opx-Cpx-Hbl"):
        return ctx.rock(UNCLASSIFIED, "iugs-ultramafic", "hornblende-bearing")
    ctx.pigeonite_note()
    split = px_unsplit <= 0
    if px_unsplit > 0:
        ctx.steps.append("pyroxene given without Opx/Cpx split: only the Ol bands can be named")
    s = 100.0 / total
    ol_t, opx_t, cpx_t = ol * s, opx * s, cpx * s
    ctx.steps.append(
        f"Ol-Opx-Cpx recalculated to 100: Ol {_f(ol_t)}, Opx {_f(opx_t)}, Cpx {_f(cpx_t)}"
        + (f", Px {_f(px_unsplit * s)}" if px_unsplit > 0 else "")
    )
    name, band, why = _ultramafic_root(ol_t, opx_t, cpx_t, split)
    ctx.steps.append(why)
    outside = 100.0 - ctx.excluded - total - asm.vol(*_P_ROLES)
    if _above(outside, 5.0):
        ctx.steps.append(
            f"{_f(outside)} vol % of the rock lies outside the triangle "
            f"({', '.join(n for n in _names_outside(asm))}); LM02 would add mineral qualifiers"
        )
    plag = asm.vol(*_P_ROLES)
    if plag > 0:
        name = f"plagioclase-bearing {name}"
        ctx.steps.append(f"plagioclase {_f(plag)} vol % present: plagioclase-bearing")
    return ctx.rock(name, "iugs-ultramafic", band)


def _names_outside(asm: Assemblage) -> list[str]:
    inside = {"olivine", "pyroxene", "clinopyroxene", *_OPX, *_P_ROLES, *_NON_IGNEOUS}
    return [info.name for _, info, v in asm.minerals if info.role not in inside and v > 0]


def _gabbroic(ctx: _Ctx, *, prefix: str) -> RockName:
    asm = ctx.asm
    plag, ol = asm.vol(*_P_ROLES), asm.vol("olivine")
    opx, cpx, px_unsplit = asm.vol(*_OPX), asm.vol("clinopyroxene"), asm.vol("pyroxene")
    px = opx + cpx + px_unsplit
    total = plag + px + ol
    if total <= 0:
        ctx.steps.append("no plagioclase, pyroxene or olivine: gabbroic triangles do not apply")
        return ctx.rock(UNCLASSIFIED, "iugs-gabbroic", "")
    if _hornblende_blocks(ctx, total, "Plag-Px-Hbl"):
        return ctx.rock(UNCLASSIFIED, "iugs-gabbroic", "hornblende-bearing")
    ctx.pigeonite_note()
    s = 100.0 / total
    pl_t, px_t, ol_t = plag * s, px * s, ol * s
    ctx.steps.append(
        f"gabbroic triangles [LM02 Fig. 2.8]: Plag-Px-Ol recalculated to 100: Plag {_f(pl_t)}, "
        f"Px {_f(px_t)}, Ol {_f(ol_t)}"
    )
    if _above(pl_t, 90.0):
        ctx.steps.append(f"Plag {_f(pl_t)} > 90: anorthosite")
        return ctx.rock(f"{prefix}anorthosite", "iugs-gabbroic", "anorthosite")
    if not _above(pl_t, 10.0):
        ctx.steps.append(f"Plag {_f(pl_t)} <= 10: plagioclase-bearing ultramafic rock")
        name, band, why = _ultramafic_root(
            100 * ol / (ol + px), 100 * opx / (ol + px), 100 * cpx / (ol + px), px_unsplit <= 0
        )
        ctx.steps.append(why)
        return ctx.rock(f"plagioclase-bearing {name}", "iugs-gabbroic", band)
    if _above(pl_t, 65.0):
        lm, lm_text = "leuco", f"Plag {_f(pl_t)} in 65-90: leuco-"
    elif _above(pl_t, 35.0):
        lm, lm_text = "", f"Plag {_f(pl_t)} in 35-65: no colour prefix"
    else:
        lm, lm_text = "mela", f"Plag {_f(pl_t)} in 10-35: mela-"
    if not _above(px_t, 5.0):
        ctx.steps.append(f"Px {_f(px_t)} <= 5: troctolite; {lm_text}")
        return ctx.rock(f"{prefix}{lm}troctolite", "iugs-gabbroic", "troctolite")
    olivine = _above(ol_t, 5.0)
    field1 = "olivine gabbro" if olivine else "gabbro"
    ctx.steps.append(
        f"Ol {_f(ol_t)} {'>' if olivine else '<='} 5 and Px {_f(px_t)} > 5: {field1}; {lm_text}"
    )
    if px_unsplit > 0:
        ctx.steps.append("pyroxene not split into Opx/Cpx: Plag-Opx-Cpx triangle not used")
        root, field2 = "gabbro", "gabbro (s.l.)"
    else:
        share = 100.0 * opx / (opx + cpx)
        if not _above(share, 5.0):
            root = "gabbro"
        elif not _above(100.0 - share, 5.0):
            root = "norite"
        else:
            root = "gabbronorite"
        field2 = root
        ctx.steps.append(f"Plag-Opx-Cpx: Opx is {_f(share)} % of the pyroxene (5/95 split): {root}")
    name = f"{prefix}{'olivine ' if olivine else ''}{lm}{root}"
    return ctx.rock(name, "iugs-gabbroic", f"Plag-Px-Ol {field1}, Plag-Opx-Cpx {field2}")


_UPPER_PLUTONIC = ("alkali-feldspar granite", "granite", "granite", "granodiorite", "tonalite")
_UPPER_FIELDS = ("2", "3a", "3b", "4", "5")
_MIDDLE_PLUTONIC = ("alkali-feldspar syenite", "syenite", "monzonite", "monzo{dg}", "{dg}")
_MIDDLE_VOLCANIC = ("alkali-feldspar trachyte", "trachyte", "latite", "{ab}", "{ab}")
_FOID_PLUTONIC = ("{foid} syenite", "{foid} monzosyenite", "{foid} monzo{dg}", "{foid} {dg}")
_FOID_VOLCANIC = ("phonolite", "tephritic phonolite", "phonolitic {bt}", "{bt}")
_UPPER_VOLCANIC = ("alkali-feldspar rhyolite", "rhyolite", "rhyolite", "dacite", "dacite")


#: Volcanic field-15 names after the one feldspathoid present [LM02]; others stay "foidite".
_FOIDITES = {"nepheline": "nephelinite", "leucite": "leucitite"}


def _column(r: float, bounds: tuple[float, ...]) -> int:
    return sum(1 for b in bounds if _above(r, b))


def _qapf(ctx: _Ctx) -> RockName:
    q, a, p, f = ctx.q, ctx.a, ctx.p, ctx.f
    mode = "volcanic" if ctx.volcanic else "plutonic"
    if q > 0 and f > 0:
        ctx.steps.append(
            f"quartz {_f(q)} and feldspathoid {_f(f)} both present: silica minerals and foids do "
            "not coexist in an igneous rock [LM02]; check the mode"
        )
        return ctx.rock(UNCLASSIFIED, "iugs-qapf", "")
    upper = f <= 0
    apex = q if upper else f
    s = 100.0 / (apex + a + p)
    apex_t, r = apex * s, (100.0 * p / (a + p) if a + p > 0 else None)
    letter = "Q" if upper else "F"
    ctx.steps.append(
        f"QAPF {'upper (QAP)' if upper else 'lower (FAP)'} triangle, {mode}: recalculated "
        f"{letter} {_f(apex_t)}, A {_f(a * s)}, P {_f(p * s)}"
        + (f"; P/(A+P) = {_f(r)}" if r is not None else "")
    )
    if upper:
        if _above(apex_t, 60.0):
            field = "1a" if _above(apex_t, 90.0) else "1b"
            ctx.steps.append(f"Q {_f(apex_t)} > {90 if field == '1a' else 60}: field {field}")
            if ctx.volcanic:
                ctx.steps.append("LM02 gives no volcanic name for QAPF fields 1a/1b")
                return ctx.rock(UNCLASSIFIED, "iugs-qapf", field)
            name = "quartzolite" if field == "1a" else "quartz-rich granitoid"
            return ctx.rock(name, "iugs-qapf", field)
        if _above(apex_t, 20.0):
            col = _column(r, (10, 35, 65, 90))
            field = _UPPER_FIELDS[col]
            names = _UPPER_VOLCANIC if ctx.volcanic else _UPPER_PLUTONIC
            ctx.steps.append(
                f"Q {_f(apex_t)} in 20-60 and P/(A+P) {_f(r)} (bounds 10/35/65/90): "
                f"field {field}"
                + (" (syenogranite)" if field == "3a" else "")
                + (" (monzogranite)" if field == "3b" else "")
            )
            return ctx.rock(names[col], "iugs-qapf", field)
        col = _column(r, (10, 35, 65, 90))
        quartz = _above(apex_t, 5.0)
        field = f"{6 + col}{'*' if quartz else ''}"
        band = f"Q {_f(apex_t)} in 5-20" if quartz else f"Q {_f(apex_t)} <= 5"
        ctx.steps.append(f"{band} and P/(A+P) {_f(r)} (bounds 10/35/65/90): field {field}")
        lead = "quartz " if quartz else ""
    else:
        if _above(apex_t, 60.0):
            ctx.steps.append(f"F {_f(apex_t)} > 60: field 15")
            names = ctx.asm.names("feldspathoid")
            if ctx.volcanic:
                name = _FOIDITES.get(names[0], "foidite") if len(names) == 1 else "foidite"
            else:
                name = "foidolite"
            return ctx.rock(name, "iugs-qapf", "15")
        if _above(apex_t, 10.0):
            col = _column(r, (10, 50, 90))
            field = str(11 + col)
            ctx.steps.append(
                f"F {_f(apex_t)} in 10-60 and P/(A+P) {_f(r)} (bounds 10/50/90): field {field}"
            )
            template = (_FOID_VOLCANIC if ctx.volcanic else _FOID_PLUTONIC)[col]
            return _fill(ctx, template, field)
        col = _column(r, (10, 35, 65, 90))
        field = f"{6 + col}'"
        ctx.steps.append(
            f"F {_f(apex_t)} in 0-10 and P/(A+P) {_f(r)} (bounds 10/35/65/90): field {field}"
        )
        lead = "" if ctx.volcanic and col >= 3 else _foid(ctx, "foid-bearing ")
    template = (_MIDDLE_VOLCANIC if ctx.volcanic else _MIDDLE_PLUTONIC)[col]
    if not ctx.volcanic and col == 4 and ctx.m < 10.0 - _TOL:
        ctx.steps.append(f"M {_f(ctx.m)} < 10 with P/(A+P) > 90: anorthosite [LM02]")
        return ctx.rock(f"{lead}anorthosite", "iugs-qapf", field)
    if not ctx.volcanic and field == "10":
        gabbro, why = ctx.gabbroic_an()
        alternative = " (with An <= 50 it would be diorite)" if why.startswith("An ") else ""
        ctx.steps.append(f"{why}: {'gabbroic rock' if gabbro else 'diorite'}{alternative}")
        if not gabbro:
            return ctx.rock("diorite", "iugs-qapf", field)
        return _gabbroic(ctx, prefix="")
    return _fill(ctx, lead + template, field)


def _foid(ctx: _Ctx, text: str) -> str:
    """Replace 'foid' by the feldspathoid's name when one kind is given, as LM02 recommends."""
    names = ctx.asm.names("feldspathoid")
    if len(names) == 1 and names[0] not in ("feldspathoid", "foid"):
        return text.replace("foid", names[0], 1)
    return text


def _fill(ctx: _Ctx, template: str, field: str) -> RockName:
    fillers: dict[str, Callable[[], str]] = {
        "dg": lambda: _diorite_or_gabbro(ctx),
        "ab": lambda: _andesite_or_basalt(ctx),
        "bt": lambda: _basanite_or_tephrite(ctx),
        "foid": lambda: _foid(ctx, "foid"),
    }
    values = {key: fn() for key, fn in fillers.items() if "{" + key + "}" in template}
    return ctx.rock(template.format(**values), "iugs-qapf", field)


def _diorite_or_gabbro(ctx: _Ctx) -> str:
    gabbro, why = ctx.gabbroic_an()
    ctx.steps.append(f"{why}: {'gabbro' if gabbro else 'diorite'} [LM02]")
    return "gabbro" if gabbro else "diorite"


def _andesite_or_basalt(ctx: _Ctx) -> str:
    basalt = _above(ctx.m, 35.0)
    ctx.steps.append(
        f"colour index M {_f(ctx.m)} {'>' if basalt else '<='} 35: "
        f"{'basalt' if basalt else 'andesite'} (LM02 prefers SiO2 52 wt % when analysed)"
    )
    return "basalt" if basalt else "andesite"


def _basanite_or_tephrite(ctx: _Ctx) -> str:
    ol = ctx.asm.vol("olivine") * ctx.scale
    basanite = _above(ol, 10.0)
    ctx.steps.append(
        f"olivine {_f(ol)} {'>' if basanite else '<='} 10: {'basanite' if basanite else 'tephrite'}"
    )
    return "basanite" if basanite else "tephrite"
