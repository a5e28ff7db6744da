"""Text clean-up of formula strings: markup, entities, mojibake, annotations.

`normalize_formula` turns the many spellings of a mineral formula found in RRUFF, IMA and
Hazen & Morrison tables into one plain string that `lithoscope.mindb.chemistry.parse_formula`
reads. Its output uses these conventions:

* subscripts are plain numbers (``Mg2SiO4``);
* a valence taken from superscript markup (RRUFF ``^2+^``, HTML ``<sup>2+</sup>``, Unicode
  ``²⁺``) is written ``^2+`` after the symbol (``NaPb^2+2(CO3)2(OH)``), so it can never be read
  as a count; valences already written in the Hazen/RRUFF "plain" way (``Pb2+2``) are kept
  as they are and resolved by the parser;
* ``·`` is the only hydration separator (``•``, ``∙``, ``⋅``, ``*``, `` x `` and a ``.`` that is
  not a decimal point are turned into it);
* ``□`` is the only vacancy symbol (``[box]``, ``[]``, ``[ ]``);
* no whitespace.

Annotations are cut off and returned separately by `prepare` (not by `normalize_formula`):
RRUFF measured-chemistry comments after ``;``, ``:`` or ``. `` (``"; trace amounts of Mn"``),
IMA constraints after the formula (``"(x ≈ 0.15)"``, ``"[0<x<2]"``, ``"; 3 ≤ x ≤ 4"``), a
trailing ``(?)``, and any trailing text with a word of three or more lower-case letters.
Site totals (``Σ=2``, ``_Σ1.95_``, ``∑``, ``Ʃ``) are informative only and removed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._elements import VARIABLE_DEFAULTS

__all__ = ["Prepared", "normalize_formula", "prepare"]

_MOJIBAKE = (
    ("¬∑", "·"),  # U+00B7 UTF-8 bytes read as Mac Roman (Hazen & Morrison table)
    ("Â·", "·"),  # U+00B7 UTF-8 bytes read as Latin-1 / cp1252
    ("â–¡", "□"),  # U+25A1 read as cp1252
    ("‚ñ°", "□"),  # U+25A1 read as Mac Roman
    ("Î£", "Σ"),  # U+03A3 read as Latin-1
    ("Œ£", "Σ"),  # U+03A3 read as Mac Roman
    ("â€¢", "·"),  # U+2022 bullet read as cp1252
    ("âˆ'", "-"),  # U+2212 minus read as cp1252
)
_CHAR_MAP = str.maketrans(
    {
        "\u0387": "·",  # Greek ano teleia, looks like the middle dot
        "•": "·",
        "∙": "·",
        "⋅": "·",
        "−": "-",
        "–": "-",
        "—": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "\r": " ",
        "\n": " ",
        "∑": "Σ",
        "Ʃ": "Σ",
        "◻": "□",
        "☐": "□",
        "〈": "(",
        "〉": ")",
    }
)
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
# RRUFF's HTML draws the vacancy box as an empty bordered <span>
_HTML_BOX = re.compile(r"<span[^<>]*border[^<>]*>(?:\s|&nbsp;|&#160;)*</span>", re.I)
_HTML_TAG = re.compile(r"</?(?:sub|sup|i|b|em|strong|span|font|br|small)\b[^<>]*>", re.I)
_SUP = re.compile(r"<sup>(.*?)</sup>", re.I | re.S)
_SUB = re.compile(r"<sub>(.*?)</sub>", re.I | re.S)
_RRUFF_SUP = re.compile(r"\^\s*(\d*(?:\.\d+)?[+-]|[+-]\d*(?:\.\d+)?)\s*\^")
_COORDINATION = re.compile(r"\^\s*\[?(?:I|II|III|IV|V|VI|VII|VIII|IX|X|XII)\]?\s*\^")
_RRUFF_SUB = re.compile(r"_([^_]*)_")
_SIGMA = re.compile(r"Σ\s*=?\s*(?:\d+(?:\.\d*)?|\.\d+)?")
_POLYMORPH = re.compile(r"^\s*([α-ω])\s*-\s*")
_APPROX = re.compile(r"(^|[·(\[{)\]}])\s*[~≈]\s*")
_VACANCY = re.compile(r"\[\s*box\s*\]|\[\s*\]", re.I)
_RELATION = re.compile(r"[<>=≤≥≈~≪«»≃]|\bto\b")
_TEXT_WORD = re.compile(r"[a-z]{3,}")
_TIMES_SEPARATOR = re.compile(r"\s+[x×]\s+(?=[\d(\[{A-Z□n])")
_DOT_SEPARATOR = re.compile(r"\.(?=\s*(?:[A-Z(\[{□]|(?:\d+(?:\.\d+)?|[nxyz])\s*H2O))")
_VALENCE_TEXT = re.compile(r"([+-])(\d*(?:\.\d+)?)")
_SPACE = re.compile(r"\s+")
_OPEN = "([{"
_CLOSE = ")]}"


@dataclass
class Prepared:
    """Result of `prepare`: the normalized formula, the cut-off annotation and notes."""

    normalized: str
    annotation: str | None = None
    notes: list[str] = field(default_factory=list)


def _valence_text(body: str) -> str:
    """Superscript content as ``d+``/``d-`` (``+2`` -> ``2+``); other content unchanged."""
    body = body.strip()
    m = _VALENCE_TEXT.fullmatch(body)
    if m:
        return f"{m.group(2)}{m.group(1)}"
    return body


def _may_separate(s: str, i: int) -> bool:
    """A ``.`` after digits separates only if those digits follow a symbol or a bracket
    (``CaSO4.2H2O``); after ``·``, a sign or the start they form a coefficient (``·1.5``)."""
    j = i
    while j > 0 and s[j - 1].isdigit():
        j -= 1
    if j == i:
        return True
    if s[j:i] == "0":  # "F0.5": a count is never 0, so this is a decimal point
        return False
    return j > 0 and (s[j - 1].isalpha() or s[j - 1] in ")]}")


def _dot_separators(s: str) -> str:
    """Turn a ``.`` that separates water (``CaSO4.2H2O``, ``X.H2O``) into ``·``.

    A ``.`` between digits is a decimal point unless the number after it is the coefficient
    of H2O; the decimal point of that coefficient (``CaSO4.1.5H2O``) is kept.
    """
    out: list[str] = []
    i = 0
    while i < len(s):
        m = _DOT_SEPARATOR.match(s, i) if s[i] == "." and _may_separate(s, i) else None
        if m is None:
            out.append(s[i])
            i += 1
            continue
        out.append("·")
        i += 1
        num = re.match(r"\s*\d+(?:\.\d+)?", s[i:])
        if num:
            out.append(num.group(0))
            i += num.end()
    return "".join(out)


def _reject_empty(text: object) -> str:
    if not isinstance(text, str):
        raise FormulaError(
            f"formula {text!r}: expected a string, got {type(text).__name__}; "
            "pass the formula as text, e.g. 'Mg2SiO4'"
        )
    if not text.strip():
        raise FormulaError(f"formula {text!r} is empty; give a chemical formula such as 'Mg2SiO4'")
    return text


def _markup_to_plain(text: str, notes: list[str]) -> str:
    s = _HTML_BOX.sub("□", text)
    s = html.unescape(s)
    for bad, good in _MOJIBAKE:
        if bad in s:
            s = s.replace(bad, good)
            notes.append(f"mis-encoded {bad!r} read as {good!r}")
    s = s.translate(_CHAR_MAP)
    s = _SUP.sub(lambda m: "^" + _valence_text(m.group(1)), s)
    s = _SUB.sub(lambda m: m.group(1).strip(), s)
    s = _HTML_TAG.sub("", s)
    s = _RRUFF_SUP.sub(lambda m: "^" + _valence_text(m.group(1)), s)
    if _COORDINATION.search(s):
        s = _COORDINATION.sub("", s)
        notes.append("coordination superscripts (^IV^, ^VI^) ignored")

    def _sub(m: re.Match[str]) -> str:
        body = m.group(1).strip()
        return "0" + body if body.startswith(".") else body

    s = _RRUFF_SUB.sub(_sub, s)
    if "_" in s:
        s = s.replace("_", "")
        notes.append("unpaired '_' subscript marker ignored")
    s = s.translate(_SUBSCRIPTS)
    s = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group(0).translate(_SUPERSCRIPTS), s)
    s = _VACANCY.sub("□", s)
    return s


def _looks_like_annotation(rest: str) -> bool:
    return bool(
        not rest
        or _RELATION.search(rest)
        or _TEXT_WORD.search(rest)
        or rest.startswith("(?")
        or rest == "?"
    )


def _split_annotation(s: str) -> tuple[str, str | None]:
    """Cut ``s`` where an annotation starts (see module docstring); return (formula, note).

    An annotation starts at a top-level ``;``, ``:``, ``,``, ``. `` or space whose remainder
    holds a relation (``x ≈ 0.15``), a word of three or more lower-case letters, or ``(?``.
    Anything else stays in the formula (and a stray ``;`` is then reported by the parser).
    """
    depth = 0
    n = len(s)
    for i, ch in enumerate(s):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        if depth or i == 0:
            continue
        separator = ch in ";:, " or (ch == "." and (i == n - 1 or s[i + 1] == " "))
        if separator and _looks_like_annotation(s[i + 1 :].strip()):
            return s[:i], s[i + 1 :]
    return s, None


def prepare(text: str) -> Prepared:
    """Normalize ``text`` and return the normalized formula with its annotation and notes.

    Parameters
    ----------
    text : str
        Formula as found in a source (plain, RRUFF markup, HTML).

    Returns
    -------
    Prepared
        ``normalized`` plain formula, ``annotation`` (text cut off after the formula, or None)
        and ``notes`` on what was changed.

    Raises
    ------
    FormulaError
        If ``text`` is not a string or is empty.
    """
    _reject_empty(text)
    notes: list[str] = []
    s = _markup_to_plain(text, notes)
    m = _POLYMORPH.match(s)
    if m:
        notes.append(f"polymorph prefix '{m.group(1)}-' ignored")
        s = s[m.end() :]
    if _SIGMA.search(s):
        s = _SIGMA.sub("", s)
        notes.append("Σ site totals ignored (they restate the sum of the site's occupants)")
    if _APPROX.search(s):
        s = _APPROX.sub(lambda m: m.group(1), s)
        notes.append("'~'/'≈' (approximately) before a count ignored")
    s = _SPACE.sub(" ", s).strip()
    formula, annotation = _split_annotation(s)
    formula = formula.strip()
    for mark in ("(?)", "?"):
        if formula.endswith(mark):
            formula = formula[: -len(mark)].strip()
            annotation = "?" if annotation is None else "?; " + annotation
            break
    if annotation is not None:
        annotation = annotation.strip().lstrip(";:,. ").strip() or None
    formula = _TIMES_SEPARATOR.sub("·", formula)
    formula = formula.replace("*", "·")
    formula = _dot_separators(formula)
    formula = _SPACE.sub("", formula)
    if formula.endswith("."):
        formula = formula[:-1]
    return Prepared(formula, annotation, notes)


def normalize_formula(text: str) -> str:
    """Clean a formula string into the plain form that `parse_formula` reads.

    Handles RRUFF markup (``_2_`` subscripts, ``^2+^`` valences, ``_Σ=3_`` site totals), HTML
    entities (``&#183;``, ``&amp;``) and tags (``<sub>``, ``<sup>``, ``<i>``), Unicode
    sub/superscripts, mojibake such as ``¬∑`` and ``Â·`` for ``·``, vacancy spellings
    (``[box]``, ``[]``), hydration separators (``•``, ``*``, `` x ``, ``.``) and whitespace.
    Annotations after the formula (comments, ``(x ≈ 0.15)``, ``(?)``) are dropped; see the
    module docstring for the exact rules and the output conventions.

    Parameters
    ----------
    text : str
        Formula as found in a source.

    Returns
    -------
    str
        Plain formula (may still be invalid: `parse_formula` checks it).

    Raises
    ------
    FormulaError
        If ``text`` is not a string or is empty.

    Examples
    --------
    >>> normalize_formula("NaPb^2+^_2_(CO_3_)_2_(OH)")
    'NaPb^2+2(CO3)2(OH)'
    >>> normalize_formula("CaSO<sub>4</sub>&#183;2H<sub>2</sub>O")
    'CaSO4·2H2O'
    >>> normalize_formula("Mg2SiO4 (?)")
    'Mg2SiO4'
    """
    return prepare(text).normalized


_NUM = r"(\d+(?:\.\d+)?(?:/\d+)?|\.\d+)"
_VAR = r"([xyznm])"
_EQUALS = re.compile(rf"{_VAR}={_NUM}(?:(?:-|to){_NUM})?")
_BETWEEN = re.compile(rf"{_NUM}(<=?){_VAR}(<=?){_NUM}")
_UPPER = re.compile(rf"{_VAR}(<=?){_NUM}|{_NUM}(>=?){_VAR}")
_LOWER = re.compile(rf"{_VAR}(>=?){_NUM}|{_NUM}(<=?){_VAR}")


def _number(text: str) -> float:
    if "/" in text:
        a, b = text.split("/")
        return float(a) / float(b)
    return float(text)


def annotation_values(annotation: str | None) -> tuple[dict[str, float], list[str]]:
    """Variable values stated in an annotation such as ``(x ≈ 0.15)`` or ``[15≤n≤24]``.

    ``x = a`` (also ``≈``, ``~``) gives ``a``; ``x = a-b``, ``x = a to b`` and ``a < x < b``
    give the midpoint. One-sided bounds (``x < 0.5``) only matter when the default value
    breaks them; the bound is then used. Other clauses are ignored.

    Returns
    -------
    values : dict of str to float
        Variable values.
    notes : list of str
        One note per value, naming the clause it came from.
    """
    if not annotation:
        return {}, []
    text = annotation.strip()
    while len(text) >= 2 and text[0] in "([{" and text[-1] in ")]}":
        text = text[1:-1].strip()
    text = (
        text.replace("≤", "<=")
        .replace("≥", ">=")
        .replace("≈", "=")
        .replace("~", "=")
        .replace("≃", "=")
        .replace("<<", "≪")
    )
    values: dict[str, float] = {}
    notes: list[str] = []
    bounds: dict[str, list[tuple[str, float]]] = {}
    for raw in re.split(r"[;,]", text):
        clause = re.sub(r"\s+", "", raw)
        if not clause:
            continue
        try:
            if m := _EQUALS.fullmatch(clause):
                var, a, b = m.groups()
                value = _number(a) if b is None else 0.5 * (_number(a) + _number(b))
            elif m := _BETWEEN.fullmatch(clause):
                a, _, var, _, b = m.groups()
                value = 0.5 * (_number(a) + _number(b))
            elif m := _UPPER.fullmatch(clause):
                var = m.group(1) or m.group(6)
                bounds.setdefault(var, []).append(("<", _number(m.group(3) or m.group(4))))
                continue
            elif m := _LOWER.fullmatch(clause):
                var = m.group(1) or m.group(6)
                bounds.setdefault(var, []).append((">", _number(m.group(3) or m.group(4))))
                continue
            else:
                continue
        except (ValueError, ZeroDivisionError):
            continue
        values[var] = value
        notes.append(f"{var} = {value:g} from the formula's annotation '{raw.strip()}'")
    for var, limits in bounds.items():
        if var in values:
            continue
        value = VARIABLE_DEFAULTS[var]
        for kind, bound in limits:
            if (kind == "<" and value > bound) or (kind == ">" and value < bound):
                value = bound
        if value != VARIABLE_DEFAULTS[var]:
            values[var] = value
            notes.append(f"{var} = {value:g}: the default breaks the annotation's bound")
    return values, notes
