"""Modal mineralogy -> rock name: the public entry point over the scheme registries."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from lithoscope.errors import InputError
from lithoscope.rocks import iugs, planetary
from lithoscope.rocks.minerals import Assemblage, parse_modes
from lithoscope.rocks.result import UNCLASSIFIED, RockName

__all__ = ["BODIES", "SCHEMES", "name_rock", "name_rocks"]

Scheme = Callable[[Assemblage, float | None, bool], RockName]

#: Every scheme by key: ``scheme(assemblage, plagioclase_an, volcanic) -> RockName``.
SCHEMES: dict[str, Scheme] = {
    "iugs": lambda asm, an, volcanic: iugs.iugs_name(asm, an=an, volcanic=volcanic),
    "iugs-qapf": lambda asm, an, volcanic: iugs.qapf(asm, an=an, volcanic=volcanic),
    "iugs-ultramafic": lambda asm, an, volcanic: iugs.ultramafic(asm),
    "iugs-gabbroic": lambda asm, an, volcanic: iugs.gabbroic(asm),
    "lunar": lambda asm, an, volcanic: planetary.lunar(asm, an=an, volcanic=volcanic),
    "martian": lambda asm, an, volcanic: planetary.martian(asm, an=an, volcanic=volcanic),
    "meteorite": lambda asm, an, volcanic: planetary.meteorite(asm, an=an, volcanic=volcanic),
}

#: The planetary scheme used for each ``body``.
BODIES: dict[str, str] = {"moon": "lunar", "mars": "martian", "meteorite": "meteorite"}


def _check_an(an: float | None) -> float | None:
    if an is None:
        return None
    if not isinstance(an, int | float) or not math.isfinite(an) or not 0 <= an <= 100:
        raise InputError(f"--an {an!r}: expected plagioclase An in mol % between 0 and 100")
    return float(an)


def _scheme_key(body: str | None, scheme: str | None) -> str:
    if scheme is not None:
        if scheme not in SCHEMES:
            raise InputError(f"--scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
        return scheme
    if body is None:
        return "iugs"
    key = body.strip().casefold()
    if key not in BODIES:
        raise InputError(f"--body {body!r}: expected one of {', '.join(BODIES)}, or none")
    return BODIES[key]


def name_rock(
    modes: Mapping[str, float],
    *,
    body: str | None = None,
    plagioclase_an: float | None = None,
    volcanic: bool = False,
    scheme: str | None = None,
) -> RockName:
    """Name a rock from its modal mineralogy, with the reasoning shown.

    Without ``body`` the IUGS modal schemes are used as LM02 prescribes (M >= 90: ultramafic
    Ol-Opx-Cpx; otherwise QAPF, with field 10 gabbroic rocks refined by the Plag-Px-Ol and
    Plag-Opx-Cpx triangles). With ``body`` the planetary class is the name and the IUGS name is
    given in the reasoning; when no planetary class fits, the IUGS name is returned (scheme
    ``iugs-...``) and the reasoning says which classes were tried.

    Parameters
    ----------
    modes : mapping of str to float
        Mineral -> vol %. Names may be IMA species (forsterite, augite, anorthite ...), groups or
        roles (olivine, clinopyroxene, plagioclase, Fe-Ni metal ...) or common names
        (labradorite, bronzite); case, accents and hyphens do not matter. Modes that do not sum
        to 100 are normalised (the reasoning says so).
    body : {"moon", "mars", "meteorite"}, optional
        Planetary classes to use.
    plagioclase_an : float, optional
        Anorthite content of the plagioclase, mol % (decides diorite/gabbro, FAN).
    volcanic : bool, default=False
        Volcanic QAPF names (basalt, rhyolite ...) instead of plutonic ones.
    scheme : str, optional
        Force one scheme of `SCHEMES` instead of choosing from ``body``.

    Returns
    -------
    RockName
        ``name``, ``scheme``, ``field`` and ``reasoning``; ``name`` is ``"unclassified"`` when
        no rule names the rock.

    Raises
    ------
    InputError
        Unknown mineral name, negative or non-finite mode, An outside 0-100, unknown body or
        scheme.

    Examples
    --------
    >>> name_rock({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3}).name
    'anorthosite'
    >>> name_rock({"olivine": 60, "enstatite": 30, "diopside": 10}).name
    'lherzolite'
    >>> name_rock({"plagioclase": 96, "pyroxene": 4}, body="moon", plagioclase_an=96).name
    'ferroan anorthosite'
    """
    key = _scheme_key(body, scheme)
    an = _check_an(plagioclase_an)
    asm = parse_modes(modes)
    result = SCHEMES[key](asm, an, volcanic)
    if scheme is None and key in BODIES.values() and result.name == UNCLASSIFIED:
        fallback = SCHEMES["iugs"](asm, an, volcanic)
        if fallback.name != UNCLASSIFIED:
            tried = [step for step in result.reasoning if step not in asm.notes]
            return RockName(
                fallback.name,
                fallback.scheme,
                fallback.field,
                (*fallback.reasoning, *tried, f"IUGS name kept: {fallback.name}"),
            )
    return result


def name_rocks(
    modes: Iterable[Mapping[str, float]],
    *,
    body: str | None = None,
    plagioclase_an: float | Iterable[float | None] | None = None,
    volcanic: bool = False,
    scheme: str | None = None,
) -> list[RockName]:
    """`name_rock` over many modes; ``plagioclase_an`` may be one value or one per mode.

    Examples
    --------
    >>> [r.name for r in name_rocks([{"olivine": 95, "chromite": 5}, {"quartz": 100}])]
    ['dunite', 'quartzolite']
    """
    rows = list(modes)
    if plagioclase_an is None or isinstance(plagioclase_an, int | float):
        ans: list[float | None] = [plagioclase_an] * len(rows)
    else:
        ans = list(plagioclase_an)
        if len(ans) != len(rows):
            raise InputError(
                f"plagioclase_an: got {len(ans)} values for {len(rows)} modes; give one per mode"
            )
    return [
        name_rock(m, body=body, plagioclase_an=a, volcanic=volcanic, scheme=scheme)
        for m, a in zip(rows, ans, strict=True)
    ]
