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
from lithoscope.pipeline.identify import Identifier
from lithoscope.spectra.io import SpectrumWarning, parse_spectra
from lithoscope.spectra.io._common import decode

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
) -> dict[str, Any]:
    """Top-1, top-3, macro-F1 and confusions of a model on the spectra in ``path``.

    Each file's label is its mineral name (RRUFF ``##NAMES``), resolved through MinDB's names
    and aliases. Files that cannot be read, have no label, or whose mineral the model does not
    know are skipped with the reason.
    """
    path = Path(path)
    identifier = Identifier(db, model=model)
    truths: list[str] = []
    preds: list[list[str]] = []
    skipped: list[dict[str, str]] = []
    cache: dict[str, str | None] = {}
    model_name = None
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
            try:
                loaded = identifier.loaded(spectrum.method.value)
            except LithoscopeError as exc:
                skipped.append({"file": display, "reason": str(exc)})
                continue
            model_name = str(loaded.ref)
            truth = _canonical(db, label, cache)
            if truth is None or truth not in set(loaded.model.classes_.tolist()):
                skipped.append(
                    {"file": display, "reason": f"mineral {label!r} is not in the model's library"}
                )
                continue
            try:
                result = identifier.identify(spectrum, top=max(top, 3), name=display)
            except LithoscopeError as exc:
                skipped.append({"file": display, "reason": str(exc)})
                continue
            truths.append(truth)
            preds.append([c["mineral"] for c in result.candidates])
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
