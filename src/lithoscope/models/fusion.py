"""Fusing the answers of several methods about one sample (late fusion).

Each method's model gives probabilities over its own minerals (the Raman library knows ~1,500,
the infrared one ~450, a LIBS model those whose formula it simulated). `late_fusion` combines
them over the union of their classes as a product of experts,

    log p(c | all) = sum_m w_m * log p_m(c | x_m) + const,

where a mineral a method does not know gets that method's ``floor`` (a small probability: "this
method cannot speak for it", not "this method rules it out"). The product rewards minerals that
every method finds plausible, which is what separates near-identical spectra of one method
(almandine and pyrope in Raman) when another method (LIBS: Fe or Mg) sees the difference. Any
subset of methods works: a missing method simply contributes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = ["DEFAULT_FLOOR", "late_fusion"]

#: probability given to a mineral that a method's model does not know
DEFAULT_FLOOR = 1e-4


def late_fusion(
    parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    weights: Mapping[str, float] | None = None,
    floor: float = DEFAULT_FLOOR,
    classes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Product-of-experts fusion of per-method probabilities over the union of their classes.

    Parameters
    ----------
    parts : mapping of str to (classes, proba)
        Per method: its model's class names (n_m,) and probabilities (n_samples, n_m); every
        method has the same rows (one per sample). A row of NaN means "this method was not
        measured for this sample" and contributes nothing.
    weights : mapping of str to float, optional
        Exponent of each method's probabilities (default 1 for every method).
    floor : float, default=1e-4
        Probability of a mineral a method does not know (and the smallest one used).
    classes : sequence of str, optional
        The fused class order; default the sorted union.

    Returns
    -------
    classes : ndarray of str, shape (n_classes,)
    proba : ndarray, shape (n_samples, n_classes)
        Rows sum to 1.

    Examples
    --------
    >>> raman = (["Almandine", "Pyrope"], np.array([[0.55, 0.45]]))
    >>> libs = (["Almandine", "Pyrope", "Spessartine"], np.array([[0.1, 0.8, 0.1]]))
    >>> names, p = late_fusion({"raman": raman, "libs": libs})
    >>> str(names[p.argmax(1)][0])
    'Pyrope'
    """
    if not parts:
        raise InputError("late fusion needs the probabilities of at least one method")
    if not 0 < floor < 1:
        raise InputError(f"floor must be between 0 and 1, got {floor}")
    checked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n_rows = None
    for method, (names, proba) in parts.items():
        names = np.asarray(names).astype(str)
        P = np.asarray(proba, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != names.size:
            raise InputError(
                f"{method}: probabilities of shape {P.shape} do not match its {names.size} classes"
            )
        if n_rows is not None and P.shape[0] != n_rows:
            raise InputError(f"{method}: {P.shape[0]} rows, the other methods have {n_rows}")
        n_rows = P.shape[0]
        checked[method] = (names, P)
    union = (
        np.asarray(classes).astype(str)
        if classes is not None
        else np.unique(np.concatenate([names for names, _ in checked.values()]))
    )
    logp = np.zeros((n_rows or 0, union.size))
    for method, (names, P) in checked.items():
        w = 1.0 if weights is None else float(weights.get(method, 1.0))
        if w < 0 or not np.isfinite(w):
            raise InputError(f"weight of {method} must be a non-negative number, got {w}")
        index = np.searchsorted(union, names) if classes is None else _index(union, names)
        known = (index < union.size) & (union[np.minimum(index, union.size - 1)] == names)
        term = np.full((P.shape[0], union.size), np.log(floor))
        term[:, index[known]] = np.log(np.clip(P[:, known], floor, None))
        measured = ~np.isnan(P).any(axis=1)
        logp[measured] += w * term[measured]
    logp -= logp.max(axis=1, keepdims=True)
    fused = np.exp(logp)
    return union, fused / fused.sum(axis=1, keepdims=True)


def _index(union: np.ndarray, names: np.ndarray) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(union.tolist())}
    return np.array([lookup.get(n, union.size) for n in names.tolist()], dtype=np.intp)
