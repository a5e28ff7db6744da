"""Recursive-descent parser for normalized formula strings, and its evaluation into atoms.

Grammar (on the output of `normalize_formula`)::

    formula := part ('·' part)*
    part    := [coefficient] item+
    item    := (element | '□' | group) [suffix]
    group   := '(' seq (',' seq)* ')'   (also [...] and {...}; commas make a site group)
    suffix  := ['^' valence] [count] | plain valence-or-count, see below
    count   := arithmetic over numbers and the variables x, y, z, n, m: 2, 0.5, 1-x, 3x/2,
               (2-5x), a range 5-6 (midpoint)

A "plain" suffix such as ``2+4`` after ``Fe`` may be a valence and a count (Fe2+ times 4) or
a count (2+4). When both readings are possible (``Fe3+x``: Fe3+ times x, or Fe times 3+x;
``S2-4``: S2- times 4, or S times the range 2-4) the parser records an `Ambiguity`; the
formula builder evaluates every reading and keeps the one with the best charge balance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._elements import (
    ANION_STATE,
    PLACEHOLDERS,
    SYMBOLS,
    VARIABLE_DEFAULTS,
    plausible_valence,
)

VARIABLES = frozenset(VARIABLE_DEFAULTS)
_ARITH_CHARS = frozenset("0123456789.+-/") | VARIABLES
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(")]}")
_PURE_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_CARET_VALENCE = re.compile(r"\^(?:(\d+(?:\.\d+)?)?([+-])|(0))")
_PLAIN_VALENCE = re.compile(r"(\d+(?:\.\d+)?)([+-])(.*)")
_NUMBER_THEN_VARIABLE = re.compile(r"\d+(?:\.\d+)?[xyznm]")
#: deepest bracket nesting read (real formulas use at most four or five levels); the parser is
#: recursive, so a limit keeps hostile input from exhausting Python's stack
MAX_NESTING = 16

ErrorFactory = Callable[[str, int | None, str], FormulaError]


# --------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class _Num:
    value: float
    text: str


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Bin:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class _Range:
    low: float
    high: float
    text: str


class _ExprSyntaxError(Exception):
    pass


def _tokenize_expr(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        m = _PURE_NUMBER.match(text, i)
        if m:
            tokens.append(m.group(0))
            i = m.end()
        elif c in VARIABLES or c in "+-/*()":
            tokens.append(c)
            i += 1
        else:
            raise _ExprSyntaxError(f"unexpected {c!r}")
    return tokens


class _ExprParser:
    def __init__(self, tokens: list[str]) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expr(self) -> object:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            if op == "-" and isinstance(left, _Num) and isinstance(right, _Num):
                # "5-6", "0.5-1.0": a range of two plain numbers, not a subtraction
                left = _Range(left.value, right.value, f"{left.text}-{right.text}")
            else:
                left = _Bin(op, left, right)
        return left

    def term(self) -> object:
        left = self.factor()
        while True:
            nxt = self.peek()
            if nxt in ("/", "*"):
                op = self.take()
                left = _Bin(op, left, self.factor())
            elif nxt is not None and (nxt in VARIABLES or nxt == "("):
                left = _Bin("*", left, self.factor())  # implicit product: 2x, 3(1-x)
            else:
                return left

    def factor(self) -> object:
        tok = self.peek()
        if tok is None:
            raise _ExprSyntaxError("expression ends too early")
        self.take()
        if tok == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _ExprSyntaxError(f"parentheses nested deeper than {MAX_NESTING} levels")
            inner = self.expr()
            self.depth -= 1
            if self.peek() != ")":
                raise _ExprSyntaxError("unbalanced parenthesis")
            self.take()
            return inner
        if tok in VARIABLES:
            return _Var(tok)
        if _PURE_NUMBER.fullmatch(tok):
            return _Num(float(tok), tok)
        raise _ExprSyntaxError(f"unexpected {tok!r}")


@dataclass
class Env:
    """Variable values and the record of what evaluation decided."""

    values: dict[str, float]
    used: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    representative: bool = False

    def note(self, text: str, *, representative: bool = False) -> None:
        if text not in self.notes:
            self.notes.append(text)
        self.representative = self.representative or representative


@dataclass(frozen=True)
class Expr:
    """A parsed count or coefficient: its source text, position and syntax tree."""

    text: str
    pos: int
    node: object

    @property
    def is_number(self) -> bool:
        return isinstance(self.node, _Num)

    def value(self, env: Env) -> float:
        return _eval(self.node, env)


def _eval(node: object, env: Env) -> float:
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Var):
        env.used.add(node.name)
        return env.values[node.name]
    if isinstance(node, _Range):
        mid = 0.5 * (node.low + node.high)
        env.note(f"range {node.text} taken as its midpoint {mid:g}", representative=True)
        return mid
    assert isinstance(node, _Bin)
    a = _eval(node.left, env)
    b = _eval(node.right, env)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a / b


def parse_expr(text: str, pos: int) -> Expr:
    """Parse an arithmetic count; raise `_ExprSyntaxError` if it is not one."""
    tokens = _tokenize_expr(text)
    p = _ExprParser(tokens)
    node = p.expr()
    if p.i != len(tokens):
        raise _ExprSyntaxError(f"unexpected {tokens[p.i]!r}")
    return Expr(text, pos, node)


# --------------------------------------------------------------------------- syntax tree
@dataclass
class Ambiguity:
    """A plain suffix with two readings: valence + count (``"V"``) or count only (``"C"``)."""

    id: int
    text: str
    pos: int
    valence: float
    valence_count: Expr | None
    count: Expr
    default: str
    target: str


@dataclass
class Elem:
    sym: str
    pos: int
    placeholder: str | None = None
    valence: float | None = None
    bare_sign: bool = False
    count: Expr | None = None
    ambiguity: Ambiguity | None = None


@dataclass
class Vacancy:
    pos: int
    count: Expr | None = None


@dataclass
class Group:
    opener: str
    pos: int
    end: int
    members: list[Seq]
    count: Expr | None = None
    valence: float | None = None
    ambiguity: Ambiguity | None = None


@dataclass
class Part:
    coef: Expr | None
    items: list[Elem | Vacancy | Group]


@dataclass
class Seq:
    parts: list[Part]


Item = Elem | Vacancy | Group


class Parser:
    """Parse a normalized formula into a `Seq`; errors come from ``error(what, pos, fix)``."""

    def __init__(self, s: str, error: ErrorFactory) -> None:
        self.s = s
        self.n = len(s)
        self.i = 0
        self.error = error
        self.ambiguities: list[Ambiguity] = []
        self.open_brackets: list[int] = []

    # -- helpers
    def _arith_paren_end(self, i: int) -> int | None:
        """End (exclusive) of a parenthesis at ``i`` holding only arithmetic, else None."""
        if i >= self.n or self.s[i] != "(":
            return None
        depth = 0
        for j in range(i, self.n):
            c = self.s[j]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return j + 1 if j > i + 1 else None
            elif c not in _ARITH_CHARS and c != "*":
                return None
        return None

    def _scan_arith(self, i: int, *, allow_caret: bool) -> int:
        j = i
        if allow_caret and j < self.n and self.s[j] == "^":
            j += 1
        while j < self.n:
            c = self.s[j]
            if c in _ARITH_CHARS:
                j += 1
                continue
            end = self._arith_paren_end(j)
            if end is None:
                break
            j = end
        return j

    def _expr(self, text: str, pos: int, what: str) -> Expr:
        try:
            return parse_expr(text, pos)
        except _ExprSyntaxError as exc:
            raise self.error(
                f"cannot read {what} {text!r} at position {pos} ({exc})",
                pos,
                "write counts as numbers (2, 0.5), ranges (2-3) or expressions in "
                "x, y, z, n, m (1-x, 3x/2)",
            ) from None

    # -- grammar
    def parse(self) -> Seq:
        seq = self.seq(None)
        if self.i < self.n:
            self._unexpected(self.i)
        return seq

    def _unexpected(self, i: int) -> None:
        c = self.s[i]
        if c in _CLOSERS:
            raise self.error(
                f"unbalanced brackets: {c!r} at position {i} has no matching opening bracket",
                i,
                "remove it or add the opening bracket",
            )
        if c == ",":
            raise self.error(
                f"',' at position {i} outside brackets",
                i,
                "list site occupants inside brackets, e.g. (Mg,Fe)2SiO4",
            )
        if c.islower():
            raise self.error(
                f"unexpected {c!r} at position {i}",
                i,
                "element symbols start with a capital letter (e.g. 'Fe'); free text "
                "is not a formula",
            )
        inside = ""
        if self.open_brackets:
            p = self.open_brackets[-1]
            inside = f" (inside the {self.s[p]!r} opened at position {p})"
        raise self.error(
            f"unexpected character {c!r} at position {i}{inside}",
            i,
            "remove it; formulas use element symbols, numbers, brackets, ',', '·' and "
            "valence signs",
        )

    def seq(self, closer: str | None) -> Seq:
        parts = [self.part(closer)]
        while self.i < self.n and self.s[self.i] == "·":
            self.i += 1
            parts.append(self.part(closer))
        return Seq(parts)

    def part(self, closer: str | None) -> Part:
        start = self.i
        coef = None
        j = self._scan_arith(self.i, allow_caret=False)
        if j > self.i:
            coef = self._expr(self.s[self.i : j], self.i, "coefficient")
            self.i = j
        items: list[Item] = []
        while self.i < self.n and self.s[self.i] not in "·," and self.s[self.i] not in _CLOSERS:
            items.append(self.item())
        if not items:
            if coef is not None:
                raise self.error(
                    f"coefficient {coef.text!r} at position {start} is not followed by a "
                    "formula unit",
                    start,
                    "write the unit after it, e.g. ·2H2O",
                )
            where = "the formula" if start == 0 and closer is None else f"position {start}"
            raise self.error(
                f"empty formula unit at {where}",
                start,
                "remove the extra separator/comma or fill in the missing unit",
            )
        return Part(coef, items)

    def item(self) -> Item:
        i = self.i
        c = self.s[i]
        if c.isupper():
            node: Item = self.element()
        elif c == "□":
            self.i += 1
            node = Vacancy(i)
        elif c in _OPENERS:
            node = self.group()
        else:
            self._unexpected(i)
            raise AssertionError  # pragma: no cover
        self.suffix(node)
        return node

    def element(self) -> Elem:
        i = self.i
        s = self.s
        if s.startswith("REE", i):
            self.i += 3
            return Elem(PLACEHOLDERS["REE"], i, placeholder="REE")
        two = s[i : i + 2]
        if len(two) == 2 and two[1].islower():
            if two in SYMBOLS:
                self.i += 2
                return Elem(two, i)
            if two in PLACEHOLDERS:
                self.i += 2
                return Elem(PLACEHOLDERS[two], i, placeholder=two)
        if s[i] in SYMBOLS:
            self.i += 1
            return Elem(s[i], i)
        bad = two if len(two) == 2 and two[1].islower() else s[i]
        raise self.error(
            f"unknown element {bad!r} at position {i}",
            i,
            "use a standard element symbol (capital letter, then an optional lower-case "
            "letter, e.g. 'Fe', 'Si'), or REE/Ln for rare earths",
        )

    def group(self) -> Group:
        pos = self.i
        opener = self.s[pos]
        closer = _OPENERS[opener]
        self.i += 1
        if self.i < self.n and self.s[self.i] == closer:
            raise self.error(
                f"empty brackets {opener}{closer} at position {pos}",
                pos,
                "remove them, or write □ for a vacant site",
            )
        if len(self.open_brackets) >= MAX_NESTING:
            raise self.error(
                f"brackets nested deeper than {MAX_NESTING} levels at position {pos}",
                pos,
                "mineral formulas need at most a few levels; remove the extra brackets",
            )
        self.open_brackets.append(pos)
        members = [self._member(closer)]
        while self.i < self.n and self.s[self.i] == ",":
            self.i += 1
            members.append(self._member(closer))
        self.open_brackets.pop()
        if self.i >= self.n:
            raise self.error(
                f"unbalanced brackets: {opener!r} at position {pos} is never closed",
                pos,
                f"add {closer!r}",
            )
        if self.s[self.i] != closer:
            raise self.error(
                f"unbalanced brackets: {opener!r} at position {pos} is closed by "
                f"{self.s[self.i]!r} at position {self.i}",
                self.i,
                f"close it with {closer!r}",
            )
        self.i += 1
        group = Group(opener, pos, self.i, members)
        if len(members) == 1:
            charged = _unit_charge(members[0])
            if charged is not None:
                group.members = [charged[0]]
                group.valence = charged[1]
        return group

    def _member(self, closer: str) -> Seq:
        seq = self.seq(closer)
        charged = _unit_charge(seq)
        if charged is None:
            return seq
        inner, charge = charged
        pos = _first_pos(inner)
        return Seq([Part(None, [Group("(", pos, pos, [inner], valence=charge)])])

    def suffix(self, node: Item) -> None:
        start = self.i
        end = self._scan_arith(start, allow_caret=True)
        text = self.s[start:end]
        self.i = end
        if not text:
            return
        target = "element" if isinstance(node, Elem) else "group"
        if isinstance(node, Vacancy):
            if text[0] in "^+-":
                raise self.error(
                    f"a vacancy □ cannot carry a valence ({text!r} at position {start})",
                    start,
                    "write only a count after □",
                )
            node.count = self._expr(text, start, "count")
            return
        m = _CARET_VALENCE.match(text)
        if m:
            if m.group(3):
                valence = 0.0
            else:
                valence = float(m.group(1) or 1) * (1 if m.group(2) == "+" else -1)
            node.valence = valence
            if isinstance(node, Elem):
                node.bare_sign = m.group(1) is None and not m.group(3)
            rest = text[m.end() :]
            if rest:
                node.count = self._expr(rest, start + m.end(), "count")
            return
        if text[0] == "^":
            raise self.error(
                f"cannot read the valence {text!r} at position {start}",
                start,
                "write valences as ^2+ or ^3- (or Fe2+ in plain notation)",
            )
        if text[0] in "+-":
            node.valence = 1.0 if text[0] == "+" else -1.0
            if isinstance(node, Elem):
                node.bare_sign = True
            if len(text) > 1:
                node.count = self._expr(text[1:], start + 1, "count")
            return
        m = _PLAIN_VALENCE.fullmatch(text)
        if not m:
            node.count = self._expr(text, start, "count")
            return
        digits, sign, rest = m.groups()
        magnitude = float(digits)
        valence = magnitude if sign == "+" else -magnitude
        integral = "." not in digits
        if not rest:
            if magnitude > 8:
                raise self.error(
                    f"valence {digits}{sign} at position {start} is not plausible",
                    start,
                    "valences run from 1 to 8; check the formula",
                )
            node.valence = valence
            return
        if target == "group":
            # a charged unit such as (S2)2-, (Hg2)2+, (C2)6+, (AsS)3-, or a site whose
            # occupants all take the valence, (As,Sb)3+4
            assert isinstance(node, Group)
            plausible = integral and 1 <= magnitude <= 8 and _group_takes(node, valence)
        else:
            assert isinstance(node, Elem)
            plausible = integral and plausible_valence(node.sym, valence)
        rest_pos = start + len(digits) + 1
        if not plausible:
            node.count = self._expr(text, start, "count")
            return
        certain = (
            # "Fe2+4", "Sb3+6+x", "As3+1-x": a count written as 2+4 or 3+1-x does not occur
            sign == "+" and rest[0].isdigit() and not _NUMBER_THEN_VARIABLE.match(rest)
        ) or (
            # "S2-4", "Se2-2", "N3-4": the element's usual anion valence, not a range
            isinstance(node, Elem)
            and sign == "-"
            and _PURE_NUMBER.fullmatch(rest) is not None
            and ANION_STATE.get(node.sym) == valence
        )
        if certain:
            node.valence = valence
            node.count = self._expr(rest, rest_pos, "count")
            return
        try:
            as_count = parse_expr(text, start)
        except _ExprSyntaxError:
            as_count = None
        valence_count = self._expr(rest, rest_pos, "count")
        if as_count is None:
            node.valence = valence
            node.count = valence_count
            return
        default = "C" if rest[0] in VARIABLES else "V"
        amb = Ambiguity(
            len(self.ambiguities), text, start, valence, valence_count, as_count, default, target
        )
        self.ambiguities.append(amb)
        node.ambiguity = amb


def _group_takes(group: Group, valence: float) -> bool:
    """Whether a plain valence after ``group`` is plausible: any charge for a single unit;
    for a site group, only a valence every (single-element) occupant can take."""
    if len(group.members) == 1:
        return True
    for member in group.members:
        if len(member.parts) != 1 or len(member.parts[0].items) != 1:
            return False
        item = member.parts[0].items[0]
        if isinstance(item, Vacancy):
            continue
        if not isinstance(item, Elem) or item.valence is not None or item.ambiguity:
            return False
        if not plausible_valence(item.sym, valence):
            return False
    return True


def _first_pos(seq: Seq) -> int:
    item = seq.parts[0].items[0]
    return item.pos


def _unit_charge(seq: Seq) -> tuple[Seq, float] | None:
    """``OH-``, ``H3O^+``: a bare sign after the last element of a multi-element unit.

    The sign is the charge of the whole unit (hydroxyl, hydronium), not a valence of its last
    element. Returns the unit without the sign and the charge, or None.
    """
    if len(seq.parts) != 1 or seq.parts[0].coef is not None:
        return None
    items = seq.parts[0].items
    if len(items) < 2:
        return None
    last = items[-1]
    if not (isinstance(last, Elem) and last.bare_sign and last.count is None):
        return None
    charge = last.valence
    assert charge is not None
    last.valence = None
    last.bare_sign = False
    return seq, charge


# --------------------------------------------------------------------------- evaluation
@dataclass
class Atom:
    """One element occurrence after evaluation."""

    sym: str
    amount: float
    valence: float | None
    next_sym: str | None
    next_is_element: bool
    pos: int
    placeholder: str | None = None
    #: O atoms written right after this atom per atom of it (SO4: 4; S54O5: 0.09); None
    #: when the next item is not an O symbol with a count (e.g. a group such as (OH))
    next_o_ratio: float | None = None
    #: the next symbol comes after the site group this atom is an occupant of
    #: ((As,P)O4, (Ti,Fe,Cr)18O38)
    next_via_site: bool = False


@dataclass(frozen=True)
class Follow:
    """What follows a sequence in its parent: first symbol, whether it is an element
    token, and (for an O element) its count per unit of the sequence."""

    sym: str | None = None
    is_element: bool = False
    o_count: float | None = None
    via_site: bool = False


_NOTHING = Follow()


def first_symbol(item: Item) -> str | None:
    if isinstance(item, Elem):
        return item.sym
    if isinstance(item, Group):
        first = item.members[0].parts[0].items[0]
        return first_symbol(first)
    return None


class Evaluator:
    """Turn a parsed `Seq` into `Atom` amounts for one choice of readings and variables."""

    def __init__(
        self,
        decisions: Mapping[int, str],
        env: Env,
        error: ErrorFactory,
        source: str,
    ) -> None:
        self.decisions = decisions
        self.env = env
        self.error = error
        self.source = source
        self.vacancies = 0.0

    def count(self, expr: Expr | None, what: str = "count") -> float:
        if expr is None:
            return 1.0
        try:
            value = expr.value(self.env)
        except ZeroDivisionError:
            raise self.error(
                f"{what} {expr.text!r} at position {expr.pos} divides by zero", expr.pos, ""
            ) from None
        if not math.isfinite(value) or value < -1e-9:
            values = ", ".join(f"{k}={self.env.values[k]:g}" for k in sorted(self.env.used))
            raise self.error(
                f"{what} {expr.text!r} at position {expr.pos} evaluates to {value:g}"
                + (f" with {values}" if values else ""),
                expr.pos,
                "choose variable values that keep every count non-negative",
            )
        return max(value, 0.0)

    def _resolve(self, node: Elem | Group) -> tuple[float | None, Expr | None]:
        amb = node.ambiguity
        if amb is None:
            return node.valence, node.count
        if self.decisions.get(amb.id, amb.default) == "V":
            return amb.valence, amb.valence_count
        return None, amb.count

    def seq(self, seq: Seq, mult: float, follow: Follow = _NOTHING) -> list[Atom]:
        atoms: list[Atom] = []
        last = len(seq.parts) - 1
        for k, part in enumerate(seq.parts):
            coef = self.count(part.coef, "coefficient") if part.coef is not None else 1.0
            f = follow if k == last and part.coef is None else _NOTHING
            atoms.extend(self.items(part.items, mult * coef, f))
        return atoms

    def _follow(self, nxt: Item) -> Follow:
        if isinstance(nxt, Elem):
            o_count = None
            if nxt.sym == "O":
                _, expr = self._resolve(nxt)
                o_count = self.count(expr)
            return Follow(nxt.sym, True, o_count)
        return Follow(first_symbol(nxt), False, None)

    def items(self, items: list[Item], mult: float, follow: Follow) -> list[Atom]:
        atoms: list[Atom] = []
        for k, item in enumerate(items):
            nxt = self._follow(items[k + 1]) if k + 1 < len(items) else follow
            if isinstance(item, Elem):
                valence, count_expr = self._resolve(item)
                local = self.count(count_expr)
                if item.placeholder:
                    self.env.note(
                        f"{item.placeholder} represented by {item.sym}", representative=True
                    )
                ratio = None
                if nxt.o_count is not None and local > 0:
                    ratio = nxt.o_count / local
                atoms.append(
                    Atom(
                        item.sym,
                        mult * local,
                        valence,
                        nxt.sym,
                        nxt.is_element,
                        item.pos,
                        item.placeholder,
                        ratio,
                        nxt.via_site,
                    )
                )
            elif isinstance(item, Vacancy):
                self.vacancies += mult * self.count(item.count)
            else:
                atoms.extend(self.group(item, mult, nxt))
        return atoms

    def group(self, g: Group, mult: float, follow: Follow) -> list[Atom]:
        valence, count_expr = self._resolve(g)
        count = self.count(count_expr)
        text = self.source[g.pos : g.end]
        if follow.o_count is not None or len(g.members) > 1:
            # per unit of the group's content: (As,P)O4 -> 4 O per As
            o_count = follow.o_count
            if o_count is not None:
                o_count = o_count / count if count > 0 else None
            follow = Follow(
                follow.sym,
                follow.is_element,
                o_count,
                follow.via_site or len(g.members) > 1,
            )
        if len(g.members) > 1:
            share = 1.0 / len(g.members)
            self.env.note(
                f"site {text} split equally among its {len(g.members)} occupants",
                representative=True,
            )
            inner: list[Atom] = []
            vac_before = self.vacancies
            for member in g.members:
                atoms = self.seq(member, 1.0 * share, follow)
                if valence is not None and atoms:
                    # a valence after a site applies to each occupant
                    _distribute_charge(atoms, valence * share, text, self.env)
                inner.extend(atoms)
            self.vacancies = vac_before + (self.vacancies - vac_before) * count * mult
            valence = None
        else:
            if count_expr is not None and self._is_site_total(g.members[0], count):
                self.env.note(
                    f"subscript {count_expr.text} after {text} read as the site total (its "
                    "occupants already sum to it), not as a multiplier",
                    representative=True,
                )
                count = 1.0
            vac_before = self.vacancies
            inner = self.seq(g.members[0], 1.0, follow)
            self.vacancies = vac_before + (self.vacancies - vac_before) * count * mult
        if valence is not None:
            _distribute_charge(inner, valence, text, self.env)
        for atom in inner:
            atom.amount *= count * mult
        return inner

    def _is_site_total(self, member: Seq, count: float) -> bool:
        """Measured-chemistry style ``(Ca1.90Sr0.06Mg0.04)2.00``: the subscript is a sum."""
        if abs(count - 1.0) < 1e-9 or len(member.parts) != 1 or member.parts[0].coef:
            return False
        items = member.parts[0].items
        if len(items) < 2:
            return False
        counts = []
        for item in items:
            expr = item.count
            if expr is None or not expr.is_number or getattr(item, "ambiguity", None):
                return False
            counts.append(expr.value(self.env))
        if all(abs(c - round(c)) < 1e-9 for c in counts):
            return False
        total = sum(counts)
        return abs(total - count) <= 0.02 + 0.01 * count


_FIXED_IN_UNITS = {"O": -2.0, "H": 1.0, "F": -1.0, "Cl": -1.0, "Br": -1.0, "I": -1.0}


def _distribute_charge(atoms: list[Atom], charge: float, text: str, env: Env) -> None:
    """Give the atoms of a charged unit (``(S2)2-``, ``(C2)6+``, ``H3O+``) their valences.

    O, H and halogens keep their usual valences; the rest of the unit's charge is shared
    equally (per atom) by the other atoms. If every atom is O/H/halogen the unit charge
    must already match; otherwise it is shared equally by all atoms.
    """
    fixed = 0.0
    free_amount = 0.0
    for a in atoms:
        if a.valence is not None:
            fixed += a.valence * a.amount
        elif a.sym in _FIXED_IN_UNITS:
            fixed += _FIXED_IN_UNITS[a.sym] * a.amount
        else:
            free_amount += a.amount
    if free_amount > 0:
        per_atom = (charge - fixed) / free_amount
        for a in atoms:
            if a.valence is None:
                a.valence = _FIXED_IN_UNITS.get(a.sym, per_atom)
    else:
        total = sum(a.amount for a in atoms)
        if abs(fixed - charge) > 1e-9 and total > 0:
            env.note(f"unit charge of {text} shared equally by its atoms")
            for a in atoms:
                a.valence = charge / total
        else:
            for a in atoms:
                if a.valence is None:  # only O/H/halogens, or atoms with zero amount
                    a.valence = _FIXED_IN_UNITS.get(a.sym, 0.0)
