"""Static plots (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.mindb.queries import MinDB
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["best_references", "plot_identification", "plot_json", "plot_mixture"]


def best_references(
    db: MinDB | None,
    minerals: Sequence[str],
    query: np.ndarray,
    pipeline: Any,
    method: str,
) -> dict[str, tuple[Spectrum, np.ndarray, float]]:
    """For each mineral, its stored reference that matches the preprocessed query best.

    Every stored spectrum of the minerals is preprocessed with ``pipeline`` (the model's, so
    that reference and query are compared on one footing) and the one with the highest
    Pearson correlation to ``query`` is kept.

    Parameters
    ----------
    db : MinDB or None
        Without a database, no references.
    minerals : sequence of str
        MinDB names (a model's classes).
    query : numpy.ndarray, shape (n_grid,)
        The preprocessed query.
    pipeline : sklearn Pipeline
        The preprocessing that made ``query``.
    method : str
        Only references of this method.

    Returns
    -------
    dict
        ``name -> (reference Spectrum, preprocessed reference, Pearson r)`` for the minerals
        MinDB holds spectra of.
    """
    from lithoscope.mindb.names import name_key
    from lithoscope.models.scoring import correlation_features

    if db is None or not minerals:
        return {}
    refs = db.spectra(method=method, minerals=list(minerals), linked_only=True)
    if not refs:
        return {}
    R = np.asarray(pipeline.transform(refs), dtype=np.float64)
    finite = np.all(np.isfinite(R), axis=1)
    features = correlation_features(np.vstack([query[None, :], np.nan_to_num(R)]), power=1.0)
    r = features[1:] @ features[0]
    wanted = {name_key(m): m for m in minerals}
    best: dict[str, tuple[Spectrum, np.ndarray, float]] = {}
    for i, ref in enumerate(refs):
        name = wanted.get(name_key(str(ref.metadata["mineral"])))
        if name is None or not finite[i]:
            continue
        if name not in best or r[i] > best[name][2]:
            best[name] = (ref, R[i], float(r[i]))
    return best


def plot_identification(
    spectrum: Spectrum,
    result: dict[str, Any],
    pipeline: Any,
    path: str | Path,
    *,
    db: MinDB | None = None,
    n_references: int = 3,
    attribution: np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Plot the preprocessed spectrum over the best-matching reference of each candidate.

    For each of the first ``n_references`` candidates, the stored reference that matches the
    query best (highest Pearson correlation after the same preprocessing, see
    `best_references`) is drawn; the legend names its sample id and correlation. The regions
    that drove the answer are shaded, and the title gives the prediction set and the unknown
    verdict.

    Parameters
    ----------
    spectrum : Spectrum
        The query as read.
    result : dict
        The identification as JSON (``Identification.to_dict()``).
    pipeline : sklearn Pipeline
        The model's preprocessing.
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    db : MinDB, optional
        Where the references come from; without it only the query is drawn.
    n_references : int, default=3
    attribution : numpy.ndarray, optional
        Per-grid-point attribution to shade.
    overwrite : bool, default=False
        Replace an existing file; otherwise an existing ``path`` is refused.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        Unsupported suffix, or ``path`` exists and ``overwrite`` is False.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise InputError(f"--plot {path}: use a .png, .svg or .pdf file name")
    if path.exists() and not overwrite:
        raise InputError(_exists(path))
    grid = pipeline.steps[0][1].grid
    x = np.asarray(grid)
    y = pipeline.transform([spectrum])[0]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    offset = 0.0
    ax.plot(x, y, color="black", lw=1.2, label=f"{result['input'].rsplit('/', 1)[-1]}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    candidates = result["candidates"][:n_references]
    refs = best_references(
        db, [c["mineral"] for c in candidates], y, pipeline, spectrum.method.value
    )
    for i, cand in enumerate(candidates):
        offset -= 1.1
        label = f"{cand['mineral']}  p={cand['probability']:.2f}  s={cand['score']:.3f}"
        if cand["mineral"] not in refs:
            ax.text(x[0], offset + 0.5, f"{label} (no reference spectrum in MinDB)", fontsize=8)
            continue
        ref, ry, r = refs[cand["mineral"]]
        sample = ref.metadata.get("sample_id") or ref.metadata.get("file") or "?"
        label += f"  best reference {sample} (r={r:.2f})"
        ax.plot(x, ry + offset, color=colors[i % len(colors)], lw=1, label=label)
    if attribution is not None:
        from lithoscope.explain import shade_attribution

        shade_attribution(ax, x, attribution)
    ax.set_xlabel(spectrum.unit.value)
    ax.set_ylabel("normalised intensity (offset)")
    ax.set_yticks([])
    title = f"{result['method']} identification with {result['model']}"
    if result.get("prediction_set") is not None:
        members = result["prediction_set"]
        shown = ", ".join(members[:4]) + (f" +{len(members) - 4}" if len(members) > 4 else "")
        title += f"\n{result['confidence_level']:.0%} prediction set: {{{shown}}}"
    if result.get("unknown"):
        title += "  -  UNKNOWN: not like any mineral in the library"
    ax.set_title(title, fontsize=10)
    ax.set_ylim(top=1.8)  # room for the legend above the spectrum
    ax.legend(loc="upper right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x": a file that appeared while plotting is not overwritten either
        with path.open("wb" if overwrite else "xb") as handle:
            fig.savefig(handle, format=path.suffix[1:].lower(), dpi=120, bbox_inches="tight")
    except FileExistsError:
        raise InputError(_exists(path)) from None
    finally:
        plt.close(fig)
    return path


def plot_mixture(result: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Plot a mixture answer: the preprocessed spectrum, the fitted mixture, each present
    mineral's contribution and the residual; the title names the rock.

    Parameters
    ----------
    result : MixtureResult
        From `lithoscope.pipeline.mixture.identify_mixtures` (not refused).
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    overwrite : bool, default=False

    Returns
    -------
    Path

    Raises
    ------
    InputError
        Unsupported suffix, an existing ``path`` without ``overwrite``, or a refused result.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise InputError(f"--plot {path}: use a .png, .svg or .pdf file name")
    if path.exists() and not overwrite:
        raise InputError(_exists(path))
    if result.spectrum is None:
        raise InputError(f"{result.input}: nothing to plot ({result.refused or 'no spectrum'})")
    x, y = np.asarray(result.axis), np.asarray(result.spectrum)
    if result.fitted is None:  # a modal model (VNIR) predicts modes, it fits no spectrum
        return _plot_modes(result, x, y, path, overwrite)
    fit = np.asarray(result.fitted)
    fig, (ax, res) = plt.subplots(
        2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [4, 1]}
    )
    ax.plot(x, y, color="black", lw=1.2, label=result.input.rsplit("/", 1)[-1])
    ax.plot(x, fit, color="tab:red", lw=1, ls="--", label="fitted mixture")
    abundance = {m["mineral"]: m for m in result.minerals}
    offset = 0.0
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, comp) in enumerate(result.components.items()):
        offset -= 0.6
        m = abundance[name]
        label = f"{name}  {m['abundance']:.0f} +- {m['abundance_sd']:.0f} vol %"
        ax.plot(x, np.asarray(comp) + offset, color=colors[i % len(colors)], lw=1, label=label)
    ax.set_ylabel("normalised intensity (components offset)")
    ax.set_yticks([])
    title = f"{result.method} mixture with {result.model}"
    if result.rock:
        title += f"\nrock: {result.rock['name']} ({result.rock['scheme']}, {result.rock['field']})"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    res.plot(x, y - fit, color="gray", lw=0.8)
    res.axhline(0, color="black", lw=0.5)
    res.set_ylabel("residual")
    res.set_xlabel("axis" if result.method is None else f"{result.method} axis")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("wb" if overwrite else "xb") as handle:
            fig.savefig(handle, format=path.suffix[1:].lower(), dpi=120, bbox_inches="tight")
    except FileExistsError:
        raise InputError(_exists(path)) from None
    finally:
        plt.close(fig)
    return path


def plot_json(result: Any, model: Any = None, db: MinDB | None = None) -> dict[str, Any]:
    """An answer's JSON with the arrays a plot draws, for clients that draw it themselves.

    The JSON of ``result`` (``to_dict()`` of an `Identification`, ``to_json()`` of a
    `MixtureResult`) plus ``"plot"``; a fused answer gets it in each ``by_method`` answer, a
    refused one gets none. Identification::

        "plot": {"axis": [...], "unit": "cm-1", "spectrum": [...],
                 "reference": {"mineral", "sample_id", "r", "intensities": [...]} | null,
                 "attribution": [...] | null}

    ``spectrum`` is the preprocessed query on the model's axis; ``reference`` is the stored
    spectrum of the best candidate that matches it best after the same preprocessing
    (`best_references`, as `plot_identification` draws); ``attribution`` is there when the
    answer was explained. Mixture::

        "plot": {"axis", "spectrum", "fitted", "residual", "components": {mineral: [...]}}

    Parameters
    ----------
    result : Identification or MixtureResult
    model : IdentificationModel or callable ``method -> bundle``, optional
        The bundle(s) that answered: their preprocessing makes the references comparable.
        Without it (or ``db``), ``reference`` is null.
    db : MinDB, optional
        Where the references come from.

    Returns
    -------
    dict
        A new dict; ``result`` is not changed.
    """
    from lithoscope.pipeline.mixture import MixtureResult

    if isinstance(result, MixtureResult):
        out = result.to_json()
        if result.refused is None and result.spectrum is not None and result.fitted is not None:
            y, fit = np.asarray(result.spectrum), np.asarray(result.fitted)
            out["plot"] = {
                "axis": _rounded(result.axis),
                "spectrum": _rounded(y),
                "fitted": _rounded(fit),
                "residual": _rounded(y - fit),
                "components": {k: _rounded(v) for k, v in result.components.items()},
            }
        return out
    out = result.to_dict()
    if result.by_method:
        out["by_method"] = {m: plot_json(r, model, db) for m, r in result.by_method.items()}
    elif result.refused is None and result.x is not None and result.grid is not None:
        reference = None
        if model is not None and db is not None and result.top is not None:
            bundle = model(result.method) if callable(model) else model
            pipeline = bundle.part(result.method).pipeline
            best = best_references(db, [result.top], result.x, pipeline, result.method)
            if result.top in best:
                ref, ry, r = best[result.top]
                reference = {
                    "mineral": result.top,
                    "sample_id": ref.metadata.get("sample_id") or ref.metadata.get("file"),
                    "r": round(r, 4),
                    "intensities": _rounded(ry),
                }
        out["plot"] = {
            "axis": _rounded(result.grid),
            "unit": None if result.spectrum is None else result.spectrum.unit.value,
            "spectrum": _rounded(result.x),
            "reference": reference,
            "attribution": None if result.attribution is None else _rounded(result.attribution),
        }
    return out


def _rounded(values: Any, decimals: int = 5) -> list[float | None]:
    """A list for JSON: 5 decimals (plots need no more), NaN as null."""
    a = np.round(np.asarray(values, dtype=np.float64), decimals)
    return [None if not np.isfinite(v) else float(v) for v in a]


def _save(fig: Any, path: Path, overwrite: bool) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x": a file that appeared while plotting is not overwritten either
        with path.open("wb" if overwrite else "xb") as handle:
            fig.savefig(handle, format=path.suffix[1:].lower(), dpi=120, bbox_inches="tight")
    except FileExistsError:
        raise InputError(_exists(path)) from None
    finally:
        plt.close(fig)
    return path


def _plot_modes(result: Any, x: np.ndarray, y: np.ndarray, path: Path, overwrite: bool) -> Path:
    """The preprocessed spectrum over the predicted modes (vol % +- sd) of a modal model."""
    import matplotlib.pyplot as plt

    fig, (ax, bars) = plt.subplots(2, 1, figsize=(10, 6.5), gridspec_kw={"height_ratios": [3, 2]})
    ax.plot(x, y, color="black", lw=1.2, label=result.input.rsplit("/", 1)[-1])
    ax.set_xlabel(f"{result.method} axis (nm)" if result.method == "vnir" else "axis")
    ax.set_ylabel("preprocessed")
    title = f"{result.method} modal mineralogy with {result.model}"
    if result.rock:
        title += f"\nrock: {result.rock['name']} ({result.rock['scheme']}, {result.rock['field']})"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    shown = [m for m in result.minerals if m["present"]]
    names = [m["mineral"] for m in shown]
    bars.barh(
        names,
        [m["abundance"] for m in shown],
        xerr=[m["abundance_sd"] for m in shown],
        color="tab:blue",
        capsize=3,
    )
    bars.set_xlim(0, 100)
    bars.set_xlabel("vol % (+- 1 sd)")
    bars.invert_yaxis()
    return _save(fig, path, overwrite)


def _exists(path: Path) -> str:
    return f"--plot {path}: the file exists; choose another name or pass --overwrite"
