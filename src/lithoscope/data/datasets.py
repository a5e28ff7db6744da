"""Training sets from MinDB: spectra on a common grid, versioned by content, grouped splits.

A `Dataset` is what every model trains on: a `SpectralCollection` (one method, one axis), the
mineral label of each spectrum, its group (RRUFF sample id without suffixes: spectra of one sample
never sit on both sides of a split), and a ``version``: the sha256 of the spectra's checksums,
labels, grid, preprocessing and selection rules, so that a model can record exactly what it saw.

Only spectra linked to a MinDB species are trained on. Spectra whose label names a group
('Tourmaline', 'Pyrochlore': linked to the group with the species left open) and unlinked ones
(synthetic compounds, 'unknown') stay in MinDB but out of species training.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.methods import DEFAULT_UNIT, Method
from lithoscope.mindb.labels import base_sample_id
from lithoscope.mindb.queries import MinDB
from lithoscope.spectra.spectrum import SpectralCollection, Spectrum

__all__ = [
    "Dataset",
    "DatasetSpec",
    "base_sample_id",
    "build_dataset",
    "grouped_split",
    "load_spectra",
]


def load_spectra(
    db: MinDB,
    method: Method | str,
    *,
    linked_only: bool = True,
    lasers: Sequence[float] | None = None,
) -> list[Spectrum]:
    """All reference spectra of one method in MinDB, as `Spectrum` objects.

    A shortcut of `MinDB.spectra` (see there for the metadata).

    Parameters
    ----------
    db : MinDB
    method : str
        raman, ir, ...
    linked_only : bool, default=True
        Only spectra linked to a MinDB species (their ``mineral`` is then the IMA name);
        spectra linked only to a group (label 'Tourmaline') are left out.
    lasers : sequence of float, optional
        Raman only: keep these laser wavelengths (nm).
    """
    return db.spectra(method=method, linked_only=linked_only, laser_nm=lasers)


@dataclass(frozen=True)
class DatasetSpec:
    """How to build a training set from MinDB.

    Parameters
    ----------
    method : str
        raman, ir, ...
    grid : array_like
        The common axis.
    min_spectra_per_mineral : int, default=1
        Drop minerals with fewer spectra.
    lasers : tuple of float, optional
        Raman laser wavelengths to keep.
    outside : {'zero', 'edge', 'nan'}, default='zero'
        Value of grid points beyond a spectrum's measured range.
    preprocessing : dict, optional
        JSON description of the preprocessing pipeline (recorded in the version).
    """

    method: str
    grid: tuple[float, ...]
    min_spectra_per_mineral: int = 1
    lasers: tuple[float, ...] | None = None
    outside: str = "zero"
    preprocessing: dict[str, Any] | None = None

    @classmethod
    def make(cls, method: str, grid: npt.ArrayLike, **kwargs: Any) -> DatasetSpec:
        g = np.asarray(grid, dtype=np.float64)
        if g.ndim != 1 or g.size < 2 or np.any(np.diff(g) <= 0):
            raise InputError("grid must be 1-D and strictly increasing with >= 2 points")
        return cls(method=str(Method(str(method).lower())), grid=tuple(g.tolist()), **kwargs)

    @classmethod
    def from_pipeline(
        cls,
        pipeline: Any,
        *,
        min_spectra_per_mineral: int = 1,
        lasers: tuple[float, ...] | None = None,
    ) -> DatasetSpec:
        """Spec whose grid, method and range policy come from a preprocessing pipeline.

        ``pipeline`` starts with `lithoscope.spectra.preprocessing.ToGrid` (as every preset);
        its JSON description is recorded, so the dataset version changes with it.
        """
        from lithoscope.spectra.preprocessing import ToGrid, pipeline_to_dict

        first = pipeline.steps[0][1]
        if not isinstance(first, ToGrid) or first.grid is None or first.method is None:
            raise InputError(
                "the preprocessing pipeline must start with ToGrid(grid=..., method=...); "
                "build it with make_preset() or build_pipeline()"
            )
        return cls.make(
            first.method,
            first.grid,
            min_spectra_per_mineral=min_spectra_per_mineral,
            lasers=lasers,
            outside=first.outside,
            preprocessing=pipeline_to_dict(pipeline),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "grid": list(self.grid),
            "min_spectra_per_mineral": self.min_spectra_per_mineral,
            "lasers": list(self.lasers) if self.lasers else None,
            "outside": self.outside,
            "preprocessing": self.preprocessing,
        }


@dataclass(frozen=True, eq=False)
class Dataset:
    """A training set: spectra on one grid with labels, groups and a content version."""

    collection: SpectralCollection
    y: np.ndarray
    groups: np.ndarray
    version: str
    spec: DatasetSpec
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def X(self) -> np.ndarray:
        return self.collection.X

    @property
    def axis(self) -> np.ndarray:
        return self.collection.axis

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, index: npt.ArrayLike) -> Dataset:
        idx = np.asarray(index)
        c = self.collection
        sub = SpectralCollection(
            c.axis, c.X[idx], c.method, c.unit, [c.metadata[i] for i in idx.tolist()]
        )
        return Dataset(sub, self.y[idx], self.groups[idx], self.version, self.spec, self.info)


def build_dataset(
    db: MinDB,
    spec: DatasetSpec,
    *,
    pipeline: Any = None,
    transform: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Dataset:
    """Build a training set from MinDB.

    Parameters
    ----------
    db : MinDB
    spec : DatasetSpec
        Use `DatasetSpec.from_pipeline` when a preprocessing pipeline is given.
    pipeline : sklearn Pipeline, optional
        Preprocessing starting with ``ToGrid``; its grid must be the spec's and its JSON the
        spec's ``preprocessing``. Spectra are resampled here and the later steps applied.
    transform : callable, optional
        Any other ``transform(X, grid) -> X`` applied after resampling; describe it in
        ``spec.preprocessing`` so that the version reflects it.
    """
    if pipeline is not None:
        from lithoscope.spectra.preprocessing import pipeline_to_dict

        if transform is not None:
            raise InputError("give either pipeline or transform, not both")
        if spec.preprocessing != pipeline_to_dict(pipeline):
            raise InputError(
                "the dataset spec does not record this pipeline; build the spec with "
                "DatasetSpec.from_pipeline(pipeline)"
            )
        rest = pipeline[1:]

        def transform(X: np.ndarray, grid: np.ndarray) -> np.ndarray:
            return rest.transform(X) if len(rest.steps) else X

    # Species-linked spectra only: a spectrum linked to a group (species left open) has no
    # species label to learn.
    stored = db.spectra_arrays(method=spec.method, laser_nm=spec.lasers, linked_only=True)
    rows = list(zip(stored.axes, stored.intensities, stored.metadata, strict=True))
    counts = Counter(meta["mineral"] for _, _, meta in rows)
    keep = [r for r in rows if counts[r[2]["mineral"]] >= spec.min_spectra_per_mineral]
    if not keep:
        raise InputError(
            f"MinDB holds no {spec.method} spectra with >= {spec.min_spectra_per_mineral} per "
            "mineral; run 'lithoscope data ingest' first or lower the minimum"
        )
    from lithoscope.spectra.preprocessing import to_grid  # the resampler of every pipeline

    grid = np.asarray(spec.grid)
    X = np.empty((len(keep), grid.size))
    for i, (axis, y, _) in enumerate(keep):
        X[i] = to_grid(y, axis, grid=grid, outside=spec.outside)
    if transform is not None:
        X = np.asarray(transform(X, grid), dtype=np.float64)
    metas = [meta for _, _, meta in keep]
    y = np.array([m["mineral"] for m in metas], dtype=object)
    groups = np.array([m["group"] for m in metas], dtype=object)
    digest = hashlib.sha256()
    digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    for m in sorted(metas, key=lambda m: m["checksum"]):
        digest.update(f"{m['checksum']}\t{m['mineral']}\n".encode())
    method = Method(spec.method)
    collection = SpectralCollection(grid, X, method, DEFAULT_UNIT[method], metas)
    info = {
        "n_spectra": len(keep),
        "n_minerals": len(set(y.tolist())),
        "n_groups": len(set(groups.tolist())),
    }
    return Dataset(collection, y, groups, digest.hexdigest()[:16], spec, info)


def grouped_split(
    y: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    test_size: float = 0.2,
    random_state: int = 0,
    seen_classes_only: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with no group (sample) on both sides.

    Groups are shuffled and assigned to test until ``test_size`` of the spectra are there. With
    ``seen_classes_only`` the test side keeps only minerals that also have a spectrum (from
    another sample) in train: the "unseen samples of known minerals" protocol.

    Returns
    -------
    (train_index, test_index) : tuple of numpy arrays
    """
    y_arr = np.asarray(y, dtype=object)
    g_arr = np.asarray(groups, dtype=object)
    if y_arr.shape != g_arr.shape:
        raise InputError(f"y and groups differ in length: {y_arr.size} vs {g_arr.size}")
    if not 0 < test_size < 1:
        raise InputError(f"test_size must be between 0 and 1, got {test_size}")
    rng = np.random.default_rng(random_state)
    unique = np.array(sorted(set(g_arr.tolist())), dtype=object)
    rng.shuffle(unique)
    target = test_size * y_arr.size
    test_groups: set[Any] = set()
    n_test = 0
    sizes = Counter(g_arr.tolist())
    for g in unique:
        if n_test >= target:
            break
        test_groups.add(g)
        n_test += sizes[g]
    in_test = np.array([g in test_groups for g in g_arr])
    train = np.flatnonzero(~in_test)
    test = np.flatnonzero(in_test)
    if seen_classes_only:
        seen = set(y_arr[train].tolist())
        test = np.array([i for i in test if y_arr[i] in seen], dtype=int)
    return train, test
