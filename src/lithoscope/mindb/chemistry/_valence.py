"""Valence inference: give every atom of a formula a valence, balancing charge where possible.

Algorithm
---------
1. Valences written in the formula (``Fe3+``, ``Fe^3+^``, ``(S2)2-``) are kept as given.
2. Every other atom gets a *role* from its element and its neighbour in the formula (the
   symbol written right after it). An atom is "bound to O" when an O symbol with at least
   as many O follows it (``SO4``, ``CO3``, ``(UO2)``; not ``S54O5`` in an oxysulfosalt), or,
   except for S, Se, C, N, P and halogens, a group starting with O (``B(OH)4``,
   ``Sb(OH)6``); an occupant of a site is bound to the O after the site only for XO3 and
   more (``(As,P)O4`` yes, ``(Ti,Fe,Cr)18O38`` no). N and C before H are "bound to H".

   * O -2; F, Cl, Br, I -1 (an oxyanion former when written directly before O: IO3);
     H +1.
   * an oxyanion former bound to O: with XO4 (XO3 for C, N; XO6 for Te) the top state,
     fixed (SO4 S6+, PO4 P5+, AsO4 As5+, VO4 V5+, MoO4/WO4 6+, CrO4 Cr6+, SeO4 Se6+,
     CO3 C4+, NO3 N5+); with less O it starts at the usual state and may go down:
     S 6 (4), Se 4 (6), Te 4 (6), C 4 (3, 2; 3 for C2O4 oxalate), N 5 (3), P 5 (3),
     As 5 (3), Sb 5 (3), V 5 (4, 3), Mo/W 6 (5, 4), U 6 (5, 4), Cr 3 (6), I 5 (7).
   * N not bound to O -3 (ammonium, nitrides); P -3 in O-free formulas, P5+ whenever the
     formula has O (PMo12O40); C not bound to O -4 (carbides), but when the formula has H
     and some C not bound to O it is organic: C takes the *average* oxidation state that
     balances the formula.
   * S, Se, Te not bound to O: anions -2 (or -1, see the dimer hypothesis); Se and Te in
     an O-bearing formula without S are cations (4+, may go to 6+).
   * As, Sb not bound to O: cations (3+, may go up to 5+) in sulfosalts, or anions
     (-3, or -1 as dimers) in arsenides and sulfarsenides; both are tried.
   * Si +4, except with only metals/metalloids (silicides: -4); B +3.
   * metals: the common low state of the ladders in ``_elements.CATION_LADDER`` (Fe2+,
     Mn2+, Co2+, Ni2+, Cr3+, V3+, Ti4+, Ce3+, U4+, Sn4+, Pb2+, Tl+, Hg2+, Cu2+ with
     O/halogens and Cu+ in sulfides ...). Alkali +1, alkaline earth +2, Al/Sc/Y/REE +3,
     Zr/Hf/Th +4.
3. Balancing: the residual ``r`` = sum of charges. If ``r < 0`` the adjustable atoms are
   raised one ladder step at a time (Fe2+ -> Fe3+, Mn2+ -> Mn3+ -> Mn4+ ...), only as many
   atoms as needed, elements in the order ``RAISE_ORDER`` (Fe first); if ``r > 0`` they are
   lowered (``LOWER_ORDER``: Cu2+ -> Cu+, U6+ -> U4+, S6+ -> S4+ ...). So Fe3O4 gives
   Fe2+ 1 + Fe3+ 2, Fe2O3 gives Fe3+ 2, FeO(OH) Fe3+, Mn3O4 Mn2+ 1 + Mn3+ 2. When the
   composition is a representative choice (a site split equally, a default variable) some
   imbalance is expected, and only the common mixed-valence elements
   (``CORE_MIXED_VALENCE``: Fe, Mn, Co, Ni, Cu, Cr, V, Ce, Eu, U, ...) and oxyanion formers
   move; Ti, Nb, Ta, W, Mo, Pb and the platinum-group metals keep their start valence.
4. Hypotheses: the steps above run for each applicable hypothesis; the winner has the
   smallest |residual|, then the smallest total valence change from the start states
   (a dimer reading counts as a change), then comes first in this list:

   * metallic (every valence 0) for formulas of metals only (alloys, intermetallics:
     Pd3Tl, (Fe,Ni));
   * ionic, S/Se/Te (and anionic As/Sb) as X2 dimers with valence -1 (pyrite FeS2, MnS2,
     löllingite FeAs2, skutterudite CoAs3, arsenopyrite FeAsS);
   * ionic, monomer anions;
   * the same two with As/Sb as anions when S/Se/Te are present (sulfarsenides);
   * metallic for metals with B, C, N, Si, P, Ge, As, Sb or Bi when no ionic reading
     balances (Fe3C, Fe3P, Fe3Si).

   Single elements are native: valence 0.

The residual may stay non-zero, e.g. for metal-rich sulfides (pentlandite) or formulas that
are not balanced as written; `Formula.notes` then says so. Against the valences RRUFF writes
in its formulas, this recovers 96 % of them from the IMA formulas without valences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lithoscope.mindb.chemistry._elements import (
    ANION_STATE,
    CHALCOGENS,
    CORE_MIXED_VALENCE,
    DIMER_STATE,
    FULL_OXO_RATIO,
    HALOGENS,
    LOWER_ORDER,
    METALS,
    NOBLE_GASES,
    OXO_LADDER,
    PNICTOGENS,
    RAISE_ORDER,
    default_cation_ladder,
)
from lithoscope.mindb.chemistry._parser import Atom

_TOL = 1e-9
_RAISE_RANK = {el: k for k, el in enumerate(RAISE_ORDER)}
_LOWER_RANK = {el: k for k, el in enumerate(LOWER_ORDER)}
_METALLIC_OK = METALS | {"B", "C", "N", "Si", "P", "Ge", "As", "Sb", "Bi"}
_SILICIDE_OK = METALS | {"Si", "Ge", "B", "As", "Sb"}


@dataclass(frozen=True)
class Species:
    """An element at one valence, with its amount and where it sits.

    ``bound`` is ``"O"`` for an oxyanion former written before O, ``"H"`` for N/C written
    before H, else None. ``explicit`` says whether the valence was written in the formula.
    """

    sym: str
    valence: float
    amount: float
    bound: str | None
    explicit: bool
    order: int


@dataclass
class _Slot:
    """Atoms of one element that share a role; ``portions`` maps valence -> amount."""

    sym: str
    bound: str | None
    explicit: bool
    order: int
    ladder: tuple[float, ...]
    portions: dict[float, float]
    role: str = "fixed"
    start: float = 0.0

    def __post_init__(self) -> None:
        self.start = next(iter(self.portions))


@dataclass
class Inference:
    species: list[Species]
    residual: float
    notes: list[str] = field(default_factory=list)
    hypothesis: str = "ionic"


_NO_GROUP_BINDING = frozenset({"S", "Se", "C", "N", "P"}) | HALOGENS


def _bound(atom: Atom) -> str | None:
    """``"O"`` if the atom is an oxyanion-type centre written before its O (SO4, CO3,
    (UO2), B(OH)4, As(OH)3), ``"H"`` for N/C before H (NH4, CH4), else None.

    An O *symbol* must follow with at least as many O as the atom (``S54O5`` in an
    oxysulfosalt is not bound); S, Se, C, N, P and halogens need the O symbol itself,
    other elements may also be followed by a group starting with O.
    """
    if atom.next_sym == "O":
        if atom.next_via_site and (atom.next_o_ratio is None or atom.next_o_ratio < 2.5):
            # an occupant of a site followed by O: an oxyanion only as (As,P)O4, (S,Se)O4,
            # not as a cation site (Ti,Fe,Cr,Al)18O38
            return None
        if atom.next_is_element:
            if atom.next_o_ratio is not None and atom.next_o_ratio < 1.0 - 1e-9:
                return None
            return "O"
        return None if atom.sym in _NO_GROUP_BINDING else "O"
    if atom.next_sym == "H" and atom.sym in {"N", "C"}:
        return "H"
    return None


def _context(atoms: Sequence[Atom]) -> dict[str, bool]:
    present = {a.sym for a in atoms if a.amount > 0}
    explicit = any(a.valence is not None for a in atoms)
    chalcogen_anion = any(
        a.sym in CHALCOGENS and a.valence is None and _bound(a) is None and a.amount > 0
        for a in atoms
    )
    organic = "H" in present and any(
        a.sym == "C" and _bound(a) != "O" and a.valence is None and a.amount > 0 for a in atoms
    )
    return {
        "O": "O" in present,
        "S": "S" in present,
        "halogen": bool(present & HALOGENS),
        "chalcogen_anion": chalcogen_anion,
        "organic": organic,
        "metallic_ok": not explicit and bool(present) and present <= _METALLIC_OK,
        "all_metal": bool(present) and present <= METALS,
        "silicide": present <= _SILICIDE_OK,
        "single": len(present) == 1,
    }


def _slot_for(atom: Atom, ctx: dict[str, bool], pnictogen_role: str) -> _Slot:
    sym = atom.sym
    bound = _bound(atom)
    if atom.valence is not None:
        return _Slot(sym, bound, True, atom.pos, (atom.valence,), {atom.valence: 0.0})

    def fixed(v: float, role: str = "fixed") -> _Slot:
        return _Slot(sym, bound, False, atom.pos, (v,), {v: 0.0}, role)

    def ladder(start: float, steps: tuple[float, ...], role: str = "ladder") -> _Slot:
        return _Slot(sym, bound, False, atom.pos, steps, {start: 0.0}, role)

    if sym == "O":
        return fixed(-2)
    if sym == "H":
        return fixed(1)
    if sym in NOBLE_GASES:
        return fixed(0)
    if bound == "O" and sym in OXO_LADDER:
        start, steps = OXO_LADDER[sym]
        if sym == "C" and ctx["organic"]:
            return fixed(0, "organic")
        ratio = atom.next_o_ratio
        if ratio is not None and ratio >= FULL_OXO_RATIO.get(sym, math.inf) - 0.5:
            # XO4 (SO4, PO4, AsO4, VO4, MoO4, CrO4), CO3, NO3: the top state, fixed
            return fixed(max(steps))
        if sym == "C" and ratio is not None and ratio < 2.5:
            start = 3.0  # C2O4 oxalate (formate HCOO goes on down to 2)
        return ladder(start, steps)
    if sym in HALOGENS:
        return fixed(-1)
    if sym == "C":
        return fixed(0, "organic") if ctx["organic"] else fixed(-4, "anion")
    if sym == "P" and ctx["O"]:
        # P in an O-bearing formula is a phosphate (or heteropoly) centre even when the
        # formula does not write it before its O (PMo12O40, Na4CeTiPSi7O22)
        start, steps = OXO_LADDER["P"]
        return ladder(start, steps)
    if sym in ("N", "P"):
        return fixed(-3, "anion")
    if sym in ("Se", "Te") and ctx["O"] and not ctx["S"]:
        # Se/Te next to O-bearing units but not written before O: cations (Te4+ in
        # (Te,W)2W5O19), not selenide/telluride anions
        return ladder(4.0, (4.0, 6.0))
    if sym in CHALCOGENS:
        return fixed(-2, "chalcogen")
    if sym in PNICTOGENS and pnictogen_role == "anion":
        return fixed(ANION_STATE[sym], "pnictogen")
    if sym == "Si" and ctx["silicide"]:
        return fixed(-4, "anion")
    if sym == "Cu":
        start = 2.0 if (ctx["O"] or ctx["halogen"]) else 1.0
        return ladder(start, (1.0, 2.0))
    start, steps = default_cation_ladder(sym)
    if len(steps) == 1:
        return fixed(start)
    return ladder(start, steps)


def _residual(slots: Sequence[_Slot]) -> float:
    return sum(v * a for s in slots for v, a in s.portions.items())


def _balance(slots: list[_Slot], *, conservative: bool = False) -> float:
    r = _residual(slots)
    if abs(r) < _TOL:
        return r
    raising = r < 0
    rank = _RAISE_RANK if raising else _LOWER_RANK
    candidates = [
        s
        for s in slots
        if s.role == "ladder"
        and len(s.ladder) > 1
        and (
            not conservative
            or s.sym in CORE_MIXED_VALENCE
            or (s.bound == "O" and s.sym in OXO_LADDER)
        )
    ]
    candidates.sort(key=lambda s: (rank.get(s.sym, len(rank)), s.order))
    for slot in candidates:
        while abs(r) >= _TOL and (r < 0) == raising:
            held = sorted(v for v, a in slot.portions.items() if a > _TOL)
            if not held:
                break
            v = held[0] if raising else held[-1]
            steps = [w for w in slot.ladder if (w > v if raising else w < v)]
            if not steps:
                break
            w = steps[0] if raising else steps[-1]
            move = min(slot.portions[v], abs(r) / abs(w - v))
            slot.portions[v] -= move
            slot.portions[w] = slot.portions.get(w, 0.0) + move
            r += move * (w - v)
    return r


def _run(
    atoms: Sequence[Atom], ctx: dict[str, bool], pnictogen_role: str, dimer: bool
) -> tuple[list[_Slot], float]:
    slots: dict[tuple[object, ...], _Slot] = {}
    for atom in atoms:
        if atom.amount <= 0:
            continue
        slot = _slot_for(atom, ctx, pnictogen_role)
        if dimer and slot.role in ("chalcogen", "pnictogen") and slot.sym in DIMER_STATE:
            v = DIMER_STATE[slot.sym]
            slot.ladder = (v,)
            slot.portions = {v: 0.0}
            slot.start = v
        key = (slot.sym, slot.bound, slot.explicit, slot.role, slot.ladder, tuple(slot.portions))
        if key not in slots:
            slots[key] = slot
        target = slots[key]
        v0 = next(iter(slot.portions))
        target.portions[v0] = target.portions.get(v0, 0.0) + atom.amount
    ordered = list(slots.values())
    organic = [s for s in ordered if s.role == "organic"]
    if organic:
        rest = _residual([s for s in ordered if s.role != "organic"])
        total_c = sum(sum(s.portions.values()) for s in organic)
        v = -rest / total_c
        for s in organic:
            amount = sum(s.portions.values())
            s.portions = {v: amount}
        return ordered, _residual(ordered)
    return ordered, _balance(ordered, conservative=ctx.get("conservative", False))


def infer(atoms: Sequence[Atom], *, conservative: bool = False) -> Inference:
    """Infer valences for ``atoms`` (see the module docstring) and return the species.

    With ``conservative`` (the composition is a representative choice, e.g. an equal site
    split, so some imbalance is expected) only the elements in ``CORE_MIXED_VALENCE`` are
    moved along their ladders; Ti, Nb, Ta, W, Mo, Pb and the platinum-group metals keep
    their start valence.
    """
    ctx = _context(atoms)
    ctx["conservative"] = conservative
    if ctx["single"] and all(a.valence is None for a in atoms):
        return Inference(_species_from_metal(atoms), 0.0, [], "native")
    has_pnictogen = any(
        a.sym in PNICTOGENS and a.valence is None and _bound(a) is None for a in atoms
    )
    has_dimer_candidate = any(
        a.sym in DIMER_STATE and a.valence is None and _bound(a) is None for a in atoms
    )
    hypotheses: list[tuple[str, str, bool]] = []
    if ctx["metallic_ok"] and ctx["all_metal"]:
        hypotheses.append(("metallic", "cation", False))
    roles = ["cation"]
    if has_pnictogen:
        roles = ["cation", "anion"] if ctx["chalcogen_anion"] or ctx["O"] else ["anion", "cation"]
    for role in roles:
        # on a tie the dimer reading comes first: MnS2, RuS2 are M2+ with S2 dimers
        if has_dimer_candidate and not ctx["organic"]:
            hypotheses.append(("dimer", role, True))
        hypotheses.append(("ionic", role, False))
    if ctx["metallic_ok"] and not ctx["all_metal"]:
        hypotheses.append(("metallic", "cation", False))

    # best = smallest |residual|, then the fewest valence changes (MnS2: Mn2+ with S2
    # dimers rather than Mn4+), then the order above
    best: tuple[tuple[float, float, int], str, str, list[_Slot]] | None = None
    for k, (kind, role, dimer) in enumerate(hypotheses):
        if kind == "metallic":
            # alloys: preferred; compounds with B, C, N, Si, P, As, Sb: only when no
            # ionic reading balances
            score = (0.0, 0.0 if ctx["all_metal"] else math.inf, k)
            slots: list[_Slot] = []
        else:
            slots, r = _run(atoms, ctx, role, dimer)
            score = (round(abs(r), 6), round(_moved(slots), 6), k)
        if best is None or score < best[0]:
            best = (score, kind, role, slots)
    assert best is not None
    _, kind, role, slots = best
    if kind == "metallic":
        return Inference(
            _species_from_metal(atoms),
            0.0,
            ["no anion balances the metals: treated as a metal/intermetallic, all valences 0"],
            "metallic",
        )
    notes = _notes(slots, kind, role, has_pnictogen, ctx)
    species = [
        Species(s.sym, v, a, s.bound, s.explicit, s.order)
        for s in slots
        for v, a in sorted(s.portions.items())
        if a > _TOL
    ]
    return Inference(species, _residual(slots), notes, kind)


def _moved(slots: Sequence[_Slot]) -> float:
    """Total valence change made by balancing and by the dimer reading, relative to the
    start valences (sum of |v - start| * amount)."""
    total = 0.0
    for s in slots:
        base = ANION_STATE[s.sym] if s.role in ("chalcogen", "pnictogen") else s.start
        if s.role in ("ladder", "chalcogen", "pnictogen"):
            total += sum(abs(v - base) * a for v, a in s.portions.items())
    return total


def _species_from_metal(atoms: Sequence[Atom]) -> list[Species]:
    return [Species(a.sym, 0.0, a.amount, None, False, a.pos) for a in atoms if a.amount > 0]


def _fmt_valence(v: float) -> str:
    mag = abs(v)
    text = f"{mag:g}" if abs(mag - round(mag)) > 1e-9 else str(round(mag))
    return f"{text}{'+' if v >= 0 else '-'}"


def _notes(
    slots: Sequence[_Slot], kind: str, role: str, has_pnictogen: bool, ctx: dict[str, bool]
) -> list[str]:
    notes: list[str] = []
    if kind == "dimer":
        syms = sorted({s.sym for s in slots if s.role in ("chalcogen", "pnictogen")})
        notes.append(f"{'/'.join(syms)} taken as X2 dimers with valence -1 (as in pyrite FeS2)")
    if has_pnictogen and role == "anion" and ctx["chalcogen_anion"]:
        notes.append("As/Sb taken as anions (sulfarsenide/sulfantimonide)")
    for s in slots:
        if s.role == "organic":
            (v,) = s.portions
            notes.append(f"C given the average oxidation state {v:+.3g} that balances the formula")
            continue
        if s.role != "ladder" or len(s.portions) < 1:
            continue
        held = {v: a for v, a in s.portions.items() if a > _TOL}
        if len(held) > 1 or (held and next(iter(held)) != s.start):
            total = sum(held.values())
            parts = ", ".join(f"{s.sym}{_fmt_valence(v)} {a:.4g}" for v, a in sorted(held.items()))
            notes.append(f"{s.sym} ({total:.4g} apfu) set to {parts} to balance charge")
    return notes
