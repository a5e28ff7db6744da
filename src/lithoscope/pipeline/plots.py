"""Static plots (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.mindb.queries import MinDB
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["best_references", "plot_identification", "plot_mixture"]


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
    if result.spectrum is None or result.fitted is None:
        raise InputError(f"{result.input}: nothing to plot ({result.refused or 'no fit'})")
    x, y, fit = np.asarray(result.axis), np.asarray(result.spectrum), np.asarray(result.fitted)
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


def _exists(path: Path) -> str:
    return f"--plot {path}: the file exists; choose another name or pass --overwrite"
