"""Evaluate a registered model on labelled spectrum files (labels from the files themselves)."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from lithoscope.data.ingest import iter_spectrum_files
from lithoscope.errors import LithoscopeError
from lithoscope.mindb.queries import MinDB
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.io import SpectrumWarning, parse_spectra
from lithoscope.spectra.io._common import decode
from lithoscope.spectra.measurement import Measurement
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["evaluate"]


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
    truths: list[str] = []
    preds: list[list[str]] = []
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        results = identify_batch(
            [Measurement.of(s, name=f) for s, f, _ in chunk], bundles.get, top=max(top, 3)
        )
        for (_, display, truth), result in zip(chunk, results, strict=True):
            if result.refused is not None:
                skipped.append({"file": display, "reason": result.refused})
                continue
            truths.append(truth)
            preds.append([c["mineral"] for c in result.candidates])
    model_name = ", ".join(b.name for b in bundles.values()) or None
    n = len(truths)
    top1 = [p[0] for p in preds]
    confusions = Counter((t, p) for t, p in zip(truths, top1, strict=True) if t != p)
    out: dict[str, Any] = {
        "model": model_name,
        "data": str(path),
        "n": n,
        "top1": float(np.mean([t == p for t, p in zip(truths, top1, strict=True)])) if n else None,
        "top3": float(np.mean([t in p[:3] for t, p in zip(truths, preds, strict=True)]))
        if n
        else None,
        "macro_f1": float(f1_score(truths, top1, average="macro", labels=sorted(set(truths))))
        if n
        else None,
        "confused": [
            {"true": t, "predicted": p, "count": c} for (t, p), c in confusions.most_common(20)
        ],
        "skipped": skipped,
    }
    return out
