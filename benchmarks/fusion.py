"""Fusion of Raman, infrared and LIBS: every strategy on every method subset, one grouped split.

Usage:
    python benchmarks/fusion.py [--mirror ../shared/data] [--raman-model library|cnn|ensemble]
                                [--folds 5] [--libs-refs 3] [--epochs 40] [--no-intermediate]
                                [--check-candidates 100] [--check-tuning 300] [--jobs 2]
                                [--seed 0] [--cache DIR]
                                [--data-dir DIR] [--evaluate test|validation]

Data (a temporary MinDB filled from the mirror, as benchmarks/identification.py):
  * a *sample* is one RRUFF sample id and mineral with Raman and/or infrared spectra;
  * its LIBS spectrum is simulated (`lithoscope.physics.libs.simulate_random`, handheld preset,
    randomised temperature, electron density, self-absorption, continuum, resolution,
    wavelength offset and noise; one shot, a seed per sample) from the sample's measured
    chemistry (RRUFF microprobe formula) or, when there is none or it cannot be read, from
    its MinDB formula;
  * one *measurement* per sample: one of its Raman spectra and one of its infrared spectra
    (drawn with a fixed seed; either may be missing) and its LIBS spectrum.
Split by sample: the RRUFF sample ids that `grouped_split` (20 %, seed 0) holds out of the Raman
spectra (the split of benchmarks/identification.py and benchmarks/consistency.py, whose
consistency constants were set on its training side) and 20 % of the ids with infrared only.
Test samples are those whose mineral has a training sample; the others are the "novel" set of
the unknown-detection AUROC. Nothing is tuned on test: per method pattern (the methods a
measurement has), the late-fusion weights, the early-fusion weights and temperature, the stacker
and, per strategy, the strength of the consistency check are chosen on out-of-fold predictions
of the training samples (grouped K-fold, every model refitted without the fold; the check on
``--check-tuning`` of them); conformal sets are calibrated on the out-of-fold fused
probabilities of 20 % of the training samples kept out of that tuning. The final models are
fitted on all training samples. ``--evaluate validation`` replaces the test samples by a
validation split carved from the training side (for development).

Models (each accepts any subset of methods):
  single     Raman and infrared: `make_model` (library search by default); LIBS: a library
             search on spectra simulated from the MinDB formula of every training mineral
             (``--libs-refs`` random conditions each, other seeds than the samples' LIBS);
  early      `EarlyFusionSearch`: library search on the concatenated per-method feature blocks
             (each of unit length, zeros where a method is missing), cosine over the query's
             methods; references: every measurement of the training samples and the LIBS
             references;
  intermediate  one encoder per method (Keras 3; dense, on square-root, pooled, unit-length
             spectra), the mean of the measured methods' embeddings, one shared cosine-softmax
             head, modality dropout in training (each measured method dropped with p = 0.3);
             trained on the same measurements as the early references;
  late       `late_fusion` product of experts with equal weights and with weights chosen out of
             fold (`fit_fusion_weights`); stacking (`StackedFusion`: a conditional logit over the
             candidates of every method, trained on every subset of the methods);
  + check    each strategy's ``--check-candidates`` (100) best candidates re-ranked (`rerank`)
             by the stoichiometric consistency of their MinDB formula with the elements
             `detect_elements` finds in the LIBS spectrum (`lithoscope.physics.consistency`);
             "check only" uses LIBS for the check alone (the fused answer of the other methods,
             re-ranked).
Reported per method subset, on the test samples that have those methods: top-1 and top-3 of
each strategy (with and without the check) and of the best single method on the same samples;
the out-of-fold ranking of the strategies (the best there is the one held to the targets); why
the remaining errors happen; conformal coverage and set size (LAC) and the unknown AUROC
(score 1 - max p) of the fused output as measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
import warnings
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations, product
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
METHODS = ("raman", "ir", "libs")
SUBSETS = [s for r in (1, 2, 3) for s in combinations(METHODS, r)]
LABEL = {"raman": "Raman", "ir": "IR", "libs": "LIBS"}
console = Console(width=220)


def subset_name(subset: Sequence[str]) -> str:
    return "+".join(LABEL[m] for m in subset)


def log(message: str, t0: float) -> None:
    console.print(f"[{time.perf_counter() - t0:6.0f} s] {message}")


# ------------------------------------------------------------------------------ samples
@dataclass
class Samples:
    """RRUFF samples (sample id, mineral) with their spectra rows per method."""

    y: np.ndarray  # mineral per sample
    groups: np.ndarray  # RRUFF sample id (split key)
    rows: dict[str, list[np.ndarray]]  # per method, per sample: rows of that method's dataset
    composition: list[str]  # what its LIBS is simulated from
    chemistry: np.ndarray  # 'measured' or 'formula'

    def __len__(self) -> int:
        return int(self.y.size)

    def has(self, method: str) -> np.ndarray:
        return np.array([r.size > 0 for r in self.rows[method]])


def collect_samples(datasets: Mapping[str, object], formulas: Mapping[str, str]) -> Samples:
    """One entry per (RRUFF sample id, mineral) over the Raman and infrared datasets."""
    from lithoscope.errors import FormulaError
    from lithoscope.mindb.chemistry import parse_formula

    index: dict[tuple[str, str], int] = {}
    keys: list[tuple[str, str]] = []
    rows: dict[str, dict[int, list[int]]] = {m: defaultdict(list) for m in datasets}
    chem: dict[int, str] = {}
    for method, ds in datasets.items():
        for i, (mineral, group, meta) in enumerate(
            zip(ds.y, ds.groups, ds.collection.metadata, strict=True)
        ):
            key = (str(group), str(mineral))
            if key not in index:
                index[key] = len(keys)
                keys.append(key)
            s = index[key]
            rows[method][s].append(i)
            if meta.get("measured_chemistry") and s not in chem:
                chem[s] = meta["measured_chemistry"]
    composition, source = [], []
    for s, (_, mineral) in enumerate(keys):
        text = chem.get(s)
        if text:
            try:
                parse_formula(text)
                composition.append(text)
                source.append("measured")
                continue
            except FormulaError:
                pass  # 'light phase: ...; darker phase: ...' and other free text
        composition.append(formulas[mineral])
        source.append("formula")
    return Samples(
        y=np.array([k[1] for k in keys]),
        groups=np.array([k[0] for k in keys]),
        rows={
            m: [np.array(rows[m].get(s, []), dtype=int) for s in range(len(keys))] for m in datasets
        },
        composition=composition,
        chemistry=np.array(source),
    )


# ------------------------------------------------------------------------------ LIBS
_ATOMIC = None


def _seed(*parts: object) -> np.random.SeedSequence:
    return np.random.SeedSequence([zlib.crc32(str(p).encode()) for p in parts])


def _simulate(job: tuple[str, int, int, str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(preprocessed (n, grid), raw (n, axis)) of ``n`` random LIBS shots, or (None, None)."""
    from lithoscope.errors import LithoscopeError
    from lithoscope.physics.libs import simulate_random
    from lithoscope.spectra.preprocessing import make_preset

    composition, n, base_seed, name = job
    try:
        sims = simulate_random(
            composition,
            n,
            preset="handheld",
            random_state=np.random.default_rng(_seed(base_seed, name)),
            atomic=_ATOMIC,
        )
    except LithoscopeError:
        return None, None  # a formula without elements that have lines in the atomic data
    spectra = [s.spectrum for s in sims]
    X = make_preset("libs").fit_transform(spectra)
    raw = np.vstack([s.intensities for s in spectra])
    return X.astype(np.float32), raw.astype(np.float32)


def _pool(jobs: int) -> ProcessPoolExecutor | None:
    import multiprocessing

    if jobs <= 1:
        return None
    # fork: the workers share the atomic data loaded here; nothing of JAX is loaded yet
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))


def run_jobs(fn: Callable, jobs: list, n_jobs: int) -> list:
    pool = _pool(n_jobs)
    if pool is None:
        return [fn(j) for j in jobs]
    with pool:
        return list(pool.map(fn, jobs, chunksize=8))


def simulate_libs(
    samples: Samples,
    classes: Sequence[str],
    formulas: Mapping[str, str],
    *,
    n_refs: int,
    seed: int,
    n_jobs: int,
    cache: Path | None,
    atomic: object,
) -> dict[str, np.ndarray]:
    """LIBS of every sample (one shot) and ``n_refs`` reference shots of every class."""
    global _ATOMIC
    from lithoscope.physics.libs import get_preset

    sample_jobs = [
        (c, 1, seed, f"sample|{g}|{y}")
        for c, g, y in zip(samples.composition, samples.groups, samples.y, strict=True)
    ]
    ref_jobs = [(formulas[c], n_refs, seed + 1, f"reference|{c}") for c in classes]
    key = hashlib.sha256(json.dumps([sample_jobs, ref_jobs]).encode()).hexdigest()[:16]
    path = None if cache is None else cache / f"fusion-libs-{key}.npz"
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    _ATOMIC = atomic
    out_s = run_jobs(_simulate, sample_jobs, n_jobs)
    out_r = run_jobs(_simulate, ref_jobs, n_jobs)
    grid_width = next(x for x, _ in out_s if x is not None).shape[1]
    axis = get_preset("handheld").axis()
    X = np.full((len(samples), grid_width), np.nan, dtype=np.float32)
    raw = np.full((len(samples), axis.size), np.nan, dtype=np.float32)
    for i, (x, r) in enumerate(out_s):
        if x is not None:
            X[i], raw[i] = x[0], r[0]
    ref_X, ref_y = [], []
    for c, (x, _) in zip(classes, out_r, strict=True):
        if x is not None:
            ref_X.append(x)
            ref_y.extend([c] * x.shape[0])
    result = {
        "X": X,
        "raw": raw,
        "axis": axis,
        "ref_X": np.vstack(ref_X),
        "ref_y": np.array(ref_y),
    }
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **result)
    return result


# ------------------------------------------------------------------------------ models
@dataclass
class Data:
    """Everything the models read: the samples, each method's spectra, LIBS, the choices."""

    samples: Samples
    spectra: dict[str, np.ndarray]  # raman, ir: (n_rows, grid); libs: (n_samples, grid)
    labels: dict[str, np.ndarray]  # raman, ir: mineral per row
    row_groups: dict[str, np.ndarray]  # raman, ir: sample id per row
    axes: dict[str, np.ndarray]
    libs_refs: tuple[np.ndarray, np.ndarray]  # (X, mineral) simulated from MinDB formulas
    pick: dict[str, np.ndarray]  # per method and sample: the row of its measurement (-1: none)
    raman_model: str

    def blocks(self, idx: np.ndarray, subset: Sequence[str] = METHODS) -> dict[str, np.ndarray]:
        """Spectra of the measurements of samples ``idx`` (NaN rows: not measured)."""
        out = {}
        for m in subset:
            if m == "libs":
                out[m] = self.spectra["libs"][idx]
            else:
                out[m] = take(self.spectra[m], self.pick[m][idx])
        return out


def take(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``X[rows]`` with NaN rows where ``rows`` is -1."""
    out = np.full((rows.size, X.shape[1]), np.nan, dtype=np.float64)
    ok = rows >= 0
    out[ok] = X[rows[ok]]
    return out


def library_params(method: str) -> dict:
    """Feature parameters of the method's library search (`correlation_features` keywords)."""
    from lithoscope.models.kinds import METHOD_DEFAULTS
    from lithoscope.models.library import LibrarySearch

    return LibrarySearch(**METHOD_DEFAULTS.get(("library", method), {})).feature_params()


def fit_single(data: Data, method: str, train: np.ndarray):
    """The single-method model of ``method`` fitted on the training samples ``train``."""
    from lithoscope.models.kinds import make_model
    from lithoscope.models.library import LibrarySearch

    if method == "libs":
        X, y = data.libs_refs
        keep = np.isin(y, np.unique(data.samples.y[train]))
        # each reference its own group: its other random conditions stay in the temperature fit
        return LibrarySearch(axis=data.axes["libs"]).fit(
            X[keep], y[keep], groups=np.arange(int(keep.sum()))
        )
    rows = np.concatenate([data.samples.rows[method][s] for s in train])
    kind = data.raman_model if method == "raman" else "library"
    model = make_model(kind, method=method, axis=data.axes[method])
    return model.fit(
        data.spectra[method][rows], data.labels[method][rows], groups=data.row_groups[method][rows]
    )


def early_references(data: Data, train: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """Measurements of the training samples (each Raman spectrum with the sample's infrared
    spectra in turn and its LIBS) plus the LIBS references of their minerals (LIBS only)."""
    r_rows, i_rows, l_rows, y, groups = [], [], [], [], []
    for s in train:
        rr, ii = data.samples.rows["raman"][s], data.samples.rows["ir"][s]
        for k in range(max(rr.size, ii.size, 1)):
            r_rows.append(rr[k % rr.size] if rr.size else -1)
            i_rows.append(ii[k % ii.size] if ii.size else -1)
            l_rows.append(s)
            y.append(data.samples.y[s])
            groups.append(data.samples.groups[s])
    X_ref, y_ref = data.libs_refs
    keep = np.flatnonzero(np.isin(y_ref, np.unique(data.samples.y[train])))
    n = len(y)
    blocks = {
        "raman": take(data.spectra["raman"], np.r_[np.array(r_rows), np.full(keep.size, -1)]),
        "ir": take(data.spectra["ir"], np.r_[np.array(i_rows), np.full(keep.size, -1)]),
        "libs": np.vstack([data.spectra["libs"][np.array(l_rows)], X_ref[keep]]),
    }
    y_all = np.r_[np.array(y), y_ref[keep]]
    g_all = np.r_[np.array(groups), np.array([f"libs-reference-{i}" for i in keep])]
    assert blocks["raman"].shape[0] == n + keep.size
    return blocks, y_all, g_all


@dataclass
class Predictions:
    """Outputs of the models fitted on some samples for the measurements of others."""

    idx: np.ndarray  # the query samples
    proba: dict[str, np.ndarray]  # per method, over `classes`; NaN rows: not measured
    known: dict[str, np.ndarray]  # per method: which of `classes` its model knows
    early: object  # EarlyFusionSearch
    early_features: object  # BlockFeatures of the queries
    early_sims: dict[str, np.ndarray]

    def rows(self, keep: np.ndarray) -> Predictions:
        """The predictions of the query rows ``keep`` (boolean mask or indices)."""
        keep = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return Predictions(
            self.idx[keep],
            {m: P[keep] for m, P in self.proba.items()},
            self.known,
            self.early,
            self.early_features.take(keep),
            {m: S[keep] for m, S in self.early_sims.items()},
        )


def predict_all(data: Data, train: np.ndarray, query: np.ndarray, classes: np.ndarray):
    """Fit every single-method model and the early-fusion search on ``train``; predict ``query``."""
    from lithoscope.models.fusion import EarlyFusionSearch, align_proba, block_similarities

    proba, known = {}, {}
    for method in METHODS:
        model = fit_single(data, method, train)
        known[method] = np.isin(classes, model.classes_)
        P = np.full((query.size, classes.size), np.nan)
        X = data.blocks(query, (method,))[method]
        ok = ~np.isnan(X).any(axis=1)
        if ok.any():
            P[ok] = align_proba(model.classes_, model.predict_proba(X[ok]), classes)
        proba[method] = P
    blocks, y, groups = early_references(data, train)
    early = EarlyFusionSearch(
        feature_params={m: library_params(m) for m in METHODS}, temperature=0.02
    ).fit(blocks, y, groups=groups)
    feats = early.features(data.blocks(query))
    return Predictions(
        query, proba, known, early, feats, block_similarities(feats, early.references_)
    )


# ------------------------------------------------------------------------------ strategies
def early_scores(pred: Predictions, subset: Sequence[str], weights, classes: np.ndarray):
    """Early-fusion class scores over ``classes`` (-1 for minerals it does not know)."""
    from lithoscope.models.fusion import _index

    scores = pred.early.class_scores(
        pred.early_features.only(subset), weights=weights, similarities=pred.early_sims
    )
    out = np.full((scores.shape[0], classes.size), -1.0)
    out[:, _index(classes, pred.early.classes_.astype(str))] = scores
    return out


@dataclass
class Tuned:
    """Everything chosen on out-of-fold predictions of the training samples, per method
    pattern (the methods a measurement has) where it matters."""

    late_weights: dict[tuple[str, ...], dict[str, float]]
    stacker: object
    early_weights: dict[tuple[str, ...], dict[str, float]]
    early_temperature: dict[tuple[str, ...], float]
    strength: dict[str, float] = field(default_factory=dict)
    best: str = "late (weighted)"  # the strategy with the best out-of-fold top-1 (+check)


def patterns(pred: Predictions, subset: Sequence[str]) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """Rows grouped by the methods of ``subset`` they have: [(pattern, row indices), ...]."""
    have = np.column_stack([~np.isnan(pred.proba[m]).any(axis=1) for m in subset])
    out = []
    for key in sorted({tuple(r) for r in have.tolist()}):
        pattern = tuple(m for m, ok in zip(subset, key, strict=True) if ok)
        if pattern:
            out.append((pattern, np.flatnonzero((have == key).all(axis=1))))
    return out


def fused(
    pred: Predictions, subset: Sequence[str], tuned: Tuned, classes: np.ndarray
) -> dict[str, np.ndarray]:
    """Fused probabilities (rows: ``pred.idx``) of every strategy that fuses ``subset``;
    weights and temperatures are those chosen for each row's pattern of methods."""
    from lithoscope.models.fusion import late_fusion
    from lithoscope.models.scoring import softmax

    names = ("early (library)", "late (equal)", "late (weighted)")
    out = {n: np.zeros((pred.idx.size, classes.size)) for n in names}
    for pattern, rows in patterns(pred, subset):
        sub = pred.rows(rows)
        parts = {m: (classes, sub.proba[m]) for m in pattern}
        scores = early_scores(sub, pattern, tuned.early_weights.get(pattern), classes)
        out["early (library)"][rows] = softmax(scores, tuned.early_temperature.get(pattern, 0.02))
        out["late (equal)"][rows] = late_fusion(parts, classes=classes)[1]
        out["late (weighted)"][rows] = late_fusion(
            parts, weights=tuned.late_weights.get(pattern), classes=classes
        )[1]
    out["late (stacking)"] = tuned.stacker.predict_proba(
        stack_parts(pred, subset, classes), classes=classes
    )[1]
    return out


def stack_parts(pred: Predictions, subset: Sequence[str], classes: np.ndarray, blank=None):
    """Each method's probabilities over the classes its model knows (rows in ``blank``: NaN)."""
    out = {}
    for j, m in enumerate(subset):
        P = pred.proba[m][:, pred.known[m]]
        if blank is not None:
            P = P.copy()
            P[blank[:, j]] = np.nan
        out[m] = (classes[pred.known[m]], P)
    return out


def topk_hits(proba: np.ndarray, true: np.ndarray, k: int) -> np.ndarray:
    """Whether each row's true class (index into the columns) is among its k most probable."""
    p_true = proba[np.arange(true.size), true]
    rank = 1 + np.sum(proba > p_true[:, None], axis=1)
    return rank <= k


def tune(oof: list[Predictions], data: Data, classes: np.ndarray, t0: float) -> Tuned:
    """Weights, the stacker and the early temperature from out-of-fold predictions."""
    from lithoscope.models.fusion import StackedFusion, _index, fit_fusion_weights
    from lithoscope.models.scoring import fit_temperature

    y = np.concatenate([data.samples.y[p.idx] for p in oof])
    proba = {m: np.vstack([p.proba[m] for p in oof]) for m in METHODS}
    late_weights = {}
    for subset in SUBSETS:
        rows = np.all([~np.isnan(proba[m]).any(axis=1) for m in subset], axis=0)
        late_weights[subset] = fit_fusion_weights(
            {m: (classes, proba[m][rows]) for m in subset}, y[rows]
        )
    log(
        "late-fusion weights (out of fold): "
        + "; ".join(f"{subset_name(k)} {v}" for k, v in late_weights.items() if len(k) > 1),
        t0,
    )

    # the stacker meets every subset of each sample's measured methods, one chunk per fold
    chunks, labels = [], []
    for p in oof:
        measured = np.column_stack([~np.isnan(p.proba[m]).any(axis=1) for m in METHODS])
        rows, blanks = [], []
        for subset in SUBSETS:
            keep = np.flatnonzero(measured[:, [METHODS.index(m) for m in subset]].all(axis=1))
            rows.append(keep)
            blanks.append(np.repeat([[m not in subset for m in METHODS]], keep.size, axis=0))
        rows_all = np.concatenate(rows)
        chunks.append(stack_parts(p.rows(rows_all), METHODS, classes, np.vstack(blanks)))
        labels.append(data.samples.y[p.idx[rows_all]])
    stacker = StackedFusion().fit(chunks, labels)
    log(
        "stacker (out of fold, "
        f"{stacker.n_fit_} rows): "
        + ", ".join(
            f"{n} {c:+.2f}" for n, c in zip(stacker.feature_names_, stacker.coef_, strict=True)
        ),
        t0,
    )

    grid = (0.25, 0.5, 1.0, 2.0, 4.0)
    early_weights, early_temperature = {}, {}
    for subset in SUBSETS:
        chosen = [
            p.rows(np.all([~np.isnan(p.proba[m]).any(axis=1) for m in subset], axis=0)) for p in oof
        ]
        truth = [_index(classes, data.samples.y[p.idx]) for p in chosen]
        best = None
        for w_rest in product(grid, repeat=len(subset) - 1):
            w = dict(zip(subset, (1.0, *w_rest), strict=True))
            hits = np.concatenate(
                [
                    topk_hits(early_scores(p, subset, w, classes), t, 1)
                    for p, t in zip(chosen, truth, strict=True)
                ]
            )
            if best is None or hits.mean() > best[0] + 1e-9:
                best = (float(hits.mean()), w)
        early_weights[subset] = best[1]
        scores = np.vstack([early_scores(p, subset, best[1], classes) for p in chosen])
        early_temperature[subset] = fit_temperature(scores, np.concatenate(truth))
    log(
        "early-fusion weights (out of fold): "
        + "; ".join(f"{subset_name(k)} {v}" for k, v in early_weights.items() if len(k) > 1),
        t0,
    )
    return Tuned(late_weights, stacker, early_weights, early_temperature)


# ------------------------------------------------------------------------------ intermediate
#: per method: points averaged (Raman, IR) or maximised (LIBS: narrow lines) into one input
POOL = {"raman": ("mean", 1), "ir": ("mean", 2), "libs": ("max", 5)}


def network_inputs(blocks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Square-root intensities, pooled, each row of unit length; zeros and a 0 flag if missing."""
    out, present = {}, []
    for m in METHODS:
        X = np.asarray(blocks[m], dtype=np.float64)
        ok = ~np.isnan(X).any(axis=1)
        A = np.sqrt(np.clip(np.where(ok[:, None], X, 0.0), 0.0, None))
        how, k = POOL[m]
        if k > 1:
            n = A.shape[1] - A.shape[1] % k
            A = A[:, :n].reshape(A.shape[0], -1, k)
            A = A.max(axis=2) if how == "max" else A.mean(axis=2)
        norm = np.linalg.norm(A, axis=1, keepdims=True)
        ok &= norm[:, 0] > 0
        out[m] = np.where(ok[:, None], A / np.where(norm > 0, norm, 1.0), 0.0).astype(np.float32)
        present.append(ok)
    out["present"] = np.column_stack(present).astype(np.float32)
    return out


def build_network(dims: Mapping[str, int], n_classes: int, *, seed: int = 0):
    """One encoder per method, masked mean of the measured methods, a shared cosine head."""
    import keras
    from keras import ops

    from lithoscope.models.keras.layers import CosineProxies

    class FuseMethods(keras.layers.Layer):
        """Mean of the embeddings of the measured methods; in training, each measured method
        is dropped with probability ``rate`` (at least one kept: modality dropout)."""

        def __init__(self, rate: float = 0.3, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.rate = float(rate)
            self.seed = seed
            self.generator = keras.random.SeedGenerator(seed)

        def call(self, embeddings, present, training=None):
            mask = present
            if training and self.rate > 0:
                u = keras.random.uniform(ops.shape(present), seed=self.generator)
                kept = mask * ops.cast(u >= self.rate, mask.dtype)
                # a row that lost every method keeps its first measured one
                first = ops.one_hot(ops.argmax(mask, axis=1), ops.shape(mask)[1], dtype=mask.dtype)
                none = ops.cast(ops.sum(kept, axis=1, keepdims=True) == 0, mask.dtype)
                mask = kept + none * first
            z = ops.stack(embeddings, axis=1)  # (batch, methods, dim)
            total = ops.sum(z * mask[:, :, None], axis=1)
            return total / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)

        def get_config(self):
            return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    inputs = {m: keras.Input((dims[m],), name=m) for m in METHODS}
    inputs["present"] = keras.Input((len(METHODS),), name="present")
    embeddings = []
    for j, m in enumerate(METHODS):
        h = keras.layers.Dense(256, activation="gelu", name=f"{m}_hidden")(inputs[m])
        h = keras.layers.Dropout(0.2, seed=seed + j)(h)
        embeddings.append(keras.layers.Dense(128, name=f"{m}_embedding")(h))
    z = FuseMethods(0.3, seed=seed, name="fuse")(embeddings, inputs["present"])
    z = keras.layers.UnitNormalization()(z)
    logits = keras.layers.Rescaling(16.0)(CosineProxies(n_classes, seed=seed, name="head")(z))
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def fit_network(data: Data, train: np.ndarray, classes: np.ndarray, *, epochs: int, seed: int = 0):
    """The intermediate-fusion network trained on the training samples' measurements."""
    import keras

    from lithoscope.models.fusion import _index

    keras.utils.set_random_seed(seed)
    blocks, y, _ = early_references(data, train)
    inputs = network_inputs(blocks)
    model = build_network({m: inputs[m].shape[1] for m in METHODS}, classes.size, seed=seed)
    model.fit(inputs, _index(classes, y), epochs=epochs, batch_size=128, verbose=0, shuffle=True)
    return model


def network_proba(model, data: Data, idx: np.ndarray, subset: Sequence[str]) -> np.ndarray:
    """Softmax of the network's logits for samples ``idx`` measured with ``subset`` only."""
    from lithoscope.models.scoring import softmax

    blocks = data.blocks(idx)
    for m in METHODS:
        if m not in subset:
            blocks[m] = np.full_like(blocks[m], np.nan)
    logits = np.asarray(model.predict(network_inputs(blocks), batch_size=512, verbose=0))
    return softmax(logits, 1.0)


# ------------------------------------------------------------------------------ consistency
def _detect(raw: np.ndarray):
    from lithoscope.physics.libs import detect_elements
    from lithoscope.spectra.spectrum import Spectrum

    return detect_elements(Spectrum(_AXIS, raw, method="libs"), atomic=_ATOMIC)


_AXIS = None


@dataclass
class _Detected:
    """The detected elements of one spectrum (what `ChemistryEvidence.from_detection` reads)."""

    elements: list


class Checker:
    """Stoichiometric consistency of candidates with the elements LIBS detects in a sample."""

    def __init__(self, data: Data, raw: np.ndarray, axis: np.ndarray, formulas, classes, k: int):
        self.data, self.raw, self.axis = data, raw, axis
        self.formulas, self.classes, self.k = formulas, classes, k
        self.evidence: dict[int, object] = {}
        self.cache: dict[tuple[int, int], float] = {}

    def detect(self, idx: np.ndarray, n_jobs: int, cache: Path | None = None) -> None:
        """Detect the elements of the LIBS spectra of samples ``idx`` (those not done yet).

        With ``cache``, the detected elements (symbol, confidence, ratio, ambient) are kept in
        a JSON file named by the spectra's checksum and reused.
        """
        global _AXIS
        from lithoscope.physics._libs_detect import DetectedElement
        from lithoscope.physics.consistency import ChemistryEvidence

        todo = [int(s) for s in idx if int(s) not in self.evidence]
        todo = [s for s in todo if np.isfinite(self.raw[s]).all()]
        stored: dict[str, list] = {}
        path = None
        if cache is not None:
            path = cache / "fusion-detected.json"
            if path.exists():
                stored = json.loads(path.read_text())
        keys = {s: hashlib.sha256(self.raw[s].tobytes()).hexdigest()[:20] for s in todo}
        missing = [s for s in todo if keys[s] not in stored]
        _AXIS = self.axis
        found = run_jobs(_detect, [self.raw[s].astype(np.float64) for s in missing], n_jobs)
        for s, detection in zip(missing, found, strict=True):
            stored[keys[s]] = [
                [e.element, float(e.confidence), e.ratio, bool(e.ambient)]
                for e in detection.elements
            ]
        if path is not None and missing:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored))
        for s in todo:
            elements = [
                DetectedElement(el, conf, ratio, ambient=amb)
                for el, conf, ratio, amb in stored[keys[s]]
            ]
            self.evidence[s] = ChemistryEvidence.from_detection(_Detected(elements))

    def scores(self, idx: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """Consistency score of each row's ``k`` most probable candidates (NaN elsewhere)."""
        from lithoscope.errors import FormulaError
        from lithoscope.physics.consistency import check_consistency

        out = np.full(proba.shape, np.nan)
        top = np.argpartition(-proba, min(self.k, proba.shape[1]) - 1, axis=1)[:, : self.k]
        for r, (s, cands) in enumerate(zip(idx.tolist(), top, strict=True)):
            evidence = self.evidence.get(s)
            if evidence is None:
                continue
            for c in cands.tolist():
                key = (s, c)
                if key not in self.cache:
                    try:
                        value = check_consistency(self.formulas[self.classes[c]], evidence).score
                    except FormulaError:
                        value = np.nan  # a formula the chemistry engine cannot read: not judged
                    self.cache[key] = value
                out[r, c] = self.cache[key]
        return out

    def apply(self, idx: np.ndarray, proba: np.ndarray, strength: float) -> np.ndarray:
        from lithoscope.physics.consistency import rerank

        if strength == 0:
            return proba
        return rerank(proba, self.scores(idx, proba), strength=strength)


def consistency_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("lithoscope.physics.consistency") is not None


# ------------------------------------------------------------------------------ main
def sample_split(samples: Samples, raman, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and test samples: the RRUFF sample ids that `grouped_split` (20 %, ``seed``)
    holds out of the Raman spectra (the split of benchmarks/identification.py and
    benchmarks/consistency.py, whose consistency constants come from its training side), and
    20 % of the sample ids that only have infrared spectra, split the same way."""
    from lithoscope.data.datasets import grouped_split

    groups_r = raman.groups.astype(str)
    _, test_r = grouped_split(
        raman.y.astype(str), groups_r, test_size=0.2, random_state=seed, seen_classes_only=False
    )
    held = set(groups_r[test_r].tolist())
    ir_only = np.flatnonzero(~np.isin(samples.groups, groups_r))
    _, test_i = grouped_split(
        samples.y[ir_only],
        samples.groups[ir_only],
        test_size=0.2,
        random_state=seed,
        seen_classes_only=False,
    )
    held |= set(samples.groups[ir_only[test_i]].tolist())
    in_test = np.isin(samples.groups, list(held))
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def grouped_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number of every sample: whole RRUFF sample ids to one fold, shuffled."""
    unique = np.array(sorted(set(groups.tolist())))
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    fold_of = {g: i % k for i, g in enumerate(unique.tolist())}
    return np.array([fold_of[g] for g in groups.tolist()])


def strategies_of(
    pred: Predictions,
    subset: Sequence[str],
    tuned: Tuned,
    classes: np.ndarray,
    network=None,
    data: Data | None = None,
) -> dict[str, np.ndarray]:
    """Every strategy's probabilities for ``subset`` (single methods: the method's model)."""
    out = {}
    if len(subset) == 1:
        out["single model"] = pred.proba[subset[0]]
    out.update(fused(pred, subset, tuned, classes))
    if network is not None:
        out["intermediate (network)"] = network_proba(network, data, pred.idx, subset)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--raman-model", default="library", choices=("library", "cnn", "ensemble"))
    parser.add_argument("--folds", type=int, default=5, help="out-of-fold tuning folds")
    parser.add_argument("--libs-refs", type=int, default=3, help="LIBS references per mineral")
    parser.add_argument("--jobs", type=int, default=2, help="processes for LIBS simulation")
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--epochs", type=int, default=40, help="intermediate network epochs")
    parser.add_argument("--no-intermediate", action="store_true", help="skip the Keras network")
    parser.add_argument(
        "--check-candidates",
        type=int,
        default=100,
        help="candidates per sample whose formula the consistency check scores",
    )
    parser.add_argument(
        "--check-tuning",
        type=int,
        default=300,
        help="out-of-fold samples whose LIBS elements are detected to choose the strength",
    )
    parser.add_argument(
        "--evaluate",
        default="test",
        choices=("test", "validation"),
        help="validation: evaluate on a split carved from the training side (development)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="a lithoscope data folder whose MinDB already holds rruff-ima, -raman, -ir "
        "(default: a temporary one filled from the mirror)",
    )
    parser.add_argument(
        "--cache", default=None, help="folder for the simulated LIBS spectra (npz), reused"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    t0 = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = args.data_dir or tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.physics.libs import load_atomic_data
        from lithoscope.spectra.preprocessing import make_preset

        datasets, axes = {}, {}
        with connect() as db:
            if args.data_dir is None:
                db.build()
                for source in ("rruff-ima", "rruff-raman", "rruff-ir"):
                    ingest(db, source, mirror=args.mirror, progress=False)
                log("MinDB filled from the mirror", t0)
            for method in ("raman", "ir"):
                pipe = make_preset(method)
                datasets[method] = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
                axes[method] = np.asarray(datasets[method].axis)
            minerals = sorted(set(datasets["raman"].y.tolist()) | set(datasets["ir"].y.tolist()))
            formulas = {k: v["formula"] for k, v in db.summaries(minerals).items()}
        samples = collect_samples(datasets, formulas)
        both = samples.has("raman") & samples.has("ir")
        log(
            f"{len(samples)} samples ({samples.has('raman').sum()} with Raman, "
            f"{samples.has('ir').sum()} with IR, {both.sum()} with both); LIBS from measured "
            f"chemistry for {(samples.chemistry == 'measured').sum()}, else the MinDB formula",
            t0,
        )
        atomic = load_atomic_data(mirror=args.mirror)
        libs = simulate_libs(
            samples,
            minerals,
            formulas,
            n_refs=args.libs_refs,
            seed=1000,
            n_jobs=args.jobs,
            cache=None if args.cache is None else Path(args.cache),
            atomic=atomic,
        )
        axes["libs"] = np.asarray(make_preset("libs").steps[0][1].grid)
        log(
            f"LIBS simulated: {np.isfinite(libs['X'][:, 0]).sum()} samples, "
            f"{libs['ref_X'].shape[0]} references of {np.unique(libs['ref_y']).size} minerals",
            t0,
        )

        rng = np.random.default_rng(0)
        pick = {
            m: np.array([rng.choice(r) if r.size else -1 for r in samples.rows[m]])
            for m in ("raman", "ir")
        }
        data = Data(
            samples=samples,
            spectra={
                "raman": datasets["raman"].X,
                "ir": datasets["ir"].X,
                "libs": libs["X"].astype(np.float64),
            },
            labels={m: datasets[m].y.astype(str) for m in ("raman", "ir")},
            row_groups={m: datasets[m].groups.astype(str) for m in ("raman", "ir")},
            axes=axes,
            libs_refs=(libs["ref_X"].astype(np.float64), libs["ref_y"].astype(str)),
            pick=pick,
            raman_model=args.raman_model,
        )

        y, g = samples.y, samples.groups
        train, test_all = sample_split(samples, datasets["raman"], args.seed)
        if args.evaluate == "validation":
            inner, val = grouped_split(
                y[train], g[train], test_size=0.2, random_state=101, seen_classes_only=False
            )
            train, test_all = train[inner], train[val]
        classes = np.unique(y[train])
        known = np.isin(y[test_all], classes)
        log(
            f"split: {train.size} training samples, {known.sum()} {args.evaluate} samples of "
            f"known minerals, {(~known).sum()} of minerals without a training sample",
            t0,
        )

        # out-of-fold predictions of the training samples
        folds = grouped_folds(g[train], args.folds, seed=1)
        cal_groups = grouped_folds(g[train], 5, seed=2) == 0  # 20 % of samples: conformal
        oof_fit, oof_cal = [], []
        for k in range(args.folds):
            inside, held = train[folds != k], train[folds == k]
            seen = np.isin(y[held], np.unique(y[inside]))
            pred = predict_all(data, inside, held[seen], classes)
            in_cal = cal_groups[folds == k][seen]
            oof_fit.append(pred.rows(~in_cal))
            oof_cal.append(pred.rows(in_cal))
            log(f"fold {k + 1}/{args.folds}: {seen.sum()} out-of-fold samples", t0)
        tuned = tune(oof_fit, data, classes, t0)

        pred = predict_all(data, train, test_all, classes)
        log("final models fitted on all training samples", t0)
        network = None
        if not args.no_intermediate:
            network = fit_network(data, train, classes, epochs=args.epochs)
            log(f"intermediate network trained ({args.epochs} epochs)", t0)

        checker = None
        if consistency_available():
            checker = Checker(
                data, libs["raw"], libs["axis"], formulas, classes, k=args.check_candidates
            )
            pool = np.concatenate([p.idx for p in oof_fit])
            tuning = np.random.default_rng(3).choice(
                pool, size=min(args.check_tuning, pool.size), replace=False
            )
            checker.detect(
                np.r_[tuning, pred.idx[known]],
                args.jobs,
                None if args.cache is None else Path(args.cache),
            )
            log(f"LIBS elements detected in {len(checker.evidence)} samples", t0)
            tuned.strength = choose_strength(checker, oof_fit, tuning, tuned, classes, t0)
        else:
            log("lithoscope.physics.consistency is not there yet: no consistency columns", t0)

        rows = report(data, pred.rows(known), tuned, classes, checker, network, args)
        if checker is not None:
            report_errors(data, pred.rows(known), tuned, classes, checker, formulas, network)
        report_trust(data, pred, known, oof_cal, tuned, classes, network, args)
        log("done", t0)
        for line in rows:
            print(line)


CHECK_ONLY = "check only (no LIBS model)"


def without_libs(pred: Predictions, subset: Sequence[str], tuned: Tuned, classes) -> np.ndarray:
    """The fused answer of the methods of ``subset`` other than LIBS (what the check re-ranks
    when LIBS only gives elements)."""
    rest = tuple(m for m in subset if m != "libs")
    if len(rest) == 1:
        return pred.proba[rest[0]]
    return fused(pred, rest, tuned, classes)["late (weighted)"]


def choose_strength(checker, oof_fit, tuning, tuned, classes, t0) -> dict[str, float]:
    """Per strategy, the re-ranking strength with the best out-of-fold top-1 (as measured);
    prints the out-of-fold ranking of the strategies (what a default is chosen on)."""
    from lithoscope.models.fusion import _index

    chunks = [p.rows(np.isin(p.idx, tuning)) for p in oof_fit]
    chunks = [p for p in chunks if p.idx.size]
    answers = []
    for p in chunks:
        out = {"single Raman": p.proba["raman"]}
        out.update(fused(p, METHODS, tuned, classes))
        out[CHECK_ONLY] = without_libs(p, METHODS, tuned, classes)
        answers.append((p, out))
    table = Table(
        title=f"Validation: out-of-fold top-1 as measured ({sum(p.idx.size for p in chunks)} "
        "training samples; the strength of the check chosen here)"
    )
    for col in ("strategy", "top-1", "top-1 +check", "strength"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    strengths, ranking = {}, {}
    for strategy in answers[0][1]:
        best, plain = None, None
        for strength in (0.0, 0.25, 0.5, 1.0, 2.0):
            hits = []
            for p, out in answers:
                P = out[strategy]
                ok = ~np.isnan(P).any(axis=1)  # single Raman: samples with Raman
                Q = checker.apply(p.idx[ok], P[ok], strength)
                hits.append(topk_hits(Q, _index(classes, checker.data.samples.y[p.idx[ok]]), 1))
            score = float(np.concatenate(hits).mean())
            plain = score if strength == 0 else plain
            if best is None or score > best[0] + 1e-9:
                best = (score, strength)
        strengths[strategy] = best[1]
        ranking[strategy] = best[0]
        table.add_row(strategy, f"{plain:.3f}", f"{best[0]:.3f}", f"{best[1]:g}")
    console.print(table)
    ranking.pop("single Raman")
    tuned.best = max(ranking, key=ranking.get)
    log(f"consistency strengths chosen out of fold; best strategy there: {tuned.best}", t0)
    return strengths


def element_set(formula: str) -> frozenset[str]:
    """Elements of a formula that LIBS can judge (`LIBS_BLIND` left out)."""
    from lithoscope.errors import FormulaError
    from lithoscope.mindb.chemistry import parse_formula
    from lithoscope.physics.consistency import LIBS_BLIND

    try:
        return frozenset(e for e in parse_formula(formula).amounts if e not in LIBS_BLIND)
    except FormulaError:
        return frozenset()


def report_errors(data, pred, tuned, classes, checker, formulas, network) -> None:
    """Why the remaining errors of each strategy (as measured, with the check) happen."""
    from lithoscope.models.fusion import _index

    y = data.samples.y[pred.idx]
    true = _index(classes, y)
    knows = {m: pred.known[m][true] & ~np.isnan(pred.proba[m]).any(axis=1) for m in ("raman", "ir")}
    no_spectrum = ~(knows["raman"] | knows["ir"])
    table = Table(
        title="Remaining errors as measured, with the check: the true mineral has no reference "
        "spectrum in the measured methods / the answer has the same LIBS-visible elements / "
        "other elements"
    )
    for col in ("strategy", "errors", "no reference spectrum", "same elements", "other elements"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    results = strategies_of(pred, METHODS, tuned, classes, network, data)
    for strategy, P in results.items():
        strength = tuned.strength.get(strategy, tuned.strength["late (weighted)"])
        P = checker.apply(pred.idx, P, strength)
        wrong = np.flatnonzero(P.argmax(axis=1) != true)
        same = np.array(
            [
                element_set(formulas[classes[P[i].argmax()]]) == element_set(formulas[y[i]])
                for i in wrong
            ],
            dtype=bool,
        )
        gone = no_spectrum[wrong]
        table.add_row(
            strategy,
            str(wrong.size),
            str(int(gone.sum())),
            str(int((same & ~gone).sum())),
            str(int((~same & ~gone).sum())),
        )
    console.print(table)


def report(data, pred, tuned, classes, checker, network, args) -> list[str]:
    """Top-1 and top-3 of every strategy on every method subset; returns markdown rows."""
    from lithoscope.models.fusion import _index

    y = data.samples.y[pred.idx]
    true = _index(classes, y)
    measured = {m: ~np.isnan(pred.proba[m]).any(axis=1) for m in METHODS}
    check = checker is not None
    table = Table(title=f"Fusion on {args.evaluate} samples of known minerals (top-1 / top-3)")
    cols = ["methods", "n", "best single", "strategy", "top-1", "top-3"]
    if check:
        cols += ["top-1 +check", "top-3 +check"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("methods", "strategy") else "right")
    md, pivot, heads = [], [], {}
    for subset in [*SUBSETS, None]:
        if subset is None:  # every sample with what it has
            rows = np.ones(true.size, dtype=bool)
            name, subset, best = "as measured", METHODS, ""
        else:
            rows = np.all([measured[m] for m in subset], axis=0)
            name = subset_name(subset)
            singles = {m: topk_hits(pred.proba[m][rows], true[rows], 1).mean() for m in subset}
            best_m = max(singles, key=singles.get)
            best = f"{LABEL[best_m]} {singles[best_m]:.3f}"
        if not rows.any():
            continue
        sub = pred.rows(rows)
        results = strategies_of(sub, subset, tuned, classes, network, data)
        if check and "libs" in subset and len(subset) > 1:
            results[CHECK_ONLY] = without_libs(sub, subset, tuned, classes)
        table.add_section()
        cells_of = {}
        for strategy, P in results.items():
            t1 = topk_hits(P, true[rows], 1).mean()
            t3 = topk_hits(P, true[rows], 3).mean()
            cells = [name, str(int(rows.sum())), best, strategy, f"{t1:.3f}", f"{t3:.3f}"]
            if check:
                if ("libs" in subset and strategy != "single model") or subset == ("libs",):
                    strength = tuned.strength.get(strategy, tuned.strength["late (weighted)"])
                    Q = checker.apply(sub.idx, P, strength)
                    c1 = topk_hits(Q, true[rows], 1).mean()
                    c3 = topk_hits(Q, true[rows], 3).mean()
                    cells += [f"{c1:.3f}", f"{c3:.3f}"]
                else:
                    cells += ["", ""]
            table.add_row(*cells)
            md.append("| " + " | ".join(cells) + " |")
            cells_of[strategy] = f"{t1:.3f}" + (f" / {cells[6]}" if check and cells[6] else "")
            heads.setdefault(strategy, None)
        pivot.append((name, str(int(rows.sum())), best, cells_of))
    console.print(table)
    order = [h for h in heads if h != "single model"]
    compact = [
        "| methods | n | best single | " + " | ".join(order) + " |",
        "|---|---|---|" + "---|" * len(order),
    ]
    for name, n, best, cells_of in pivot:
        compact.append(
            f"| {name} | {n} | {best} | " + " | ".join(cells_of.get(h, "") for h in order) + " |"
        )
    for m in ("raman", "ir"):
        has = measured[m]
        knows = pred.known[m][true[has]]
        console.print(
            f"{LABEL[m]} model knows the mineral of {knows.sum()} of the {has.sum()} samples "
            f"measured with {LABEL[m]}; its top-1 there: "
            f"{topk_hits(pred.proba[m][has][knows], true[has][knows], 1).mean():.3f}"
        )
    for subset in (("raman", "ir"), ("raman", "ir", "libs")):
        rows = np.all([measured[m] for m in subset], axis=0)
        sub = pred.rows(rows)
        P = strategies_of(sub, subset, tuned, classes, network, data)[tuned.best]
        with_check = check and "libs" in subset  # the check reads the LIBS spectrum
        if with_check:
            P = checker.apply(sub.idx, P, tuned.strength.get(tuned.best, 0.0))
        single = max(topk_hits(pred.proba[m][rows], true[rows], 1).mean() for m in subset)
        t1 = topk_hits(P, true[rows], 1).mean()
        console.print(
            f"target {subset_name(subset)} ({rows.sum()} samples), {tuned.best}"
            f"{' +check' if with_check else ''} (best out of fold): top-1 {t1:.3f} "
            "(target >= 0.97), "
            f"{100 * (t1 - single):+.1f} points over the best single method {single:.3f} "
            "(target >= +3)"
        )
    header = [f"| {' | '.join(cols)} |", "|" + "---|" * len(cols)]
    note = ["", "top-1 (without / with the consistency check):", *compact, ""]
    return [*header, *md, *note]


def report_trust(data, pred, known, oof_cal, tuned, classes, network, args) -> None:
    """Conformal coverage and set size (LAC) and unknown AUROC of the fused output."""
    from lithoscope.models.fusion import _index
    from lithoscope.uncertainty import ConformalPredictor, auroc, coverage, mean_set_size

    test = pred.rows(known)
    novel = pred.rows(~known)
    true = _index(classes, data.samples.y[test.idx])
    cal_true = np.concatenate([_index(classes, data.samples.y[p.idx]) for p in oof_cal])
    table = Table(
        title=f"Fused output as measured: conformal sets (LAC, calibrated on "
        f"{cal_true.size} out-of-fold training samples) and unknown minerals "
        f"({novel.idx.size} {args.evaluate} samples of minerals without a training sample)"
    )
    for col in (
        "strategy",
        "90 % coverage",
        "90 % set size",
        "95 % coverage",
        "95 % set size",
        "AUROC (1 - max p)",
    ):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    candidates = {"single Raman": ("raman",)}
    for strategy in ("early (library)", "late (equal)", "late (weighted)", "late (stacking)"):
        candidates[strategy] = METHODS
    print(
        "| strategy | 90 % coverage | 90 % set size | 95 % coverage | 95 % set size | "
        "unknown AUROC |\n|---|---|---|---|---|---|"
    )
    for strategy, subset in candidates.items():

        def probs(p, strategy=strategy, subset=subset):
            if strategy == "single Raman":
                return p.proba["raman"]
            return fused(p, subset, tuned, classes)[strategy]

        cal_P = np.vstack([probs(p) for p in oof_cal])
        test_P, novel_P = probs(test), probs(novel)
        cal_ok = ~np.isnan(cal_P).any(axis=1)
        ok = ~np.isnan(test_P).any(axis=1)
        nov_ok = ~np.isnan(novel_P).any(axis=1)
        cp = ConformalPredictor(method="lac").calibrate(cal_P[cal_ok], cal_true[cal_ok])
        cells = [strategy]
        for conf in (0.9, 0.95):
            sets = cp.predict_sets(test_P[ok], confidence=conf)
            cells += [f"{coverage(sets, true[ok]):.3f}", f"{mean_set_size(sets):.2f}"]
        cells.append(f"{auroc(1 - test_P[ok].max(axis=1), 1 - novel_P[nov_ok].max(axis=1)):.3f}")
        table.add_row(*cells)
        print("| " + " | ".join(cells) + " |", flush=True)
    console.print(table)


if __name__ == "__main__":
    main()
