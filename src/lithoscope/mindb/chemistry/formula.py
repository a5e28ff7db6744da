"""Parse a mineral formula into a representative composition with valences.

Representative composition
--------------------------
A mineral formula often describes a range of compositions. `parse_formula` returns one
*representative* composition, chosen by these documented rules (each choice is recorded in
`Formula.notes` and sets `Formula.is_representative`):

* **Site groups** ``(Mg,Fe)2``: the site is split equally among the listed occupants, so
  ``(Mg,Fe)2SiO4`` gives Mg1 Fe1 Si1 O4. Occupants may be multi-atom units (``(OH,F)``,
  ``(SO4,CO3)``); a vacancy listed as an occupant (``(Na,□)``) takes its share and adds no
  atoms.
* **Variables** ``x``, ``y``, ``z`` default to 0 and ``n``, ``m`` to 1 (``Fe1-xS`` -> FeS,
  ``·nH2O`` -> one H2O). A value stated in the formula's own annotation (``(x ≈ 0.15)``,
  ``(15≤n≤24)`` -> midpoint) is used instead of the default, and the ``variables`` argument
  overrides both.
* **Ranges** ``(2-3)H2O``, ``Ca1-2``: the midpoint.
* **Placeholders** ``REE`` and ``Ln`` are represented by Ce.
* **Measured site totals**: ``Σ=2`` markers are ignored; a subscript after a bracket whose
  occupants have decimal counts that already add up to it (``(Ca1.90Sr0.06Mg0.04)2.00``) is
  read as the site total, not a multiplier.
* **Vacancies** ``□``, ``[box]``, ``[]`` count no atoms (their total is `Formula.vacancies`).
* **Ambiguous plain valences** (``Fe3+x``: Fe3+ times x, or Fe times 3+x; ``S2-4``: S2-
  times 4, or the range 2-4): every reading is evaluated and the one with the smallest
  charge residual is kept (ties: a count when a variable follows the sign, else a valence).

Valences are inferred as described in `lithoscope.mindb.chemistry._valence`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._elements import ATOMIC_WEIGHTS, VARIABLE_DEFAULTS
from lithoscope.mindb.chemistry._parser import (
    VARIABLES,
    Ambiguity,
    Atom,
    Env,
    ErrorFactory,
    Evaluator,
    Parser,
    Seq,
)
from lithoscope.mindb.chemistry._text import annotation_values, prepare
from lithoscope.mindb.chemistry._valence import Inference, Species, infer

__all__ = ["Formula", "parse_formula"]

_MAX_EXHAUSTIVE = 10
_BALANCE_TOL = 1e-6
_W_O = ATOMIC_WEIGHTS["O"]
_OXIDE_ORDER = tuple(
    "Si Ti Zr Hf Th U Al B Cr V Nb Ta Fe Mn Mg Ni Co Cu Zn Ca Sr Ba Pb Li Na K Rb Cs "
    "P As Sb C S N H".split()
)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _valence_text(v: float) -> str:
    mag = abs(v)
    text = str(round(mag)) if abs(mag - round(mag)) < 1e-9 else f"{mag:.3g}"
    return f"{text}{'+' if v >= 0 else '-'}"


def oxide_name(symbol: str, valence: float) -> str:
    """Conventional oxide of ``symbol`` at ``valence``: FeO, Fe2O3, MnO2, SO3, P2O5, H2O ...

    Even valences give ``MO(v/2)``, odd valences ``M2Ov``; a non-integer valence gives
    ``MO(v/2)`` with a decimal count.
    """
    if abs(valence - round(valence)) > 1e-9:
        return f"{symbol}O{valence / 2:.3g}"
    v = round(valence)
    if v % 2 == 0:
        k = v // 2
        return f"{symbol}O{k if k > 1 else ''}"
    return f"{symbol}2O{v if v > 1 else ''}"


def _hill_order(elements: list[str]) -> tuple[str, ...]:
    if "C" in elements:
        first = ["C"] + (["H"] if "H" in elements else [])
        return tuple(first + sorted(e for e in elements if e not in ("C", "H")))
    return tuple(sorted(elements))


@dataclass(frozen=True, eq=True)
class Formula:
    """A parsed formula: representative composition, valences and derived quantities.

    Attributes
    ----------
    text : str
        The formula as given.
    normalized : str
        The cleaned plain formula (see `normalize_formula`).
    amounts : dict of str to float
        Atoms per formula unit of the representative composition, elements only (no
        vacancies, no zero amounts), in order of first appearance.
    species : list of (str, float, float)
        ``(element, valence, amount)`` for every valence of every element, so mixed
        valence is kept (magnetite: ``("Fe", 2.0, 1.0)``, ``("Fe", 3.0, 2.0)``).
    notes : list of str
        Every choice made: site splits, variable values, placeholders, valence balancing,
        ignored annotations, charge imbalance.
    is_representative : bool
        True when the amounts are a representative choice (site split, default or
        annotated variable, range midpoint, placeholder) rather than fixed by the formula.
    variables : dict of str to float
        Values used for the variables that occur in the formula.
    annotation : str or None
        Text after the formula that was not parsed (comments, constraints, ``?``).
    vacancies : float
        Vacant sites per formula unit (□).
    written_elements : tuple of str
        Every element written in the formula, also those with zero amount at the chosen
        variable values (``Cu1-xAsx`` with x = 0 still lists As).
    """

    text: str
    normalized: str
    amounts: dict[str, float]
    species: list[tuple[str, float, float]]
    notes: list[str]
    is_representative: bool
    variables: dict[str, float] = field(default_factory=dict)
    annotation: str | None = None
    vacancies: float = 0.0
    written_elements: tuple[str, ...] = ()
    _detail: tuple[Species, ...] = field(default=(), repr=False, compare=False)

    def __hash__(self) -> int:
        return hash((self.normalized, tuple(self.amounts.items())))

    # -- composition
    @property
    def elements(self) -> tuple[str, ...]:
        """Elements of `amounts` in Hill order (C, H, then alphabetical; all alphabetical
        without C)."""
        return _hill_order(list(self.amounts))

    @property
    def valences(self) -> dict[str, float]:
        """Valence used for each element; the amount-weighted mean for mixed valence
        (magnetite: Fe 8/3). See `species` for the per-valence amounts."""
        num: dict[str, float] = {}
        den: dict[str, float] = {}
        for el, v, a in self.species:
            num[el] = num.get(el, 0.0) + v * a
            den[el] = den.get(el, 0.0) + a
        return {el: num[el] / den[el] for el in num if den[el] > 0}

    @property
    def molar_mass(self) -> float:
        """Molar mass in g/mol from the standard atomic weights of ``periodictable``."""
        return math.fsum(ATOMIC_WEIGHTS[el] * n for el, n in self.amounts.items())

    def element_wt_percent(self) -> dict[str, float]:
        """Mass percent of each element, in the order of `amounts` (sums to 100)."""
        total = self.molar_mass
        return {el: 100.0 * ATOMIC_WEIGHTS[el] * n / total for el, n in self.amounts.items()}

    # -- charge
    @property
    def charge_residual(self) -> float:
        """Sum of all charges per formula unit (cations + anions); 0 when balanced."""
        return math.fsum(v * a for _, v, a in self.species)

    @property
    def charge_residual_relative(self) -> float:
        """`charge_residual` divided by the total positive charge (0 if both are 0; ±inf if
        there is no positive charge but a residual)."""
        positive = math.fsum(v * a for _, v, a in self.species if v > 0)
        residual = self.charge_residual
        if positive > 0:
            return residual / positive
        if abs(residual) < 1e-12:
            return 0.0
        return math.copysign(math.inf, residual)

    # -- oxides
    def oxide_wt_percent(self) -> dict[str, float]:
        """Composition as oxide weight percents, valence-aware, as in microprobe tables.

        Each cation at valence v is reported as its oxide (Fe2+ -> FeO, Fe3+ -> Fe2O3,
        Mn4+ -> MnO2, S6+ -> SO3, C4+ -> CO2, P5+ -> P2O5, H+ -> H2O, N5+ -> N2O5, B ->
        B2O3; see `oxide_name`); ammonium N (N3- before H) as (NH4)2O. Anions other than O
        (F, Cl, S2- ...) are reported as elements, and the oxygen they replace appears as
        one negative entry named ``"O="`` + the anions (``"O=F,Cl"``). Atoms with valence 0
        are reported as elements. Values are percent of the mineral's mass, so they sum to
        100 exactly when the formula is charge balanced.

        Returns
        -------
        dict of str to float
            Empty for formulas without oxygen (sulfides, native elements, carbides, halides):
            oxide wt% only describes oxygen-bearing minerals.
        """
        if "O" not in self.amounts:
            return {}
        total = self.molar_mass
        merged: dict[tuple[str, float], float] = {}
        nh4_n = 0.0
        for sp in self._detail:
            key = (sp.sym, sp.valence)
            merged[key] = merged.get(key, 0.0) + sp.amount
            if sp.sym == "N" and sp.valence == -3 and sp.bound == "H":
                nh4_n += sp.amount
        h_plus = merged.get(("H", 1.0), 0.0)
        nh4 = min(nh4_n, h_plus / 4)
        if nh4 > 0:
            merged[("N", -3.0)] -= nh4
            merged[("H", 1.0)] = h_plus - 4 * nh4
        out: dict[str, float] = {}
        anions: list[str] = []
        o_equiv = 0.0

        def add(name: str, mass: float) -> None:
            out[name] = out.get(name, 0.0) + 100.0 * mass / total

        if nh4 > 0:
            w = ATOMIC_WEIGHTS["N"] + 4 * ATOMIC_WEIGHTS["H"] + 0.5 * _W_O
            add("(NH4)2O", nh4 * w)
        rank = {el: k for k, el in enumerate(_OXIDE_ORDER)}
        keys = sorted(
            ((el, v) for (el, v), a in merged.items() if a > 1e-12),
            key=lambda k: (k[1] <= 0, rank.get(k[0], len(rank)), -k[1]),
        )
        for el, v in keys:
            a = merged[(el, v)]
            if el == "O" and v == -2:
                continue
            if v > 0:
                add(oxide_name(el, v), a * (ATOMIC_WEIGHTS[el] + 0.5 * v * _W_O))
            else:
                add(el, a * ATOMIC_WEIGHTS[el])
                if v < 0:
                    o_equiv += 0.5 * (-v) * a
                    if el not in anions:
                        anions.append(el)
        if o_equiv > 0:
            out["O=" + ",".join(anions)] = -100.0 * o_equiv * _W_O / total
        return out

    # -- export
    def to_plain(self) -> str:
        """Flat formula of the representative composition, e.g. ``'Mg1Fe1Si1O4'``."""
        return "".join(f"{el}{_fmt(n)}" for el, n in self.amounts.items())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the formula."""
        return {
            "text": self.text,
            "normalized": self.normalized,
            "amounts": dict(self.amounts),
            "elements": list(self.elements),
            "species": [list(s) for s in self.species],
            "valences": self.valences,
            "molar_mass": self.molar_mass,
            "element_wt_percent": self.element_wt_percent(),
            "oxide_wt_percent": self.oxide_wt_percent(),
            "charge_residual": self.charge_residual,
            "charge_residual_relative": self.charge_residual_relative,
            "is_representative": self.is_representative,
            "variables": dict(self.variables),
            "vacancies": self.vacancies,
            "annotation": self.annotation,
            "notes": list(self.notes),
        }


def _clip(text: str, limit: int = 80) -> str:
    """``text`` shortened in the middle for a one-line message (hostile input can be huge)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}…({len(text) - limit + 1} characters)…{text[-19:]}"


def _error_factory(text: str, normalized: str) -> ErrorFactory:
    shown = f"formula {_clip(text)!r}"
    if normalized and normalized != text.strip():
        shown += f" (normalized {_clip(normalized)!r})"

    def make(what: str, pos: int | None, fix: str) -> FormulaError:
        msg = f"{shown}: {what}"
        if fix:
            msg += f"; {fix}"
        return FormulaError(msg)

    return make


def _check_variables(text: str, variables: Mapping[str, float] | None) -> dict[str, float]:
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise FormulaError(
            f"formula {text!r}: variables must be a mapping such as {{'x': 0.2}}, "
            f"got {type(variables).__name__}"
        )
    out: dict[str, float] = {}
    for name, value in variables.items():
        if name not in VARIABLES:
            raise FormulaError(
                f"formula {text!r}: unknown variable {name!r} in variables; valid names are "
                + ", ".join(sorted(VARIABLES))
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise FormulaError(
                f"formula {text!r}: variable {name!r} must be a number, got {value!r}"
            ) from None
        if not math.isfinite(number):
            raise FormulaError(f"formula {text!r}: variable {name!r} must be finite, got {value!r}")
        out[name] = number
    return out


@dataclass
class _Trial:
    decisions: dict[int, str]
    atoms: list[Atom]
    env: Env
    inference: Inference
    vacancies: float

    @property
    def score(self) -> float:
        return abs(self.inference.residual)


def _evaluate(
    seq: Seq,
    decisions: Mapping[int, str],
    values: Mapping[str, float],
    error: ErrorFactory,
    source: str,
) -> _Trial:
    env = Env(dict(values))
    ev = Evaluator(decisions, env, error, source)
    atoms = ev.seq(seq, 1.0)
    inference = infer(atoms, conservative=env.representative)
    return _Trial(dict(decisions), atoms, env, inference, ev.vacancies)


def _choose(
    seq: Seq,
    ambiguities: list[Ambiguity],
    values: Mapping[str, float],
    error: ErrorFactory,
    source: str,
) -> _Trial:
    """Evaluate every reading of the ambiguous suffixes (up to 2**10 of them, else one
    ambiguity at a time) and keep the one with the smallest |charge residual|; ties go to
    the default readings."""
    default = {a.id: a.default for a in ambiguities}

    def penalty(dec: Mapping[int, str]) -> int:
        return sum(dec[k] != default[k] for k in dec)

    def key(trial: _Trial) -> tuple[float, int]:
        return (round(trial.score, 6), penalty(trial.decisions))

    first_error: FormulaError | None = None
    best: _Trial | None = None

    def consider(dec: dict[int, str]) -> _Trial | None:
        nonlocal best, first_error
        try:
            trial = _evaluate(seq, dec, values, error, source)
        except FormulaError as exc:
            if first_error is None:
                first_error = exc
            return None
        if best is None or key(trial) < key(best):
            best = trial
        return trial

    consider(default)
    if ambiguities and len(ambiguities) <= _MAX_EXHAUSTIVE:
        ids = [a.id for a in ambiguities]
        for combo in itertools.product("VC", repeat=len(ids)):
            dec = dict(zip(ids, combo, strict=True))
            if dec != default:
                consider(dec)
    elif ambiguities:
        current = dict(default)
        for a in ambiguities:
            trial_dec = dict(current)
            trial_dec[a.id] = "C" if current[a.id] == "V" else "V"
            before = best
            consider(trial_dec)
            if best is not before:
                current = trial_dec
    if best is None:
        assert first_error is not None
        raise first_error
    return best


def parse_formula(text: str, *, variables: Mapping[str, float] | None = None) -> Formula:
    """Parse a mineral formula into a representative composition with valences.

    Reads plain IMA formulas (``(Mg,Fe)2SiO4``, ``Fe1-xS``, ``CaSO4·2H2O``), RRUFF markup
    (``Mg_2_SiO_4_``, ``Fe^3+^``), HTML, the Hazen/RRUFF plain valence notation
    (``NaPb2+2(CO3)2(OH)``) and RRUFF measured chemistry (``(Mg1.8Fe^2+^0.2)SiO4``, with
    ``Σ`` totals and trailing comments). The representative-composition rules are in the
    module docstring; the valence rules in `lithoscope.mindb.chemistry._valence`.

    Parameters
    ----------
    text : str
        The formula.
    variables : mapping of str to float, optional
        Values for the variables x, y, z, n, m (defaults: x = y = z = 0, n = m = 1, or
        the value stated in the formula's annotation).

    Returns
    -------
    Formula
        The parsed formula.

    Raises
    ------
    FormulaError
        If the text is empty or not a formula: unknown element symbol, unbalanced brackets,
        stray characters, free text, a count that is negative for the given variables, an
        unknown variable name.

    Examples
    --------
    >>> f = parse_formula("(Mg,Fe)2SiO4")
    >>> f.amounts
    {'Mg': 1.0, 'Fe': 1.0, 'Si': 1.0, 'O': 4.0}
    >>> sorted(parse_formula("Fe3O4").species)
    [('Fe', 2.0, 1.0), ('Fe', 3.0, 2.0), ('O', -2.0, 4.0)]
    >>> parse_formula("Fe1-xS", variables={"x": 0.1}).amounts
    {'Fe': 0.9, 'S': 1.0}
    """
    prepared = prepare(text)
    normalized = prepared.normalized
    error = _error_factory(text, normalized)
    given = _check_variables(text, variables)
    if not normalized:
        raise error(
            "no formula before the annotation"
            + (f" {prepared.annotation!r}" if prepared.annotation else ""),
            0,
            "give the chemical formula first",
        )
    parser = Parser(normalized, error)
    seq = parser.parse()
    stated, stated_notes = annotation_values(prepared.annotation)
    values = dict(VARIABLE_DEFAULTS)
    values.update(stated)
    values.update(given)
    trial = _choose(seq, parser.ambiguities, values, error, normalized)

    atoms = trial.atoms
    amounts: dict[str, float] = {}
    written: list[str] = []
    for atom in atoms:
        if atom.sym not in written:
            written.append(atom.sym)
        if atom.amount > 0:
            amounts[atom.sym] = amounts.get(atom.sym, 0.0) + atom.amount
    if not amounts:
        raise error(
            "the formula has no atoms at the chosen variable values "
            + ", ".join(f"{k}={values[k]:g}" for k in sorted(trial.env.used)),
            0,
            "give variable values that leave some atoms",
        )

    notes = list(prepared.notes)
    representative = trial.env.representative
    if prepared.annotation == "?" or (prepared.annotation or "").startswith("?;"):
        notes.append("the source marks this formula as uncertain (?)")
    if prepared.annotation and prepared.annotation != "?":
        notes.append(f"annotation {prepared.annotation!r} is not part of the formula")
    for name in sorted(trial.env.used):
        if name in given:
            notes.append(f"{name} = {given[name]:g} (given)")
        elif name in stated:
            notes.extend(n for n in stated_notes if n.startswith(f"{name} "))
            representative = True
        else:
            notes.append(f"{name} set to {values[name]:g} (default)")
            representative = True
    notes.extend(trial.env.notes)
    for amb in parser.ambiguities:
        chosen = trial.decisions.get(amb.id, amb.default)
        where = f"{amb.text!r} at position {amb.pos}"
        if chosen == "V":
            count = amb.valence_count.text if amb.valence_count else "1"
            notes.append(f"{where} read as valence {_valence_text(amb.valence)} with count {count}")
        else:
            notes.append(f"{where} read as the count {amb.count.text}")
    zero = [el for el in written if el not in amounts]
    if zero:
        notes.append(f"{', '.join(zero)}: 0 atoms at the chosen variable values")
    notes.extend(trial.inference.notes)

    merged: dict[tuple[str, float], float] = {}
    for sp in trial.inference.species:
        merged[(sp.sym, sp.valence)] = merged.get((sp.sym, sp.valence), 0.0) + sp.amount
    order = {el: k for k, el in enumerate(amounts)}
    species = sorted(
        ((el, float(v), a) for (el, v), a in merged.items()),
        key=lambda s: (order.get(s[0], len(order)), s[1]),
    )
    residual = math.fsum(v * a for _, v, a in species)
    if abs(residual) > _BALANCE_TOL:
        notes.append(
            f"charge residual {residual:+.4g} per formula unit: not balanced with the "
            "valences above"
        )
    return Formula(
        text=text,
        normalized=normalized,
        amounts=amounts,
        species=species,
        notes=notes,
        is_representative=representative,
        variables={k: values[k] for k in sorted(trial.env.used)},
        annotation=prepared.annotation,
        vacancies=trial.vacancies,
        written_elements=tuple(written),
        _detail=tuple(trial.inference.species),
    )
