"""What the planetary schemes share: the rule loop, role groups and number formatting."""

from __future__ import annotations

from collections.abc import Callable

from lithoscope.rocks.chemistry import Chemistry
from lithoscope.rocks.iugs import iugs_name
from lithoscope.rocks.minerals import Assemblage
from lithoscope.rocks.result import UNCLASSIFIED, RockName

TOL = 1e-9
P = ("plagioclase", "maskelynite")
LOW_CA = ("orthopyroxene", "pigeonite")
PX = ("orthopyroxene", "pigeonite", "clinopyroxene", "pyroxene", "pyroxenoid")

#: ``rule(assemblage, iugs_name, chemistry, steps) -> (name, field) or None``; the rule appends
#: what it checked to ``steps`` either way.
Rule = Callable[[Assemblage, RockName, Chemistry, list[str]], tuple[str, str] | None]


def f1(x: float) -> str:
    """One decimal: the precision of every vol % in the reasoning."""
    return f"{x:.1f}"


def classify(
    asm: Assemblage,
    chem: Chemistry,
    volcanic: bool,
    scheme: str,
    rules: tuple[tuple[str, Rule], ...],
) -> RockName:
    """The first rule that names the rock, with the IUGS name and the rules tried before it."""
    iugs = iugs_name(asm, an=chem.plagioclase_an, volcanic=volcanic)
    steps = list(asm.notes)
    steps.append(
        f"IUGS name: {iugs.name} ({iugs.scheme}"
        + (f", field {iugs.field}" if iugs.field else "")
        + ")"
    )
    for label, rule in rules:
        tried: list[str] = []
        hit = rule(asm, iugs, chem, tried)
        if hit is not None:
            name, field = hit
            return RockName(name, scheme, field, tuple(steps + tried))
        steps.append(f"not {label}: " + "; ".join(tried))
    steps.append(f"no {scheme} class fits")
    return RockName(UNCLASSIFIED, scheme, "", tuple(steps))
