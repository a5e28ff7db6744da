"""Peaks of a spectrum, consensus reference bands of a mineral, and the table that matches them.

A mission scientist checks an identification the way a spectroscopist would: are the bands of the
proposed mineral in the spectrum, and is any strong band in the spectrum explained by none of the
candidates (a second phase, contamination, or a wrong answer)?

* `find_peaks` lists the bands of one preprocessed spectrum (scipy's ``find_peaks`` with a
  prominence relative to the tallest point, positions refined between grid points by a parabola
  through the top three points).
* `reference_bands` turns a mineral's reference spectra into consensus bands: peaks of every
  spectrum, clustered within a tolerance, kept when seen in at least half of the spectra or
  strong in more than one.
* `BandCache` reads a mineral's reference spectra from MinDB and keeps its bands per
  (mineral, method), so that identifying many spectra computes each mineral's bands once.
* `peak_table` matches sample peaks to each candidate's bands: the ``"peaks"``, ``"candidates"``
  and ``"unmatched_strong_peaks"`` of the ``"explanation"`` JSON (see `lithoscope.explain`).

All positions and tolerances are in axis units (cm-1 for Raman and IR).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.signal

from lithoscope.errors import InputError

__all__ = [
    "BandCache",
    "find_peaks",
    "mineral_spectra",
    "peak_table",
    "reference_bands",
]


def _check_xy(x: npt.ArrayLike, axis: npt.ArrayLike, what: str = "x") -> tuple[np.ndarray, ...]:
    y = np.asarray(x, dtype=np.float64)
    a = np.asarray(axis, dtype=np.float64)
    if y.ndim != 1:
        raise InputError(f"{what} must be one spectrum (1-D), got shape {y.shape}")
    if a.shape != y.shape:
        raise InputError(f"axis has {a.size} points but {what} has {y.size}; give {what}'s axis")
    if y.size < 3:
        raise InputError(f"{what} needs at least 3 points to hold a peak, got {y.size}")
    if not np.all(np.isfinite(y)):
        raise InputError(f"{what} has NaN or infinite values; preprocess it first")
    if np.any(np.diff(a) <= 0):
        raise InputError("axis must be strictly increasing")
    return y, a


def find_peaks(
    x: npt.ArrayLike,
    axis: npt.ArrayLike,
    *,
    prominence: float = 0.03,
    max_peaks: int | None = 40,
) -> list[dict[str, float]]:
    """Bands of one (preprocessed) spectrum, with sub-grid positions.

    Parameters
    ----------
    x : array_like, shape (n,)
        Intensities, baseline removed (the model's preprocessed input).
    axis : array_like, shape (n,)
        Strictly increasing positions of ``x``.
    prominence : float, default=0.03
        Minimum prominence as a fraction of the tallest point of ``x`` (scale-free: 0.03 keeps
        bands standing 3 % of the strongest band above their surroundings).
    max_peaks : int or None, default=40
        Keep at most this many, the most prominent; None keeps all.

    Returns
    -------
    list of dict
        ``{"position", "intensity", "prominence", "width"}`` sorted by position. ``position``
        is the vertex of the parabola through the highest point and its two neighbours (exact
        for a parabolic top, within a few hundredths of a point for bands a few points wide);
        ``intensity`` the parabola's vertex height; ``prominence`` as scipy's, in units of
        ``x``; ``width`` the full width at half prominence in axis units.

    Raises
    ------
    InputError
        ``x`` is not 1-D, not finite, or not as long as ``axis``; bad ``prominence`` or
        ``max_peaks``.

    Examples
    --------
    >>> axis = np.arange(100.0)
    >>> x = 1 / (1 + ((axis - 40.3) / 3) ** 2)
    >>> [round(p["position"], 1) for p in find_peaks(x, axis)]
    [40.3]
    """
    y, a = _check_xy(x, axis)
    if not prominence > 0:
        raise InputError(f"prominence must be > 0 (share of the tallest point), got {prominence}")
    if max_peaks is not None and max_peaks < 1:
        raise InputError(f"max_peaks must be at least 1 or None, got {max_peaks}")
    top = float(np.max(y))
    if not top > 0:
        return []
    idx, props = scipy.signal.find_peaks(y, prominence=prominence * top, width=0, rel_height=0.5)
    if idx.size == 0:
        return []
    prom = props["prominences"]
    if max_peaks is not None and idx.size > max_peaks:
        keep = np.sort(np.argsort(-prom, kind="stable")[:max_peaks])
        idx, prom = idx[keep], prom[keep]
        left, right = props["left_ips"][keep], props["right_ips"][keep]
    else:
        left, right = props["left_ips"], props["right_ips"]
    points = np.arange(y.size, dtype=np.float64)
    # find_peaks never reports the first or last point, so both neighbours exist
    y0, y1, y2 = y[idx - 1], y[idx], y[idx + 1]
    curvature = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(curvature < 0, 0.5 * (y0 - y2) / curvature, 0.0)
    delta = np.clip(delta, -0.5, 0.5)  # a flat top (plateau) stays on its grid point
    position = np.interp(idx + delta, points, a)
    height = y1 - 0.25 * (y0 - y2) * delta
    width = np.interp(right, points, a) - np.interp(left, points, a)
    return [
        {
            "position": float(p),
            "intensity": float(h),
            "prominence": float(q),
            "width": float(w),
        }
        for p, h, q, w in zip(position, height, prom, width, strict=True)
    ]


def _spectra_rows(spectra: Sequence[Any], pipeline: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(intensities, axis) of each reference, preprocessed when a pipeline is given."""
    if pipeline is not None:
        X = np.asarray(pipeline.transform(list(spectra)), dtype=np.float64)
        grid = np.asarray(pipeline.steps[0][1].grid, dtype=np.float64)
        return [(row, grid) for row in X]
    rows = []
    for s in spectra:
        y = np.asarray(s.intensities, dtype=np.float64)
        rows.append((y - y.min(), np.asarray(s.axis, dtype=np.float64)))
    return rows


def reference_bands(
    spectra: Sequence[Any],
    pipeline: Any = None,
    *,
    prominence: float = 0.03,
    max_peaks: int | None = 40,
    tolerance: float = 5.0,
    min_fraction: float = 0.5,
    strong: float = 0.5,
) -> list[dict[str, float]]:
    """Consensus bands of one mineral from its reference spectra.

    Peaks are found in every spectrum (`find_peaks`; intensities relative to that spectrum's
    strongest peak). Peaks are then clustered strongest first: a peak joins the nearest cluster
    within ``tolerance`` that has no peak of its spectrum yet, or starts a new one, so a doublet
    stays two bands and a noisy region cannot chain into one wide band. A cluster is kept when
    it is seen in at least ``min_fraction`` of the spectra, or when it reaches ``strong`` in two
    spectra (in one if there is only one): unoriented Raman intensities change with the
    crystal's orientation, so a strong band may be faint in some samples.

    Parameters
    ----------
    spectra : sequence of Spectrum
        Reference spectra of one mineral and method.
    pipeline : sklearn Pipeline, optional
        Preprocessing starting with ``ToGrid`` (the model's); without it the spectra are used
        as stored (minimum subtracted), each on its own axis.
    prominence, max_peaks
        As for `find_peaks`, per spectrum.
    tolerance : float, default=5.0
        Largest distance (axis units) between a peak and its cluster's strongest peak.
    min_fraction : float, default=0.5
        Fraction of the spectra a band must be seen in.
    strong : float, default=0.5
        Relative intensity above which a band seen in fewer spectra is still kept.

    Returns
    -------
    list of dict
        ``{"position", "intensity", "n_spectra"}`` sorted by position: the intensity-weighted
        mean position of the cluster, the mean relative intensity over the spectra it is seen
        in (1 = the strongest peak of each spectrum), and in how many spectra it is seen.
        Empty when ``spectra`` is empty.

    Raises
    ------
    InputError
        Bad ``tolerance``, ``min_fraction`` or ``strong``.
    """
    if not tolerance > 0:
        raise InputError(f"tolerance must be > 0 (axis units), got {tolerance}")
    if not 0 < min_fraction <= 1:
        raise InputError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if not strong > 0:
        raise InputError(f"strong must be > 0 (relative intensity), got {strong}")
    if len(spectra) == 0:
        return []
    pos, inten, owner = [], [], []
    for k, (y, a) in enumerate(_spectra_rows(spectra, pipeline)):
        peaks = find_peaks(y, a, prominence=prominence, max_peaks=max_peaks)
        if not peaks:
            continue
        top = max(p["intensity"] for p in peaks)
        for p in peaks:
            pos.append(p["position"])
            inten.append(p["intensity"] / top)
            owner.append(k)
    n_total = len(spectra)
    centres: list[float] = []  # position of each cluster's seed (its strongest peak)
    members: list[list[int]] = []
    for i in np.argsort(-np.asarray(inten), kind="stable"):
        best, best_d = -1, tolerance
        for c, centre in enumerate(centres):
            d = abs(pos[i] - centre)
            if d <= best_d and all(owner[j] != owner[i] for j in members[c]):
                best, best_d = c, d
        if best < 0:
            centres.append(pos[i])
            members.append([int(i)])
        else:
            members[best].append(int(i))
    need_strong = min(2, n_total)
    bands = []
    for group in members:
        w = np.asarray([inten[j] for j in group])
        p = np.asarray([pos[j] for j in group])
        seen = len(group)
        if seen >= min_fraction * n_total or int(np.sum(w >= strong)) >= need_strong:
            bands.append(
                {
                    "position": float(np.sum(w * p) / np.sum(w)),
                    "intensity": float(np.mean(w)),
                    "n_spectra": seen,
                }
            )
    return sorted(bands, key=lambda b: b["position"])


def mineral_spectra(
    db: Any,
    mineral: str,
    method: str,
    *,
    lasers: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Reference spectra of one mineral (by MinDB name) and method, oldest first.

    Parameters
    ----------
    db : MinDB
    mineral : str
        The mineral's name as stored in MinDB (a model's ``classes_`` entry).
    method : str
        raman, ir, ...
    lasers : sequence of float, optional
        Raman only: keep these laser wavelengths (nm).
    limit : int, optional
        At most this many spectra.

    Returns
    -------
    list of Spectrum
        Empty when MinDB holds no spectrum of that mineral and method.
    """
    return db.spectra(method=method, minerals=[mineral], laser_nm=lasers, limit=limit)


class BandCache:
    """A mineral's consensus bands from its MinDB reference spectra, computed once.

    Parameters
    ----------
    db : MinDB
    pipeline_for : callable, optional
        ``method -> pipeline``: the preprocessing applied to the references before their peaks
        are found; use the model's (``lambda m: identifier.loaded(m).pipeline``) so that
        reference and sample peaks are found on the same footing. Without it the stored
        spectra are used as they are.
    lasers : sequence of float, optional
        Raman only: use references of these laser wavelengths.
    max_spectra : int, optional
        Use at most this many references per mineral (the oldest first).
    options : mapping, optional
        Keyword arguments of `reference_bands` (``tolerance``, ``min_fraction``...).

    Examples
    --------
    >>> cache = BandCache(db, pipeline_for=lambda m: ident.loaded(m).pipeline)  # doctest: +SKIP
    >>> cache.bands("Forsterite", "raman")[:1]  # doctest: +SKIP
    [{'position': 226.9, 'intensity': 0.12, 'n_spectra': 9}]
    >>> bands_for = cache.for_method("raman")  # doctest: +SKIP
    """

    def __init__(
        self,
        db: Any,
        *,
        pipeline_for: Callable[[str], Any] | None = None,
        lasers: Sequence[float] | None = None,
        max_spectra: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.pipeline_for = pipeline_for
        self.lasers = None if lasers is None else tuple(float(v) for v in lasers)
        self.max_spectra = max_spectra
        self.options = dict(options or {})
        self._bands: dict[tuple[str, str], list[dict[str, float]]] = {}
        # fail now, not at the first mineral, on a misspelled option
        unknown = set(self.options) - {
            "prominence",
            "max_peaks",
            "tolerance",
            "min_fraction",
            "strong",
        }
        if unknown:
            raise InputError(
                f"options {sorted(unknown)} are not reference_bands options; valid: prominence, "
                "max_peaks, tolerance, min_fraction, strong"
            )

    def bands(self, mineral: str, method: str) -> list[dict[str, float]]:
        """Consensus bands of ``mineral`` for ``method`` (empty without reference spectra)."""
        key = (str(mineral), str(method).lower())
        if key not in self._bands:
            spectra = mineral_spectra(
                self.db, key[0], key[1], lasers=self.lasers, limit=self.max_spectra
            )
            pipeline = self.pipeline_for(key[1]) if self.pipeline_for is not None else None
            self._bands[key] = reference_bands(spectra, pipeline, **self.options)
        return self._bands[key]

    def for_method(self, method: str) -> Callable[[str], list[dict[str, float]]]:
        """``mineral -> bands`` for one method (the ``bands_for`` of `explain_identification`)."""
        return lambda mineral: self.bands(mineral, method)

    def clear(self) -> None:
        """Forget all bands (after MinDB gained spectra)."""
        self._bands.clear()


def _relative(peaks: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray([float(p["position"]) for p in peaks], dtype=np.float64)
    inten = np.asarray([float(p["intensity"]) for p in peaks], dtype=np.float64)
    top = inten.max() if inten.size and inten.max() > 0 else 1.0
    return pos, inten / top


def peak_table(
    sample_peaks: Sequence[Mapping[str, Any]],
    candidates_bands: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    tolerance: float = 8.0,
    strong: float = 0.2,
) -> dict[str, Any]:
    """Match a spectrum's peaks to the reference bands of each candidate mineral.

    A sample peak matches a candidate when one of its bands lies within ``tolerance``
    (inclusive); it is paired with the nearest. A reference band counts as found when any
    sample peak lies within ``tolerance`` of it.

    Parameters
    ----------
    sample_peaks : sequence of dict
        `find_peaks` output (``position`` and ``intensity`` are used).
    candidates_bands : mapping
        ``mineral -> bands`` (`reference_bands` output), in the order to report them.
    tolerance : float, default=8.0
        Largest peak-band distance (axis units) that counts as a match.
    strong : float, default=0.2
        Sample peaks at least this high (relative to the strongest sample peak) that match no
        candidate are reported in ``unmatched_strong_peaks``.

    Returns
    -------
    dict
        ``"peaks"``: ``[{"position", "intensity", "matches": {mineral: band position or
        None}}]`` in sample order, intensities relative to the strongest sample peak;
        ``"candidates"``: ``[{"mineral", "matched", "n_reference_bands",
        "unmatched_reference_bands", "match_fraction"}]`` where ``matched`` counts the
        reference bands found, ``unmatched_reference_bands`` lists the others
        (``{"position", "intensity"}``) and ``match_fraction`` is the intensity-weighted
        fraction of the reference bands found (None without bands);
        ``"unmatched_strong_peaks"``: ``[{"position", "intensity"}]``. Positions are rounded
        to 0.01 and intensities to 0.001 axis or relative units.

    Raises
    ------
    InputError
        Bad ``tolerance`` or ``strong``; a peak or band without ``position``/``intensity``.

    Examples
    --------
    >>> table = peak_table(
    ...     [{"position": 1086.2, "intensity": 1.0}, {"position": 465.0, "intensity": 0.6}],
    ...     {"Calcite": [{"position": 1086.0, "intensity": 1.0}, {"position": 712.0,
    ...      "intensity": 0.1}]},
    ... )
    >>> table["peaks"][0]["matches"], table["candidates"][0]["match_fraction"]
    ({'Calcite': 1086.0}, 0.909)
    >>> table["unmatched_strong_peaks"]
    [{'position': 465.0, 'intensity': 0.6}]
    """
    if not tolerance >= 0:
        raise InputError(f"tolerance must be >= 0 (axis units), got {tolerance}")
    if not 0 <= strong <= 1:
        raise InputError(f"strong must be in [0, 1] (relative intensity), got {strong}")
    try:
        s_pos, s_rel = _relative(sample_peaks)
        refs = {str(m): _relative(b) for m, b in candidates_bands.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"peaks and bands must be dicts with numeric 'position' and 'intensity' ({exc!r})"
        ) from None
    # a band exactly `tolerance` away matches despite float rounding of the positions
    tol = tolerance + 1e-9 * max(1.0, float(np.max(np.abs(s_pos), initial=0.0)))
    matches: dict[str, list[float | None]] = {}
    candidates = []
    for mineral, (r_pos, r_rel) in refs.items():
        d = np.abs(s_pos[:, None] - r_pos[None, :])  # (sample peaks, bands)
        near = d <= tol
        nearest = np.argmin(np.where(near, d, np.inf), axis=1) if r_pos.size else None
        matches[mineral] = [
            round(float(r_pos[nearest[i]]), 2) if near[i].any() else None for i in range(s_pos.size)
        ]
        found = near.any(axis=0)
        total = float(r_rel.sum())
        candidates.append(
            {
                "mineral": mineral,
                "matched": int(found.sum()),
                "n_reference_bands": int(r_pos.size),
                "unmatched_reference_bands": [
                    {"position": round(float(p), 2), "intensity": round(float(r), 3)}
                    for p, r in zip(r_pos[~found], r_rel[~found], strict=True)
                ],
                "match_fraction": (
                    round(float(r_rel[found].sum()) / total, 3) if total > 0 else None
                ),
            }
        )
    peaks = []
    unmatched = []
    for i in range(s_pos.size):
        row_matches = {m: matches[m][i] for m in refs}
        entry = {"position": round(float(s_pos[i]), 2), "intensity": round(float(s_rel[i]), 3)}
        peaks.append({**entry, "matches": row_matches})
        if s_rel[i] >= strong and all(v is None for v in row_matches.values()):
            unmatched.append(entry)
    return {"peaks": peaks, "candidates": candidates, "unmatched_strong_peaks": unmatched}
