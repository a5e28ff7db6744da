"""Solid-solution composition (olivine Fo, pyroxene En-Fs-Wo, plagioclase An) from Raman bands.

The cations of a solid solution change bond lengths and force constants, so band positions move
with composition (Mg-Fe olivine: the Si-O stretching doublet near 820 and 855 cm-1 moves down by
about 0.2 cm-1 per mol % Fa). This module measures band positions to a fraction of the grid step
and turns them into a composition with an uncertainty:

| family | components | bands (cm-1 windows on the preprocessed spectrum) |
|---|---|---|
| olivine (Mg-Fe) | Fo = 100 Mg/(Mg+Fe) | DB1 805-832, DB2 832-866 (Si-O stretching doublet) |
| pyroxene (Quad) | En, Fs, Wo | Si-O-Si 650-695, Si-Onb 985-1020, M-O 300-350 and 360-400 |
| plagioclase | An = 100 Ca/(Ca+Na+K) | T-O-T 495-520 and 470-495, lattice 260-300 |

Two calibrations:

* **Regression on RRUFF measured chemistry** (`CompositionEstimator`): a ridge regression of the
  composition on the band positions, fitted on RRUFF Raman spectra whose ``##MEASURED
  CHEMISTRY`` header (microprobe) gives the composition (`training_data` reads them from MinDB).
  A band that is not found is not imputed: the model of the bands the spectrum has is used
  (`CompositionRegressor`). The uncertainty is that model's root-mean-square residual in a
  cross-validation grouped by sample: each sample is predicted by a model that did not see it,
  so the sd includes the scatter of band positions between instruments, lasers and
  orientations, not only the fit.
* **Published calibrations** (`PUBLISHED_CALIBRATIONS`), used only where the equation could be
  read in a public source (see below). Their sd is their root-mean-square error on the RRUFF
  training spectra, measured when the estimator is fitted (nothing of theirs is refitted).

Published calibrations: what could be verified
----------------------------------------------
* Olivine, **verified**: Breitenfeld L.B., Dyar M.D., Carey C.J., Tague T.J. Jr., Wang P.,
  Mullen T., Parente M. (2018) Predicting olivine composition using Raman spectroscopy through
  band shift and multivariate analyses. American Mineralogist 103:1827-1836,
  doi:10.2138/am-2018-6291. Their abstract gives, for the peak "ca. 838-857 cm-1" (DB2),
  ``%Fo = -0.179625 x^2 + 310.077 x - 133717`` with x the DB2 centroid in cm-1 (read in the
  abstract at https://www.degruyterbrill.com/document/doi/10.2138/am-2018-6291/html). The
  abstract states no error for this equation; the paper's own figure was not readable here.
* Olivine, **not verified**: Kuebler K.E., Jolliff B.L., Wang A., Haskin L.A. (2006) Extracting
  olivine (Fo-Fa) compositions from Raman spectral peak positions. Geochimica et Cosmochimica
  Acta 70:6201-6222. The DB1 (~815-825 cm-1) and DB2 (~838-857 cm-1) names and windows are
  theirs; their equations and coefficients could not be read in any public source searched
  (code, documentation and web-page corpora), so none is used here.
* Pyroxene, **not verified**: Wang A., Jolliff B.L., Haskin L.A., Kuebler K.E., Viskupic K.M.
  (2001) Characterization and comparison of structural and compositional features of planetary
  quadrilateral pyroxenes by Raman spectroscopy. American Mineralogist 86:790-806. Coefficients
  not found; the fitted regression is the only calibration. (Freeman, Wang, Kuebler and Haskin,
  Lunar and Planetary Science XXXIV, 2003, NASA NTRS 20030111413, state that Mg cation ratios
  of pyroxenes and olivines are determined "to +/-0.1 on the basis of Raman peak positions".)
* Plagioclase, **none exists**: Freeman J.J., Wang A., Kuebler K.E., Jolliff B.L., Haskin L.A.
  (2008) Characterization of natural feldspars by Raman spectroscopy for future planetary
  exploration. Canadian Mineralogist 46:1477-1500. Their abstract
  (https://pubs.geoscienceworld.org/canmin/article-abstract/46/6/1477/126965) states that
  "unlike olivine, pyroxene and some Fe-oxides, the Raman peak positions of the feldspars cannot
  be used to extract quantitative information regarding the cation composition". The An
  regression here is therefore an empirical test of that statement on RRUFF, with its measured
  error.

Compositions from measured chemistry
------------------------------------
Fo and An as above; En, Fs and Wo are Mg, Fe + Mn and Ca over their sum (the Quad components of
Morimoto N. (1988) Nomenclature of pyroxenes, Mineralogical Magazine 52:535-550). Only members
of the binary or Quad solid solution are used: Mg-Fe olivines ((Mg+Fe) >= 90 % of the M cations:
no monticellite, tephroite, liebenbergite), Quad pyroxenes (Ca+Mg+Fe+Mn >= 80 % of the
non-tetrahedral cations and Mn <= 10 % of them: no jadeite, aegirine, spodumene, johannsenite)
and plagioclase (K and Ba each <= 10 % of the large cations).

Examples
--------
>>> import numpy as np
>>> grid = np.arange(700.0, 900.0, 1.0)
>>> X = 1.0 / (1.0 + ((grid - 823.4) / 4.0) ** 2) + 0.8 / (1.0 + ((grid - 855.3) / 4.0) ** 2)
>>> positions, heights = band_positions(X[None, :], grid, [(805, 832), (832, 866)])
>>> np.round(positions, 1).tolist()
[[823.4, 855.3]]
>>> round(float(breitenfeld_2018_fo(855.3)), 1)
89.3
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from lithoscope.errors import FormulaError, InputError, ModelFileError
from lithoscope.mindb.names import name_key

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from lithoscope.mindb.queries import MinDB

__all__ = [
    "FAMILIES",
    "PUBLISHED_CALIBRATIONS",
    "UNVERIFIED_CALIBRATIONS",
    "Band",
    "CompositionData",
    "CompositionEstimator",
    "CompositionRegressor",
    "Family",
    "PublishedCalibration",
    "band_positions",
    "breitenfeld_2018_fo",
    "composition_from_chemistry",
    "composition_from_formula",
    "estimate_composition",
    "family_of",
    "fit_from_mindb",
    "training_data",
]

_FORMAT = "lithoscope.composition-estimator"
_VERSION = 1


# ---------------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Band:
    """A Raman band searched for in a window of the preprocessed spectrum.

    Attributes
    ----------
    name : str
        Short name (``DB1``, ``SiOSi``).
    low, high : float
        Window in cm-1; the tallest local maximum inside it is the band.
    assignment : str
        The vibration, for the documentation.
    """

    name: str
    low: float
    high: float
    assignment: str = ""


def _olivine(a: Mapping[str, float]) -> dict[str, float] | None:
    mg, fe = a.get("Mg", 0.0), a.get("Fe", 0.0)
    m_site = mg + fe + sum(a.get(el, 0.0) for el in ("Mn", "Ca", "Ni", "Co", "Zn"))
    if mg + fe <= 0 or (mg + fe) < 0.9 * m_site:
        return None
    return {"Fo": 100.0 * mg / (mg + fe)}


# cations that sit in pyroxene M sites besides Ca, Mg, Fe and Mn (Al, Ti and Fe3+ may also sit
# in the tetrahedra, so Al is left out of the denominator)
_PYROXENE_OTHERS = ("Na", "Li", "Zn", "Ni", "Cr", "Sc", "V", "Ti", "Co")


def _pyroxene(a: Mapping[str, float]) -> dict[str, float] | None:
    ca, mg, fe, mn = (a.get(el, 0.0) for el in ("Ca", "Mg", "Fe", "Mn"))
    quad = ca + mg + fe + mn
    others = sum(a.get(el, 0.0) for el in _PYROXENE_OTHERS)
    if quad <= 0 or quad < 0.8 * (quad + others) or mn > 0.1 * quad:
        return None
    return {"En": 100.0 * mg / quad, "Fs": 100.0 * (fe + mn) / quad, "Wo": 100.0 * ca / quad}


def _plagioclase(a: Mapping[str, float]) -> dict[str, float] | None:
    ca, na, k, ba = (a.get(el, 0.0) for el in ("Ca", "Na", "K", "Ba"))
    large = ca + na + k + ba
    if ca + na + k <= 0 or k > 0.1 * large or ba > 0.1 * large:
        return None
    return {"An": 100.0 * ca / (ca + na + k)}


@dataclass(frozen=True)
class Family:
    """A solid-solution family: its components, bands and how chemistry gives its composition.

    Attributes
    ----------
    name : str
        ``olivine``, ``pyroxene`` or ``plagioclase`` (also MinDB's group name).
    components : tuple of str
        Composition keys of the answer (``("Fo",)``, ``("En", "Fs", "Wo")``, ``("An",)``), in
        mol % summing to 100 where there are several.
    bands : tuple of Band
        Band windows whose positions are the regression features.
    required : tuple of str
        At least one of these bands must be found, else no composition is given.
    composition : callable
        Element amounts (atoms per formula unit) -> composition dict, or None when the
        chemistry is not a member of the family's solid solution.
    degree : {1, 2}
        Polynomial degree of the regression in the band positions (`CompositionRegressor`).
    species : tuple of str
        Names (species, varietal names, the group) whose spectra are of this family in an
        identification answer (`family_of`).
    """

    name: str
    components: tuple[str, ...]
    bands: tuple[Band, ...]
    required: tuple[str, ...]
    composition: Callable[[Mapping[str, float]], dict[str, float] | None] = field(
        repr=False, compare=False
    )
    degree: int = 1
    species: tuple[str, ...] = ()

    @property
    def windows(self) -> list[tuple[float, float]]:
        return [(b.low, b.high) for b in self.bands]

    def band_index(self, name: str) -> int:
        return [b.name for b in self.bands].index(name)


#: Registry of the families, by name.
FAMILIES: dict[str, Family] = {
    "olivine": Family(
        name="olivine",
        components=("Fo",),
        bands=(
            Band("DB1", 805.0, 832.0, "Si-O stretching, lower band of the doublet (Kuebler 2006)"),
            Band("DB2", 832.0, 866.0, "Si-O stretching, upper band of the doublet (Kuebler 2006)"),
        ),
        required=("DB1", "DB2"),
        composition=_olivine,
        degree=2,
        species=("olivine", "Forsterite", "Fayalite"),
    ),
    "pyroxene": Family(
        name="pyroxene",
        components=("En", "Fs", "Wo"),
        bands=(
            Band("SiOSi", 650.0, 695.0, "Si-O-Si bending-stretching of the tetrahedral chain"),
            Band("SiOnb", 985.0, 1020.0, "Si-O stretching of non-bridging oxygens"),
            Band("MO1", 300.0, 350.0, "M-O lattice modes"),
            Band("MO2", 360.0, 400.0, "M-O lattice modes"),
        ),
        required=("SiOSi", "SiOnb"),
        composition=_pyroxene,
        # the Quad (Ca-Mg-Fe) pyroxenes of Morimoto (1988), and MinDB's groups made of them
        # (what an answer at group level names)
        species=(
            "orthopyroxene",
            "low-ca pyroxene",
            "high-ca pyroxene",
            "Enstatite",
            "Ferrosilite",
            "Clinoenstatite",
            "Clinoferrosilite",
            "Pigeonite",
            "Augite",
            "Diopside",
            "Hedenbergite",
        ),
    ),
    "plagioclase": Family(
        name="plagioclase",
        components=("An",),
        bands=(
            Band("TOT1", 495.0, 520.0, "T-O-T ring breathing, strongest feldspar band"),
            Band("TOT2", 470.0, 495.0, "T-O-T ring mode, second band of the group"),
            Band("lattice", 260.0, 300.0, "cation-oxygen lattice modes"),
        ),
        required=("TOT1",),
        composition=_plagioclase,
        # the species and the varietal names RRUFF labels use (linked to MinDB's group)
        species=(
            "plagioclase",
            "Albite",
            "Anorthite",
            "Oligoclase",
            "Andesine",
            "Labradorite",
            "Bytownite",
        ),
    ),
}


def family_of(mineral: str | None) -> str | None:
    """The family whose composition `estimate_composition` gives for a mineral name, or None.

    Parameters
    ----------
    mineral : str or None
        A species, varietal or group name as identification answers give it (case and
        accents ignored): ``Forsterite`` -> ``olivine``, ``Labradorite`` or ``plagioclase`` ->
        ``plagioclase``, ``Diopside`` -> ``pyroxene``. Members outside the binary or Quad
        solid solutions (monticellite, jadeite, the group name ``pyroxene``) give None.

    Returns
    -------
    str or None

    Examples
    --------
    >>> family_of("Forsterite"), family_of("LABRADORITE"), family_of("Jadeite"), family_of(None)
    ('olivine', 'plagioclase', None, None)
    """
    if mineral is None:
        return None
    return _FAMILY_OF.get(name_key(str(mineral)))


def _family(name: str, what: str = "family") -> Family:
    if name not in FAMILIES:
        raise InputError(f"{what} {name!r} is not one of {', '.join(FAMILIES)} (or None)")
    return FAMILIES[name]


_FAMILY_OF = {name_key(n): f.name for f in FAMILIES.values() for n in f.species}


# ---------------------------------------------------------------------------------- bands
def _check_grid(grid: npt.ArrayLike, n_points: int) -> np.ndarray:
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size != n_points:
        raise InputError(
            f"grid must have one position per column of X ({n_points}), got shape {g.shape}; "
            "pass the axis the spectra were resampled to"
        )
    if g.size < 3 or not np.all(np.diff(g) > 0):
        raise InputError("grid must be strictly increasing with at least 3 points")
    return g


def _check_stack(X: npt.ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"X must be a numeric array of spectra (n_spectra, n_points), got {type(X).__name__}"
        ) from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise InputError(
            f"X must be spectra of shape (n_spectra, n_points >= 3), got shape {arr.shape}"
        )
    return arr


def band_positions(
    X: npt.ArrayLike,
    grid: npt.ArrayLike,
    windows: Sequence[tuple[float, float]],
    *,
    min_height: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-grid positions of the tallest local maximum in each window, for every spectrum.

    In each window the tallest local maximum (a point higher than its left neighbour and not
    lower than its right one; the grid's first and last points never count) is refined by the
    vertex of the parabola through it and its two neighbours (exact for any grid spacing). On
    the Raman preset's 1 cm-1 grid this recovers the centre of a Lorentzian band of half-width
    1.5 cm-1 or more to within 0.07 cm-1.

    Parameters
    ----------
    X : array_like, shape (n_spectra, n_points) or (n_points,)
        Preprocessed spectra (baseline removed) on ``grid``; NaN points are never maxima.
    grid : array_like, shape (n_points,)
        Strictly increasing axis of ``X`` (cm-1).
    windows : sequence of (low, high)
        Search windows on the axis, inclusive.
    min_height : float, default=0.03
        A maximum lower than this fraction of its spectrum's highest point is not a band.

    Returns
    -------
    positions : ndarray, shape (n_spectra, n_windows)
        Band positions; NaN where a window holds no band.
    heights : ndarray, shape (n_spectra, n_windows)
        Intensity at the maximum point (NaN where no band).

    Raises
    ------
    InputError
        If ``X`` is not a 2-D numeric stack, ``grid`` does not match it, a window is not
        ``low < high`` or ``min_height`` is not in [0, 1).

    Examples
    --------
    >>> grid = np.arange(100.0, 200.0, 1.0)
    >>> X = np.exp(-0.5 * ((grid - 150.3) / 3.0) ** 2)
    >>> pos, _ = band_positions(X, grid, [(140, 160), (170, 190)])
    >>> round(float(pos[0, 0]), 1), bool(np.isnan(pos[0, 1]))
    (150.3, True)
    """
    arr = _check_stack(X)
    g = _check_grid(grid, arr.shape[1])
    if not 0.0 <= min_height < 1.0:
        raise InputError(f"min_height must be a fraction in [0, 1), got {min_height!r}")
    wins = [(float(lo), float(hi)) for lo, hi in windows]
    for lo, hi in wins:
        if not lo < hi:
            raise InputError(f"window ({lo}, {hi}) must have low < high (cm-1)")
    n = arr.shape[0]
    positions = np.full((n, len(wins)), np.nan)
    heights = np.full((n, len(wins)), np.nan)
    if not wins:
        return positions, heights
    centre = arr[:, 1:-1]
    with np.errstate(invalid="ignore"):
        is_max = (centre > arr[:, :-2]) & (centre >= arr[:, 2:])
        top = np.nanmax(np.where(np.isfinite(arr), arr, -np.inf), axis=1)
        floor = min_height * np.maximum(top, 0.0)
    inner = g[1:-1]
    rows = np.arange(n)
    for k, (lo, hi) in enumerate(wins):
        inside = (inner >= lo) & (inner <= hi)
        if not inside.any():
            continue
        candidates = np.where(is_max & inside, centre, -np.inf)
        j = np.argmax(candidates, axis=1)  # index into centre
        best = candidates[rows, j]
        found = np.isfinite(best) & (best > floor) & (best > 0)
        i = j + 1  # index into arr / g
        y0, y1, y2 = arr[rows, i - 1], arr[rows, i], arr[rows, i + 1]
        x0, x1, x2 = g[i - 1], g[i], g[i + 1]
        num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
        den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
        with np.errstate(invalid="ignore", divide="ignore"):
            vertex = x1 - 0.5 * num / den
        # a flat top (den = 0) keeps the grid point; the vertex lies between the neighbours
        vertex = np.where(np.isfinite(vertex), np.clip(vertex, x0, x2), x1)
        positions[found, k] = vertex[found]
        heights[found, k] = y1[found]
    return positions, heights


# ---------------------------------------------------------------------------------- chemistry
def composition_from_formula(amounts: Mapping[str, float], family: str) -> dict[str, float] | None:
    """Composition (mol %) of a family member from its element amounts.

    Parameters
    ----------
    amounts : mapping of str to float
        Atoms per formula unit by element (``Formula.amounts``); Fe of every valence together.
    family : {'olivine', 'pyroxene', 'plagioclase'}

    Returns
    -------
    dict or None
        ``{"Fo": ...}``, ``{"En": ..., "Fs": ..., "Wo": ...}`` or ``{"An": ...}``; None when
        the chemistry is not a member of the family's binary or Quad solid solution (see the
        module docstring), e.g. monticellite for olivine or jadeite for pyroxene.

    Examples
    --------
    >>> composition_from_formula({"Mg": 1.8, "Fe": 0.2, "Si": 1.0, "O": 4.0}, "olivine")
    {'Fo': 90.0}
    >>> composition_from_formula({"Ca": 1.0, "Mg": 1.0, "Si": 1.0, "O": 4.0}, "olivine") is None
    True
    """
    return _family(family).composition(amounts)


# A description before the formula in RRUFF's measured chemistry ("light gray: Na_0.25_...").
_PHASE_LABEL = re.compile(r"^\s*[a-z][a-z \-]*:\s*(?=\S)")


def composition_from_chemistry(text: str, family: str) -> dict[str, float] | None:
    """Composition of a family member from a RRUFF ``##MEASURED CHEMISTRY`` formula.

    The formula is read by MinDB's chemistry engine (`lithoscope.mindb.chemistry.parse_formula`:
    RRUFF markup, valences, site totals, trailing comments); a lower-case phase description
    before the formula (``light gray: ...``) is skipped.

    Parameters
    ----------
    text : str
        The measured chemistry, e.g. ``(Mg_1.81_Fe_0.18_Ni_0.01_)_Σ=2_Si_1.00_O_4_``.
    family : {'olivine', 'pyroxene', 'plagioclase'}

    Returns
    -------
    dict or None
        As `composition_from_formula`.

    Raises
    ------
    FormulaError
        If the text is not a formula.

    Examples
    --------
    >>> comp = composition_from_chemistry("(Mg_1.81_Fe_0.18_Ni_0.01_)_Σ=2_Si_1.00_O_4_", "olivine")
    >>> round(comp["Fo"], 1)
    91.0
    """
    from lithoscope.mindb.chemistry import parse_formula

    _family(family)
    try:
        formula = parse_formula(text)
    except FormulaError:
        match = _PHASE_LABEL.match(text)
        if match is None:
            raise
        formula = parse_formula(text[match.end() :])
    return composition_from_formula(formula.amounts, family)


# ---------------------------------------------------------------------------------- published
def breitenfeld_2018_fo(db2: npt.ArrayLike) -> np.ndarray:
    """Fo (mol %) from the DB2 band position by the equation of Breitenfeld et al. (2018).

    ``%Fo = -0.179625 x^2 + 310.077 x - 133717`` with ``x`` the DB2 centroid in cm-1, as given
    in the abstract of Breitenfeld L.B., Dyar M.D., Carey C.J., Tague T.J. Jr., Wang P.,
    Mullen T., Parente M. (2018) American Mineralogist 103:1827-1836 (doi:10.2138/am-2018-6291).
    The parabola peaks at x = 863.1 cm-1 (Fo 100.3): the equation is meant for DB2 "ca. 838-857
    cm-1". Values are not clipped here.

    Parameters
    ----------
    db2 : array_like
        DB2 position(s) in cm-1.

    Returns
    -------
    ndarray
        Fo in mol %, same shape as ``db2``.

    Examples
    --------
    >>> np.round(breitenfeld_2018_fo([840.0, 850.0, 857.0]), 1).tolist()
    [4.3, 69.4, 93.6]
    """
    x = np.asarray(db2, dtype=np.float64)
    return -0.179625 * x**2 + 310.077 * x - 133717.0


@dataclass(frozen=True)
class PublishedCalibration:
    """A published equation from band positions to one composition component.

    Attributes
    ----------
    family, component : str
        What it estimates (``olivine``, ``Fo``).
    bands : tuple of str
        Names of the family's bands it uses, in the order ``function`` takes them.
    function : callable
        Band positions (n, len(bands)) -> component values (n,).
    label : str
        Short name used as the answer's ``method``.
    citation : str
        Full reference.
    source : str
        Where the equation was read.
    stated_error : str or None
        The paper's own error statement, quoted with its page; None where not found.
    """

    family: str
    component: str
    bands: tuple[str, ...]
    function: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    label: str = ""
    citation: str = ""
    source: str = ""
    stated_error: str | None = None


#: Published calibrations verified in a public source, by family.
PUBLISHED_CALIBRATIONS: dict[str, PublishedCalibration] = {
    "olivine": PublishedCalibration(
        family="olivine",
        component="Fo",
        bands=("DB2",),
        function=lambda P: breitenfeld_2018_fo(P[:, 0]),
        label="Breitenfeld et al. 2018 (DB2 equation)",
        citation=(
            "Breitenfeld L.B., Dyar M.D., Carey C.J., Tague T.J. Jr., Wang P., Mullen T., "
            "Parente M. (2018) Predicting olivine composition using Raman spectroscopy through "
            "band shift and multivariate analyses. American Mineralogist 103:1827-1836, "
            "doi:10.2138/am-2018-6291"
        ),
        source="abstract, https://www.degruyterbrill.com/document/doi/10.2138/am-2018-6291/html",
        stated_error=None,
    ),
}

#: The calibrations named in the literature whose coefficients could not be verified, by family.
UNVERIFIED_CALIBRATIONS: dict[str, str] = {
    "olivine": (
        "Kuebler K.E., Jolliff B.L., Wang A., Haskin L.A. (2006) Extracting olivine (Fo-Fa) "
        "compositions from Raman spectral peak positions. Geochimica et Cosmochimica Acta "
        "70:6201-6222: equations not found in any public source searched; not used"
    ),
    "pyroxene": (
        "Wang A., Jolliff B.L., Haskin L.A., Kuebler K.E., Viskupic K.M. (2001) "
        "Characterization and comparison of structural and compositional features of "
        "planetary quadrilateral pyroxenes by Raman spectroscopy. American Mineralogist "
        "86:790-806: coefficients not found in any public source searched; not used"
    ),
    "plagioclase": (
        "Freeman J.J., Wang A., Kuebler K.E., Jolliff B.L., Haskin L.A. (2008) "
        "Characterization of natural feldspars by Raman spectroscopy for future planetary "
        "exploration. Canadian Mineralogist 46:1477-1500: the abstract states that feldspar "
        "peak positions 'cannot be used to extract quantitative information regarding the "
        "cation composition'; no calibration exists"
    ),
}


# ---------------------------------------------------------------------------------- regressor
class CompositionRegressor(RegressorMixin, BaseEstimator):
    """Ridge regression on band positions, robust to missing bands, with a grouped-CV sd.

    A band that is not found (NaN) is not imputed: one ridge regression is fitted for each
    set of bands that occurs complete in the training rows, plus the full set and every single
    band, each on the training rows that have those bands, and scored by a grouped K-fold
    cross-validation (a sample's spectra are never on both sides). A row is predicted by the
    model, among those whose bands it has, with the smallest cross-validated root-mean-square
    residual, and that residual is its sd: a spectrum that lacks a band gets the error of a
    model that does without it. (Choosing the smallest of a few cross-validated errors makes
    that sd slightly optimistic; ``benchmarks/composition.py`` measures the coverage on held-out
    samples.)

    Features are standardised; with ``degree=2`` their squares and products are added (band
    positions are smooth but not linear functions of composition: the olivine doublet moves
    about twice as fast per mol % near Fo100 as near Fo0).

    Parameters
    ----------
    alpha : float, default=1.0
        Ridge penalty on the standardised features.
    degree : {1, 2}, default=1
        Polynomial degree in the band positions.
    cv : int, default=10
        At most this many folds (fewer when there are fewer groups); with fewer than 2 groups
        the sd is NaN.

    Attributes
    ----------
    n_features_in_ : int
    subsets_ : list of tuple of int
        Feature sets with a fitted model, in the order of ``models_``.
    models_ : list of dict
        Per feature set: ``mean``, ``scale``, ``coef`` (n_targets, n_terms), ``intercept``,
        ``cv_rmse``, ``cv_mae`` (n_targets,), ``n_samples`` and ``n_groups``.
    cv_rmse_, cv_mae_ : ndarray, shape (n_targets,)
        Cross-validated errors of the model on all features.
    n_samples_, n_groups_ : int
        Training rows and distinct groups.

    Examples
    --------
    >>> P = np.array([[812.0], [830.0], [842.0], [855.0], [857.0]])
    >>> y = np.array([0.0, 30.0, 50.0, 90.0, 100.0])
    >>> model = CompositionRegressor(alpha=0.01).fit(P, y)
    >>> value, sd = model.predict([[850.0]], return_std=True)
    >>> bool(abs(value[0] - 73) < 10), bool(sd[0] > 0)
    (True, True)
    """

    def __init__(self, *, alpha: float = 1.0, degree: int = 1, cv: int = 10) -> None:
        self.alpha = alpha
        self.degree = degree
        self.cv = cv

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.multi_output = True
        return tags

    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, groups: npt.ArrayLike | None = None
    ) -> CompositionRegressor:
        """Fit on band positions ``X`` (NaN = band not found) and compositions ``y``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_targets)
        groups : array_like, shape (n_samples,), optional
            Sample ids for the cross-validation; default: every row its own group.

        Returns
        -------
        self

        Raises
        ------
        InputError
            For bad parameters, a ``groups`` of the wrong length, or when no row has any band.
        """
        if isinstance(self.alpha, bool) or not (
            isinstance(self.alpha, int | float) and self.alpha >= 0
        ):
            raise InputError(f"alpha must be a number >= 0, got {self.alpha!r}")
        if self.degree not in (1, 2) or isinstance(self.degree, bool):
            raise InputError(f"degree must be 1 or 2, got {self.degree!r}")
        if isinstance(self.cv, bool) or not (isinstance(self.cv, int) and self.cv >= 2):
            raise InputError(f"cv must be an integer >= 2 (folds), got {self.cv!r}")
        Xv, yv = validate_data(
            self,
            X,
            y,
            ensure_all_finite="allow-nan",
            multi_output=True,
            y_numeric=True,
            dtype=np.float64,
        )
        Y = yv.reshape(-1, 1) if yv.ndim == 1 else yv
        self._y_1d = yv.ndim == 1
        n, k = Xv.shape
        g = np.arange(n) if groups is None else np.asarray(groups)
        if g.shape != (n,):
            raise InputError(f"groups must have one entry per row of X ({n}), got shape {g.shape}")
        present = ~np.isnan(Xv)
        candidates = {tuple(range(k))} | {(j,) for j in range(k)}
        candidates |= {tuple(int(j) for j in np.flatnonzero(row)) for row in present if row.any()}
        self.subsets_, self.models_ = [], []
        for subset in sorted(candidates, key=lambda s: (-len(s), s)):
            rows = present[:, list(subset)].all(axis=1)
            if not rows.any():
                continue
            cols = list(subset)
            model = self._fit_subset(Xv[rows][:, cols], Y[rows], g[rows])
            self.subsets_.append(subset)
            self.models_.append(model)
        if not self.models_:
            raise InputError(
                "X has no finite value: every band is missing in every row; give band "
                "positions of spectra in which the bands were found"
            )
        full = self._model_for(tuple(range(k)))
        nan = np.full(Y.shape[1], np.nan)
        self.cv_rmse_ = full["cv_rmse"] if full is not None else nan
        self.cv_mae_ = full["cv_mae"] if full is not None else nan.copy()
        self.n_samples_ = n
        self.n_groups_ = int(np.unique(g).size)
        return self

    def _model_for(self, subset: tuple[int, ...]) -> dict[str, Any] | None:
        for s, model in zip(self.subsets_, self.models_, strict=True):
            if s == subset:
                return model
        return None

    def _fit_subset(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
        alpha, degree = float(self.alpha), int(self.degree)
        mean, scale, coef, intercept = _fit_linear(X, Y, alpha, degree)
        n_groups = int(np.unique(groups).size)
        n_splits = min(int(self.cv), n_groups)
        rmse = np.full(Y.shape[1], np.nan)
        mae = np.full(Y.shape[1], np.nan)
        if n_splits >= 2:
            oof = np.empty_like(Y)
            for train, test in GroupKFold(n_splits=n_splits).split(X, Y, groups):
                state = _fit_linear(X[train], Y[train], alpha, degree)
                oof[test] = _predict_linear(X[test], *state, degree)
            residual = oof - Y
            rmse = np.sqrt(np.mean(residual**2, axis=0))
            mae = np.mean(np.abs(residual), axis=0)
        return {
            "mean": mean,
            "scale": scale,
            "coef": coef,
            "intercept": intercept,
            "cv_rmse": rmse,
            "cv_mae": mae,
            "n_samples": int(X.shape[0]),
            "n_groups": n_groups,
        }

    def predict(
        self, X: npt.ArrayLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Compositions predicted from band positions, each row by the model of its bands.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Band positions, NaN where a band was not found.
        return_std : bool, default=False
            Also return each prediction's sd (the cross-validated RMSE of the model used).

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_targets)
            As the ``y`` of `fit`; NaN for a row without any band.
        std : ndarray, same shape as ``y``
            Only with ``return_std``.
        """
        check_is_fitted(self, "models_")
        Xv = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        n_targets = self.models_[0]["coef"].shape[0]
        out = np.full((Xv.shape[0], n_targets), np.nan)
        std = np.full((Xv.shape[0], n_targets), np.nan)
        present = ~np.isnan(Xv)
        patterns, inverse = np.unique(present, axis=0, return_inverse=True)
        for p, pattern in enumerate(patterns):
            choice = self._choose(set(np.flatnonzero(pattern).tolist()))
            if choice is None:
                continue
            rows = np.flatnonzero(inverse.ravel() == p)
            subset, model = choice
            state = (model["mean"], model["scale"], model["coef"], model["intercept"])
            out[rows] = _predict_linear(Xv[rows][:, list(subset)], *state, int(self.degree))
            std[rows] = model["cv_rmse"]
        if self._y_1d:
            out, std = out[:, 0], std[:, 0]
        return (out, std) if return_std else out

    def _choose(self, available: set[int]) -> tuple[tuple[int, ...], dict[str, Any]] | None:
        """The fitted feature set within ``available`` with the smallest cross-validated RMSE."""
        usable = [
            (s, m) for s, m in zip(self.subsets_, self.models_, strict=True) if set(s) <= available
        ]
        if not usable:
            return None

        def key(item: tuple[tuple[int, ...], dict[str, Any]]) -> tuple[float, int]:
            rmse = item[1]["cv_rmse"]
            score = float(np.mean(rmse)) if np.isfinite(rmse).all() else math.inf
            return (score, -len(item[0]))

        return min(usable, key=key)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON-ready values (`from_dict` reads it back)."""
        check_is_fitted(self, "models_")
        return {
            "params": {"alpha": float(self.alpha), "degree": int(self.degree), "cv": int(self.cv)},
            "n_features_in": int(self.n_features_in_),
            "y_1d": bool(self._y_1d),
            "n_samples": int(self.n_samples_),
            "n_groups": int(self.n_groups_),
            "models": [
                {
                    "features": list(subset),
                    "mean": m["mean"].tolist(),
                    "scale": m["scale"].tolist(),
                    "coef": m["coef"].tolist(),
                    "intercept": m["intercept"].tolist(),
                    "cv_rmse": [_json_float(v) for v in m["cv_rmse"]],
                    "cv_mae": [_json_float(v) for v in m["cv_mae"]],
                    "n_samples": m["n_samples"],
                    "n_groups": m["n_groups"],
                }
                for subset, m in zip(self.subsets_, self.models_, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompositionRegressor:
        """A fitted regressor from `to_dict` output.

        Raises
        ------
        ModelFileError
            If a key is missing or the arrays do not fit together.
        """
        try:
            model = cls(**data["params"])
            k = int(data["n_features_in"])
            model.n_features_in_ = k
            model._y_1d = bool(data["y_1d"])
            model.n_samples_ = int(data["n_samples"])
            model.n_groups_ = int(data["n_groups"])
            model.subsets_, model.models_ = [], []
            for part in data["models"]:
                subset = tuple(int(j) for j in part["features"])
                if not subset or not all(0 <= j < k for j in subset):
                    raise ValueError(f"features {subset} outside 0..{k - 1}")
                n_terms = _n_terms(len(subset), int(model.degree))
                coef = np.asarray(part["coef"], dtype=np.float64)
                if coef.ndim != 2 or coef.shape[1] != n_terms:
                    raise ValueError(f"coef of shape {coef.shape} for {n_terms} terms")
                t = coef.shape[0]
                model.subsets_.append(subset)
                model.models_.append(
                    {
                        "mean": _vector(part["mean"], len(subset)),
                        "scale": _vector(part["scale"], len(subset)),
                        "coef": coef,
                        "intercept": _vector(part["intercept"], t),
                        "cv_rmse": _vector([_from_json(v) for v in part["cv_rmse"]], t),
                        "cv_mae": _vector([_from_json(v) for v in part["cv_mae"]], t),
                        "n_samples": int(part["n_samples"]),
                        "n_groups": int(part["n_groups"]),
                    }
                )
            if not model.models_:
                raise ValueError("no models")
            full = model._model_for(tuple(range(k)))
            nan = np.full(model.models_[0]["coef"].shape[0], np.nan)
            model.cv_rmse_ = full["cv_rmse"] if full is not None else nan
            model.cv_mae_ = full["cv_mae"] if full is not None else nan.copy()
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"composition regressor document is invalid ({type(exc).__name__}: {exc}); "
                "write it again with CompositionRegressor.to_dict()"
            ) from None
        return model


def _n_terms(k: int, degree: int) -> int:
    return k if degree == 1 else k + k * (k + 1) // 2


def _terms(Z: np.ndarray, degree: int) -> np.ndarray:
    if degree == 1:
        return Z
    i, j = np.triu_indices(Z.shape[1])
    return np.hstack([Z, Z[:, i] * Z[:, j]])


def _fit_linear(
    X: np.ndarray, Y: np.ndarray, alpha: float, degree: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardisation and ridge coefficients (what ``Ridge(alpha)`` on the terms computes)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-9 * np.maximum(np.abs(mean), 1.0), scale, 1.0)
    T = _terms((X - mean) / scale, degree)
    t_mean, y_mean = T.mean(axis=0), Y.mean(axis=0)
    Tc = T - t_mean
    # min ||Tc b - Yc||^2 + alpha ||b||^2: the normal equations, least squares when singular
    gram = Tc.T @ Tc + alpha * np.eye(T.shape[1])
    rhs = Tc.T @ (Y - y_mean)
    try:
        if alpha <= 0:
            raise np.linalg.LinAlgError("no ridge term")
        beta = np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(Tc, Y - y_mean, rcond=None)[0]
    return mean, scale, beta.T, y_mean - t_mean @ beta


def _predict_linear(
    X: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    degree: int,
) -> np.ndarray:
    return _terms((X - mean) / scale, degree) @ coef.T + intercept


def _json_float(value: float) -> float | None:
    return None if not math.isfinite(float(value)) else float(value)


def _from_json(value: Any) -> float:
    return math.nan if value is None else float(value)


def _vector(values: Any, size: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (size,):
        raise ValueError(f"expected {size} values, got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------------- estimator
_CALIBRATIONS = ("regression", "published", "best")


def _family_column(families: Any, n: int) -> list[str | None]:
    if isinstance(families, str) or families is None:
        raise InputError(
            "families must give one family per spectrum (a list of 'olivine', 'pyroxene', "
            f"'plagioclase' or None), got {families!r}"
        )
    values = list(families)
    if len(values) != n:
        raise InputError(f"families must have one entry per spectrum ({n}), got {len(values)}")
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            out.append(_family(str(v), "families entry").name)
    return out


class CompositionEstimator:
    """Composition of olivine, pyroxene and plagioclase spectra from their band positions.

    One `CompositionRegressor` per family is fitted on band positions (`band_positions` in the
    family's windows) of preprocessed spectra with known composition; the published
    calibrations (`PUBLISHED_CALIBRATIONS`) are scored on the same spectra for their sd.

    Parameters
    ----------
    axis : array_like
        The spectral axis (cm-1) of ``X``; `fit` records it and `predict` refuses other axes.
    alpha : float, default=1.0
        Ridge penalty (standardised band positions).
    cv : int, default=10
        Folds of the grouped cross-validation that gives the sd.
    min_height : float, default=0.03
        Bands lower than this fraction of the spectrum's maximum are not used.
    min_samples : int, default=3
        A family with fewer distinct training samples is not fitted (see ``unfitted_``).

    Attributes
    ----------
    axis_ : ndarray
    regressors_ : dict of str to CompositionRegressor
        One per fitted family.
    n_spectra_, n_samples_ : dict of str to int
        Training spectra and distinct samples per fitted family.
    published_rmse_ : dict of str to dict of str to float
        RMSE of each published calibration on the training spectra, by family and component.
    published_n_ : dict of str to int
        Training spectra the published calibration could be applied to.
    unfitted_ : dict of str to str
        Families not fitted, with the reason.

    Examples
    --------
    >>> grid = np.arange(700.0, 900.0, 1.0)
    >>> def olivine(db1, db2):
    ...     return 1 / (1 + ((grid - db1) / 4) ** 2) + 1 / (1 + ((grid - db2) / 4) ** 2)
    >>> fo = np.array([0.0, 20.0, 50.0, 80.0, 90.0, 100.0])
    >>> X = np.array([olivine(815 + 0.1 * f, 838 + 0.19 * f) for f in fo])
    >>> est = CompositionEstimator(axis=grid, alpha=0.01).fit(
    ...     X, ["olivine"] * 6, [{"Fo": f} for f in fo])
    >>> answer = est.predict(X[3:4], ["olivine"], calibration="regression")[0]
    >>> round(answer["Fo"]), answer["method"]
    (80, 'regression on RRUFF measured chemistry (n=6 spectra of 6 samples)')
    """

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        alpha: float = 1.0,
        cv: int = 10,
        min_height: float = 0.03,
        min_samples: int = 3,
    ) -> None:
        self.axis = axis
        self.alpha = alpha
        self.cv = cv
        self.min_height = min_height
        self.min_samples = min_samples

    def __repr__(self) -> str:
        return (
            f"CompositionEstimator(alpha={self.alpha!r}, cv={self.cv!r}, "
            f"min_height={self.min_height!r}, min_samples={self.min_samples!r})"
        )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: npt.ArrayLike,
        families: Sequence[str | None],
        compositions: Sequence[Mapping[str, float] | None],
        *,
        groups: npt.ArrayLike | None = None,
    ) -> CompositionEstimator:
        """Fit one regression per family on spectra of known composition.

        Parameters
        ----------
        X : array_like, shape (n_spectra, n_points)
            Preprocessed spectra on ``axis``.
        families : sequence of str or None
            Family of each spectrum; rows with None are ignored.
        compositions : sequence of mapping or None
            Composition of each spectrum in mol % with the family's components
            (``{"Fo": 91.0}``, ``{"En": .., "Fs": .., "Wo": ..}``, ``{"An": ..}``).
        groups : array_like, shape (n_spectra,), optional
            Sample id of each spectrum: the cross-validation never splits a sample. Default:
            each spectrum its own sample.

        Returns
        -------
        self

        Raises
        ------
        InputError
            For a missing or mismatched axis, unknown family, a composition without the
            family's components or with values outside [0, 100], or lengths that differ.
        """
        if self.axis is None:
            raise InputError(
                "axis is None: CompositionEstimator needs the spectral axis of X; pass "
                "axis=grid (e.g. the raman preset's grid)"
            )
        arr = _check_stack(X)
        axis = _check_grid(self.axis, arr.shape[1])
        if not (isinstance(self.min_samples, int) and self.min_samples >= 2):
            raise InputError(f"min_samples must be an integer >= 2, got {self.min_samples!r}")
        n = arr.shape[0]
        fams = _family_column(families, n)
        comps = list(compositions)
        if len(comps) != n:
            raise InputError(
                f"compositions must have one entry per spectrum ({n}), got {len(comps)}"
            )
        g = np.array([str(v) for v in groups]) if groups is not None else np.arange(n).astype(str)
        if g.shape != (n,):
            raise InputError(f"groups must have one entry per spectrum ({n}), got shape {g.shape}")

        self.axis_ = axis
        self.regressors_: dict[str, CompositionRegressor] = {}
        self.n_spectra_: dict[str, int] = {}
        self.n_samples_: dict[str, int] = {}
        self.published_rmse_: dict[str, dict[str, float]] = {}
        self.published_n_: dict[str, int] = {}
        self.unfitted_: dict[str, str] = {}
        for name, family in FAMILIES.items():
            rows = np.array([i for i, f in enumerate(fams) if f == name], dtype=np.intp)
            if rows.size == 0:
                self.unfitted_[name] = "no training spectra"
                continue
            Y = np.array([_composition_row(comps[i], family, i) for i in rows])
            P = self._positions(arr[rows], family)
            usable = self._usable(P, family)
            if np.unique(g[rows][usable]).size < self.min_samples:
                self.unfitted_[name] = (
                    f"{np.unique(g[rows][usable]).size} samples with the family's bands "
                    f"(min_samples={self.min_samples})"
                )
                continue
            P, Y, G = P[usable], Y[usable], g[rows][usable]
            regressor = CompositionRegressor(alpha=self.alpha, degree=family.degree, cv=self.cv)
            self.regressors_[name] = regressor.fit(P, Y, groups=G)
            self.n_spectra_[name] = int(P.shape[0])
            self.n_samples_[name] = int(np.unique(G).size)
            published = PUBLISHED_CALIBRATIONS.get(name)
            if published is not None:
                values = self._published(P, family, published)
                ok = np.isfinite(values)
                truth = Y[:, family.components.index(published.component)]
                if ok.any():
                    rmse = float(np.sqrt(np.mean((values[ok] - truth[ok]) ** 2)))
                    self.published_rmse_[name] = {published.component: rmse}
                    self.published_n_[name] = int(ok.sum())
        return self

    def _positions(self, X: np.ndarray, family: Family) -> np.ndarray:
        positions, _ = band_positions(X, self.axis_, family.windows, min_height=self.min_height)
        return positions

    @staticmethod
    def _usable(P: np.ndarray, family: Family) -> np.ndarray:
        required = [family.band_index(b) for b in family.required]
        return np.isfinite(P[:, required]).any(axis=1)

    @staticmethod
    def _published(P: np.ndarray, family: Family, calibration: PublishedCalibration) -> np.ndarray:
        cols = [family.band_index(b) for b in calibration.bands]
        values = np.asarray(calibration.function(P[:, cols]), dtype=np.float64)
        return np.where(np.isfinite(P[:, cols]).all(axis=1), np.clip(values, 0.0, 100.0), np.nan)

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        X: npt.ArrayLike,
        families: Sequence[str | None],
        *,
        calibration: str = "best",
    ) -> list[dict[str, Any] | None]:
        """Composition of each spectrum of a family, with its sd and the method used.

        Parameters
        ----------
        X : array_like, shape (n_spectra, n_points)
            Preprocessed spectra on ``axis_``.
        families : sequence of str or None
            Family of each spectrum (None: not a solid solution handled here).
        calibration : {'best', 'regression', 'published'}, default='best'
            The fitted regression, the published calibration (`PUBLISHED_CALIBRATIONS`), or
            per spectrum whichever of the two has the smaller sd (regression: cross-validated;
            published: its RMSE on the training spectra).

        Returns
        -------
        list of dict or None
            Per spectrum ``{"Fo": 89.0, "Fo_sd": 4.0, "method": "..."}`` (pyroxene: ``En``,
            ``Fs``, ``Wo`` and their ``_sd``; plagioclase: ``An``), values in mol % rounded to
            0.1. None for rows without a family, of a family without a fitted model or a
            published calibration, or whose required bands are not found.

        Raises
        ------
        InputError
            For spectra on another axis, an unknown family or calibration.
        """
        _check_fitted(self)
        if calibration not in _CALIBRATIONS:
            raise InputError(
                f"calibration {calibration!r} is not one of {', '.join(_CALIBRATIONS)}"
            )
        arr = _check_stack(X)
        if arr.shape[1] != self.axis_.size:
            raise InputError(
                f"X has {arr.shape[1]} points per spectrum but the estimator was fitted on an "
                f"axis of {self.axis_.size} points ({self.axis_[0]:g}-{self.axis_[-1]:g}); "
                "preprocess the spectra onto that grid"
            )
        fams = _family_column(families, arr.shape[0])
        out: list[dict[str, Any] | None] = [None] * arr.shape[0]
        for name, family in FAMILIES.items():
            rows = np.array([i for i, f in enumerate(fams) if f == name], dtype=np.intp)
            if rows.size == 0:
                continue
            P = self._positions(arr[rows], family)
            usable = self._usable(P, family)
            if calibration == "regression":
                answers = self._regression_answers(name, family, P)
            elif calibration == "published":
                answers = self._published_answers(name, family, P)
            else:
                answers = [
                    _smaller_sd(a, b, family.components[0])
                    for a, b in zip(
                        self._regression_answers(name, family, P),
                        self._published_answers(name, family, P),
                        strict=True,
                    )
                ]
            for i, ok, answer in zip(rows, usable, answers, strict=True):
                out[i] = answer if ok else None
        return out

    def _regression_answers(
        self, name: str, family: Family, P: np.ndarray
    ) -> list[dict[str, Any] | None]:
        model = self.regressors_.get(name)
        if model is None:
            return [None] * P.shape[0]
        values, sds = model.predict(P, return_std=True)
        Y = np.clip(np.asarray(values).reshape(P.shape[0], -1), 0.0, 100.0)
        S = np.asarray(sds).reshape(P.shape[0], -1)
        if Y.shape[1] > 1:  # En + Fs + Wo = 100 after clipping
            total = Y.sum(axis=1, keepdims=True)
            Y = np.where(total > 0, 100.0 * Y / np.where(total > 0, total, 1.0), Y)
        method = (
            f"regression on RRUFF measured chemistry (n={self.n_spectra_[name]} spectra of "
            f"{self.n_samples_[name]} samples)"
        )
        return [
            _answer(family.components, y, sd, method) if np.isfinite(y).all() else None
            for y, sd in zip(Y, S, strict=True)
        ]

    def _published_answers(
        self, name: str, family: Family, P: np.ndarray
    ) -> list[dict[str, Any] | None]:
        calibration = PUBLISHED_CALIBRATIONS.get(name)
        if calibration is None or name not in self.published_rmse_:
            return [None] * P.shape[0]
        values = self._published(P, family, calibration)
        sd = np.array([self.published_rmse_[name][calibration.component]])
        return [
            None
            if not np.isfinite(v)
            else _answer((calibration.component,), [v], sd, calibration.label)
            for v in values
        ]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted estimator as a JSON-ready dict (no pickle); `from_dict` reads it back."""
        _check_fitted(self)
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "params": {
                "alpha": float(self.alpha),
                "cv": int(self.cv),
                "min_height": float(self.min_height),
                "min_samples": int(self.min_samples),
            },
            "axis": self.axis_.tolist(),
            "families": {
                name: {
                    "regressor": model.to_dict(),
                    "n_spectra": self.n_spectra_[name],
                    "n_samples": self.n_samples_[name],
                    "published_rmse": self.published_rmse_.get(name),
                    "published_n": self.published_n_.get(name),
                }
                for name, model in self.regressors_.items()
            },
            "unfitted": dict(self.unfitted_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompositionEstimator:
        """A fitted estimator from `to_dict` output (e.g. after ``json.loads``).

        Raises
        ------
        ModelFileError
            If the document is not a composition estimator of a version this lithoscope
            reads, or a part of it is missing or malformed.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ModelFileError(
                f"document is not a lithoscope composition estimator (format "
                f"{data.get('format') if isinstance(data, Mapping) else type(data).__name__!r}); "
                "write it with CompositionEstimator.to_dict()"
            )
        if data.get("version") != _VERSION:
            raise ModelFileError(
                f"composition estimator version {data.get('version')!r} is not {_VERSION}; "
                "refit it with this lithoscope"
            )
        try:
            axis = np.asarray(data["axis"], dtype=np.float64)
            est = cls(axis=axis, **data["params"])
            est.axis_ = _check_grid(axis, axis.size)
            est.regressors_, est.n_spectra_, est.n_samples_ = {}, {}, {}
            est.published_rmse_, est.published_n_ = {}, {}
            for name, part in data["families"].items():
                family = _family(name)
                model = CompositionRegressor.from_dict(part["regressor"])
                if model.n_features_in_ != len(family.bands):
                    raise ValueError(f"{name}: {model.n_features_in_} features")
                est.regressors_[name] = model
                est.n_spectra_[name] = int(part["n_spectra"])
                est.n_samples_[name] = int(part["n_samples"])
                if part.get("published_rmse") is not None:
                    est.published_rmse_[name] = {
                        str(k): float(v) for k, v in part["published_rmse"].items()
                    }
                    est.published_n_[name] = int(part["published_n"])
            est.unfitted_ = {str(k): str(v) for k, v in data["unfitted"].items()}
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, InputError) as exc:
            raise ModelFileError(
                f"composition estimator document is invalid ({type(exc).__name__}: {exc}); "
                "write it again with CompositionEstimator.to_dict()"
            ) from None
        return est


def _check_fitted(estimator: CompositionEstimator) -> None:
    if not hasattr(estimator, "regressors_"):
        raise NotFittedError(
            "this CompositionEstimator is not fitted yet; call fit(X, families, compositions) "
            "or use fit_from_mindb(db)"
        )


def _composition_row(value: Mapping[str, float] | None, family: Family, row: int) -> list[float]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"compositions[{row}] ({family.name}) must be a mapping with "
            f"{', '.join(family.components)} in mol %, got {value!r}"
        )
    missing = [c for c in family.components if c not in value]
    if missing:
        raise InputError(
            f"compositions[{row}] ({family.name}) lacks {', '.join(missing)}; give "
            f"{', '.join(family.components)} in mol %"
        )
    out = [float(value[c]) for c in family.components]
    if not all(0.0 <= v <= 100.0 for v in out):
        raise InputError(
            f"compositions[{row}] ({family.name}) must be in mol % between 0 and 100, got "
            f"{dict(value)!r}"
        )
    return out


def _smaller_sd(
    a: dict[str, Any] | None, b: dict[str, Any] | None, component: str
) -> dict[str, Any] | None:
    if a is None or b is None:
        return a if b is None else b
    sd_a, sd_b = a.get(f"{component}_sd"), b.get(f"{component}_sd")
    if sd_b is not None and (sd_a is None or sd_b < sd_a):
        return b
    return a


def _answer(
    components: Sequence[str], values: Iterable[float], sds: np.ndarray, method: str
) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for comp, value, sd in zip(components, values, sds, strict=True):
        answer[comp] = round(float(value), 1)
        answer[f"{comp}_sd"] = round(float(sd), 1) if math.isfinite(float(sd)) else None
    answer["method"] = method
    return answer


def estimate_composition(
    X: npt.ArrayLike,
    grid: npt.ArrayLike,
    families: Sequence[str | None],
    *,
    estimator: CompositionEstimator,
    calibration: str = "best",
) -> list[dict[str, Any] | None]:
    """Composition of a batch of preprocessed spectra, one answer (or None) per row.

    The batch entry point for identification answers: one spectrum is the one-row case.

    Parameters
    ----------
    X : array_like, shape (n_spectra, n_points)
        Preprocessed spectra (e.g. ``make_preset("raman")``) on ``grid``.
    grid : array_like, shape (n_points,)
        Their axis; must be the estimator's.
    families : sequence of str or None
        ``'olivine'``, ``'pyroxene'``, ``'plagioclase'`` or None per row (None: no answer).
    estimator : CompositionEstimator
        Fitted (`fit_from_mindb`, or `CompositionEstimator.from_dict`).
    calibration : {'best', 'regression', 'published'}, default='best'
        The fitted regression, the published calibration where one was verified (olivine), or
        per spectrum the one of the two with the smaller sd.

    Returns
    -------
    list of dict or None
        See `CompositionEstimator.predict`.

    Raises
    ------
    InputError
        If ``grid`` is not the estimator's axis, or for bad ``X``, ``families`` or
        ``calibration``.
    """
    if not isinstance(estimator, CompositionEstimator):
        raise InputError(
            f"estimator must be a fitted CompositionEstimator, got {type(estimator).__name__}; "
            "fit one with fit_from_mindb(db)"
        )
    _check_fitted(estimator)
    arr = _check_stack(X)
    g = _check_grid(grid, arr.shape[1])
    if g.shape != estimator.axis_.shape or not np.allclose(g, estimator.axis_, atol=1e-6):
        raise InputError(
            f"grid ({g[0]:g}-{g[-1]:g}, {g.size} points) is not the estimator's axis "
            f"({estimator.axis_[0]:g}-{estimator.axis_[-1]:g}, {estimator.axis_.size} points); "
            "preprocess the spectra onto the estimator's axis"
        )
    return estimator.predict(arr, families, calibration=calibration)


# ---------------------------------------------------------------------------------- MinDB
@dataclass
class CompositionData:
    """Preprocessed spectra of family members with their measured composition.

    Attributes
    ----------
    X : ndarray, shape (n, n_points)
    axis : ndarray, shape (n_points,)
    families : list of str
    compositions : list of dict
        Composition in mol % (see `composition_from_formula`).
    groups : ndarray of str
        Sample group (RRUFF ID without suffixes): split and cross-validate by it.
    minerals, spectrum_ids : list
        MinDB's mineral (or group) name and spectrum id of each row.
    skipped : dict of str to int
        Spectra left out, by reason.
    """

    X: np.ndarray
    axis: np.ndarray
    families: list[str]
    compositions: list[dict[str, float]]
    groups: np.ndarray
    minerals: list[str]
    spectrum_ids: list[int]
    skipped: dict[str, int] = field(default_factory=dict)

    def subset(self, rows: npt.ArrayLike) -> CompositionData:
        """The rows ``rows`` (indices or a boolean mask), same axis."""
        idx = np.arange(len(self.families))[np.asarray(rows)]
        return CompositionData(
            X=self.X[idx],
            axis=self.axis,
            families=[self.families[i] for i in idx],
            compositions=[self.compositions[i] for i in idx],
            groups=self.groups[idx],
            minerals=[self.minerals[i] for i in idx],
            spectrum_ids=[self.spectrum_ids[i] for i in idx],
            skipped=dict(self.skipped),
        )


def training_data(
    db: MinDB,
    *,
    pipeline: Pipeline | None = None,
    families: Iterable[str] = tuple(FAMILIES),
) -> CompositionData:
    """Raman spectra of MinDB with measured chemistry, preprocessed, with their composition.

    For each family, the spectra linked to a member species of MinDB's group of that name or to
    the group itself (``Labradorite`` spectra link to ``plagioclase``) whose measured chemistry
    parses and is a member of the solid solution (`composition_from_chemistry`). Spectra that
    repeat another spectrum of the same sample exactly (one file under two names) are kept once.

    Parameters
    ----------
    db : MinDB
        Open MinDB with RRUFF Raman spectra ingested (`lithoscope.data.ingest.ingest`).
    pipeline : sklearn.pipeline.Pipeline, optional
        Preprocessing; default ``make_preset("raman")``.
    families : iterable of str
        Families to read.

    Returns
    -------
    CompositionData

    Raises
    ------
    InputError
        For an unknown family name.
    """
    from lithoscope.spectra.preprocessing import make_preset

    names = [_family(f).name for f in families]
    pipe = make_preset("raman") if pipeline is None else pipeline
    skipped: dict[str, int] = {}
    spectra: list[Any] = []
    rows: list[tuple[str, dict[str, float], str, str, int]] = []
    for name in names:
        members = [m["name"] for m in db.mineral(name).get("members", [])]
        stored = db.spectra_arrays(method="raman", minerals=[*members, name])
        for spectrum, meta in zip(stored.to_spectra(), stored.metadata, strict=True):
            text = meta.get("measured_chemistry")
            if not text:
                skipped["no measured chemistry"] = skipped.get("no measured chemistry", 0) + 1
                continue
            try:
                comp = composition_from_chemistry(text, name)
            except FormulaError:
                skipped["chemistry not parsed"] = skipped.get("chemistry not parsed", 0) + 1
                continue
            if comp is None:
                reason = f"not a member of the {name} solid solution"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            spectra.append(spectrum)
            rows.append((name, comp, meta["group"], meta["mineral"], int(meta["spectrum_id"])))
    axis = np.asarray(pipe.steps[0][1].grid, dtype=np.float64)
    if not spectra:
        return CompositionData(
            np.empty((0, axis.size)), axis, [], [], np.array([], dtype=str), [], [], skipped
        )
    X = np.asarray(pipe.fit_transform(spectra), dtype=np.float64)
    seen: set[tuple[str, bytes]] = set()
    keep = []
    for i, (_, _, group, _, _) in enumerate(rows):
        key = (group, np.round(X[i], 6).tobytes())
        if key in seen:
            skipped["same spectrum as another of its sample"] = (
                skipped.get("same spectrum as another of its sample", 0) + 1
            )
            continue
        seen.add(key)
        keep.append(i)
    return CompositionData(
        X=X[keep],
        axis=axis,
        families=[rows[i][0] for i in keep],
        compositions=[rows[i][1] for i in keep],
        groups=np.array([rows[i][2] for i in keep]),
        minerals=[rows[i][3] for i in keep],
        spectrum_ids=[rows[i][4] for i in keep],
        skipped=skipped,
    )


def fit_from_mindb(
    db: MinDB,
    *,
    pipeline: Pipeline | None = None,
    alpha: float = 1.0,
    cv: int = 10,
    min_height: float = 0.03,
    min_samples: int = 3,
) -> CompositionEstimator:
    """A `CompositionEstimator` fitted on MinDB's Raman spectra with measured chemistry.

    Parameters
    ----------
    db : MinDB
        Open MinDB with RRUFF Raman spectra ingested.
    pipeline : sklearn.pipeline.Pipeline, optional
        Preprocessing of the training spectra; default ``make_preset("raman")``. Spectra given
        to the estimator later must be preprocessed the same way (the estimator refuses
        another axis).
    alpha, cv, min_height, min_samples
        `CompositionEstimator` parameters.

    Returns
    -------
    CompositionEstimator
    """
    data = training_data(db, pipeline=pipeline)
    estimator = CompositionEstimator(
        axis=data.axis, alpha=alpha, cv=cv, min_height=min_height, min_samples=min_samples
    )
    return estimator.fit(data.X, data.families, data.compositions, groups=data.groups)
