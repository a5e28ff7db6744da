"""Modal mineralogy -> rock name: the public entry point over the scheme registries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from lithoscope.errors import InputError
from lithoscope.rocks import iugs, meteorites, planetary
from lithoscope.rocks.chemistry import Chemistry, check_chemistry
from lithoscope.rocks.minerals import Assemblage, parse_modes
from lithoscope.rocks.result import UNCLASSIFIED, RockName

__all__ = ["BODIES", "SCHEMES", "name_rock", "name_rocks"]

Scheme = Callable[[Assemblage, Chemistry, bool], RockName]


def _planetary(fn: Callable[..., RockName]) -> Scheme:
    def scheme(asm: Assemblage, chem: Chemistry, volcanic: bool) -> RockName:
        return fn(
            asm,
            an=chem.plagioclase_an,
            volcanic=volcanic,
            fa=chem.olivine_fa,
            fs=chem.pyroxene_fs,
        )

    return scheme


#: Every scheme by key: ``scheme(assemblage, chemistry, volcanic) -> RockName``. The IUGS
#: schemes use only the plagioclase An of the `Chemistry`.
SCHEMES: dict[str, Scheme] = {
    "iugs": lambda asm, chem, volcanic: iugs.iugs_name(
        asm, an=chem.plagioclase_an, volcanic=volcanic
    ),
    "iugs-qapf": lambda asm, chem, volcanic: iugs.qapf(
        asm, an=chem.plagioclase_an, volcanic=volcanic
    ),
    "iugs-ultramafic": lambda asm, chem, volcanic: iugs.ultramafic(asm),
    "iugs-gabbroic": lambda asm, chem, volcanic: iugs.gabbroic(asm),
    "lunar": _planetary(planetary.lunar),
    "martian": _planetary(planetary.martian),
    "meteorite": _planetary(meteorites.meteorite),
}

#: The planetary scheme used for each ``body``.
BODIES: dict[str, str] = {"moon": "lunar", "mars": "martian", "meteorite": "meteorite"}


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
    olivine_fa: float | None = None,
    pyroxene_fs: float | None = None,
    volcanic: bool = False,
    scheme: str | None = None,
) -> RockName:
    """Name a rock from its modal mineralogy and mineral chemistry, with the reasoning shown.

    Without ``body`` the IUGS modal schemes are used as LM02 prescribes (M >= 90: ultramafic
    Ol-Opx-Cpx; otherwise QAPF, with field 10 gabbroic rocks refined by the Plag-Px-Ol and
    Plag-Opx-Cpx triangles). With ``body`` the planetary class is the name and the IUGS name is
    given in the reasoning; when no planetary class fits, the IUGS name is returned (scheme
    ``iugs-...``) and the reasoning says which classes were tried.

    Mineral chemistry sharpens the planetary classes as meteoriticists and lunar petrologists
    use it: ordinary chondrites H/L/LL by olivine Fa and low-Ca pyroxene Fs, primitive
    achondrites by how reduced the silicates are, brachinites and ureilites by olivine Fa, FAN
    versus Mg-suite by the Mg# of the mafic minerals (`lithoscope.rocks.meteorites`,
    `lithoscope.rocks.planetary`). The IUGS schemes use only An.

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
    olivine_fa : float, optional
        Fayalite content of the olivine, mol %.
    pyroxene_fs : float, optional
        Ferrosilite content of the low-Ca pyroxene (orthopyroxene or pigeonite), mol %.
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
        Unknown mineral name, negative or non-finite mode, An, Fa or Fs outside 0-100, unknown
        body or scheme.

    Examples
    --------
    >>> name_rock({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3}).name
    'anorthosite'
    >>> name_rock({"olivine": 60, "enstatite": 30, "diopside": 10}).name
    'lherzolite'
    >>> name_rock({"plagioclase": 96, "pyroxene": 4}, body="moon", plagioclase_an=96).name
    'ferroan anorthosite'
    >>> modes = {"olivine": 52, "orthopyroxene": 25, "augite": 9, "plagioclase": 14}
    >>> name_rock(modes, body="meteorite", olivine_fa=24.5).name
    'L chondrite'
    """
    key = _scheme_key(body, scheme)
    chem = check_chemistry(
        plagioclase_an=plagioclase_an, olivine_fa=olivine_fa, pyroxene_fs=pyroxene_fs
    )
    asm = parse_modes(modes)
    result = SCHEMES[key](asm, chem, volcanic)
    if scheme is None and key in BODIES.values() and result.name == UNCLASSIFIED:
        fallback = SCHEMES["iugs"](asm, chem, volcanic)
        if fallback.name != UNCLASSIFIED:
            tried = [step for step in result.reasoning if step not in asm.notes]
            return RockName(
                fallback.name,
                fallback.scheme,
                fallback.field,
                (*fallback.reasoning, *tried, f"IUGS name kept: {fallback.name}"),
            )
    if key.startswith("iugs") and chem.mafic_given:
        note = (
            "olivine Fa / pyroxene Fs given but not used: the IUGS modal schemes do not use "
            "them (body='moon' or 'meteorite' does)"
        )
        result = RockName(result.name, result.scheme, result.field, (*result.reasoning, note))
    return result


def _per_mode(name: str, value, n: int) -> list:
    if value is None or isinstance(value, int | float):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise InputError(f"{name}: got {len(values)} values for {n} modes; give one per mode")
    return values


def name_rocks(
    modes: Iterable[Mapping[str, float]],
    *,
    body: str | None = None,
    plagioclase_an: float | Iterable[float | None] | None = None,
    olivine_fa: float | Iterable[float | None] | None = None,
    pyroxene_fs: float | Iterable[float | None] | None = None,
    volcanic: bool = False,
    scheme: str | None = None,
) -> list[RockName]:
    """`name_rock` over many modes; each chemistry value may be one value or one per mode.

    Examples
    --------
    >>> [r.name for r in name_rocks([{"olivine": 95, "chromite": 5}, {"quartz": 100}])]
    ['dunite', 'quartzolite']
    """
    rows = list(modes)
    n = len(rows)
    ans = _per_mode("plagioclase_an", plagioclase_an, n)
    fas = _per_mode("olivine_fa", olivine_fa, n)
    fss = _per_mode("pyroxene_fs", pyroxene_fs, n)
    return [
        name_rock(
            m,
            body=body,
            plagioclase_an=a,
            olivine_fa=fa,
            pyroxene_fs=fs,
            volcanic=volcanic,
            scheme=scheme,
        )
        for m, a, fa, fs in zip(rows, ans, fas, fss, strict=True)
    ]
