"""Evaluate a registered model on labelled spectrum files (labels from the files themselves)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from lithoscope.data.ingest import iter_spectrum_files
from lithoscope.errors import InputError, LithoscopeError
from lithoscope.mindb.queries import MinDB
from lithoscope.pipeline.identify import ModelSource, identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.io import SpectrumWarning, parse_spectra
from lithoscope.spectra.io._common import decode
from lithoscope.spectra.measurement import Measurement
from lithoscope.spectra.spectrum import Spectrum
from lithoscope.uncertainty.metrics import expected_calibration_error, reliability_bins

__all__ = ["evaluate", "evaluate_labelled"]


def _canonical(db: MinDB | None, label: str, cache: dict[str, str | None]) -> str | None:
    if label not in cache:
        if db is None:
            cache[label] = label
        else:
            try:
                kind, name = db.resolve(label)
                cache[label] = name if kind == "mineral" else None
            except LithoscopeError:
                cache[label] = None
    return cache[label]


def evaluate(
    path: str | Path,
    *,
    model: str | None = None,
    db: MinDB | None = None,
    method: str | None = None,
    top: int = 3,
    registry: Registry | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Top-1, top-3, macro-F1 and confusions of a model on the spectra in ``path``.

    Each file's label is its mineral name (RRUFF ``##NAMES``), resolved through MinDB's names
    and aliases. Files that cannot be read, have no label, or whose mineral the model does not
    know are skipped with the reason. Identification runs through `identify_batch`.
    """
    path = Path(path)
    registry = registry or Registry()
    skipped: list[dict[str, str]] = []
    cache: dict[str, str | None] = {}
    bundles: dict[str, Any] = {}
    todo: list[tuple[Spectrum, str, str]] = []  # spectrum, file, canonical label
    for display, _bare, data in iter_spectrum_files(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SpectrumWarning)
                spectra = parse_spectra(decode(data, display), display, method=method)
        except LithoscopeError as exc:
            skipped.append({"file": display, "reason": str(exc)})
            continue
        for spectrum in spectra:
            label = spectrum.metadata.get("mineral")
            if not label:
                skipped.append({"file": display, "reason": "no mineral label in the file"})
                continue
            m = spectrum.method.value
            try:
                if m not in bundles:
                    bundles[m] = registry.load(model, method=m)[0]
            except LithoscopeError as exc:
                skipped.append({"file": display, "reason": str(exc)})
                continue
            truth = _canonical(db, label, cache)
            if truth is None or truth not in set(bundles[m].part(m).classes.tolist()):
                skipped.append(
                    {"file": display, "reason": f"mineral {label!r} is not in the model's library"}
                )
                continue
            todo.append((spectrum, display, truth))
    scored = evaluate_labelled(
        [Measurement.of(sp, name=f) for sp, f, _ in todo],
        [t for _, _, t in todo],
        bundles.get,
        levels=(),
        top=top,
        batch_size=batch_size,
    )
    for item in scored.pop("refused"):
        skipped.append({"file": todo[item["index"]][1], "reason": item["reason"]})
    model_name = ", ".join(b.name for b in bundles.values()) or None
    return {
        "model": model_name,
        "data": str(path),
        "n": scored["n"],
        "top1": scored["top1"],
        "top3": scored["top3"],
        "macro_f1": scored["macro_f1"],
        "confused": scored["confused"],
        "skipped": skipped,
    }


def evaluate_labelled(
    measurements: Sequence[Measurement],
    truths: Sequence[str],
    model: ModelSource,
    *,
    db: MinDB | None = None,
    levels: Sequence[float] = (0.8, 0.9, 0.95),
    n_bins: int = 10,
    top: int = 3,
    batch_size: int = 256,
    n_confused: int = 20,
) -> dict[str, Any]:
    """How well ``model`` identifies labelled measurements: the answers users get, scored.

    Every measurement goes through `identify_batch` (so fused measurements are scored as
    fused answers); each confidence level of ``levels`` is one more pass, for the coverage and
    size of the conformal sets at that level.

    Parameters
    ----------
    measurements : sequence of Measurement
    truths : sequence of str
        The mineral of each measurement (canonical MinDB names).
    model : IdentificationModel, mapping or callable
        As `identify_batch` takes it.
    db : MinDB, optional
        Names the planetary bodies where each mineral is reported (``per_mineral``).
    levels : sequence of float, default=(0.8, 0.9, 0.95)
        Conformal levels to score; empty for none.
    n_bins : int, default=10
        Bins of the reliability diagram (`reliability_bins`).
    top : int, default=3
        The ``top3`` metric counts the truth among this many candidates.

    Returns
    -------
    dict
        ``n`` (answered), ``top1``, ``top3``, ``macro_f1``, ``ece``, ``reliability``,
        ``coverage`` (``level``, ``coverage``, ``mean_set_size``, ``n`` per level with sets),
        ``confused`` (most frequent wrong answers), ``per_mineral`` (``mineral``, ``n``,
        ``top1``, ``bodies``) and ``refused`` (``index``, ``reason``: measurements without an
        answer, left out of every metric).
    """
    if len(measurements) != len(truths):
        raise InputError(
            f"{len(measurements)} measurements but {len(truths)} truths; give one per measurement"
        )

    def run(confidence: float) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(measurements), batch_size):
            out.extend(
                identify_batch(
                    measurements[start : start + batch_size],
                    model,
                    top=max(top, 3),
                    confidence=confidence,
                )
            )
        return out

    levels = [float(v) for v in levels]
    results = run(levels[0] if levels else 0.9)
    refused = [
        {"index": i, "reason": r.refused} for i, r in enumerate(results) if r.refused is not None
    ]
    ok = [i for i, r in enumerate(results) if r.refused is None]
    truth = [str(truths[i]) for i in ok]
    preds = [[c["mineral"] for c in results[i].candidates] for i in ok]
    n = len(ok)
    out: dict[str, Any] = {
        "n": n,
        "top1": None,
        "top3": None,
        "macro_f1": None,
        "ece": None,
        "reliability": [],
        "coverage": [],
        "confused": [],
        "per_mineral": [],
        "refused": refused,
    }
    if not n:
        return out
    first = [p[0] if p else None for p in preds]
    hit = np.array([t == p for t, p in zip(truth, first, strict=True)])
    confidence = np.array(
        [results[i].candidates[0]["probability"] if results[i].candidates else 0.0 for i in ok]
    )
    confusions = Counter((t, p) for t, p in zip(truth, first, strict=True) if t != p)
    out.update(
        top1=float(hit.mean()),
        top3=float(np.mean([t in p[:top] for t, p in zip(truth, preds, strict=True)])),
        macro_f1=float(
            f1_score(truth, [p or "" for p in first], average="macro", labels=sorted(set(truth)))
        ),
        ece=expected_calibration_error(confidence, hit, n_bins=n_bins),
        reliability=reliability_bins(confidence, hit, n_bins=n_bins),
        confused=[
            {"true": t, "predicted": p, "count": c}
            for (t, p), c in confusions.most_common(n_confused)
        ],
    )
    for k, level in enumerate(levels):
        at = results if k == 0 else run(level)
        sets = [at[i].prediction_set for i in ok]
        with_sets = [j for j, s in enumerate(sets) if s is not None]
        if not with_sets:
            continue
        out["coverage"].append(
            {
                "level": level,
                "coverage": float(np.mean([truth[j] in sets[j] for j in with_sets])),
                "mean_set_size": float(np.mean([len(sets[j]) for j in with_sets])),
                "n": len(with_sets),
            }
        )
    bodies: dict[str, list[str]] = {}
    if db is not None:
        for body, names in sorted(db.species_reported().items()):
            for name in names:
                bodies.setdefault(name, []).append(body)
    per: dict[str, list[bool]] = {}
    for t, h in zip(truth, hit.tolist(), strict=True):
        per.setdefault(t, []).append(h)
    out["per_mineral"] = [
        {"mineral": m, "n": len(h), "top1": float(np.mean(h)), "bodies": bodies.get(m, [])}
        for m, h in sorted(per.items())
    ]
    return out
