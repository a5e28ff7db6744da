"""Static plots (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.mindb.queries import MinDB
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["plot_identification"]


def _reference(db: MinDB | None, mineral: str, method: str) -> Spectrum | None:
    if db is None:
        return None
    from sqlalchemy import select

    from lithoscope.mindb.models import Mineral
    from lithoscope.mindb.models import Spectrum as Row

    with db.session() as s:
        row = s.scalar(
            select(Row)
            .join(Mineral, Row.mineral_id == Mineral.id)
            .where(Mineral.name == mineral, Row.method == method)
            .order_by(Row.id)
            .limit(1)
        )
        if row is None:
            return None
        return Spectrum(
            np.frombuffer(row.axis, dtype="<f8"),
            np.frombuffer(row.intensities, dtype="<f8"),
            row.method,
            row.axis_unit,
            {"mineral": mineral, "sample_id": row.sample_id},
        )


def plot_identification(
    spectrum: Spectrum,
    result: dict[str, Any],
    pipeline: Any,
    path: str | Path,
    *,
    db: MinDB | None = None,
    n_references: int = 3,
    attribution: np.ndarray | None = None,
) -> Path:
    """PNG of the preprocessed spectrum over the preprocessed best references, with the
    regions that drove the answer shaded and the prediction set and unknown verdict in the
    title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise InputError(f"--plot {path}: use a .png, .svg or .pdf file name")
    grid = pipeline.steps[0][1].grid
    x = np.asarray(grid)
    y = pipeline.transform([spectrum])[0]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    offset = 0.0
    ax.plot(x, y, color="black", lw=1.2, label=f"{result['input'].rsplit('/', 1)[-1]}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, cand in enumerate(result["candidates"][:n_references]):
        ref = _reference(db, cand["mineral"], spectrum.method.value)
        offset -= 1.1
        label = f"{cand['mineral']}  p={cand['probability']:.2f}  s={cand['score']:.3f}"
        if ref is None:
            ax.text(x[0], offset + 0.5, f"{label} (no reference spectrum in MinDB)", fontsize=8)
            continue
        ry = pipeline.transform([ref])[0]
        ax.plot(x, ry + offset, color=colors[i % len(colors)], lw=1, label=label)
    if attribution is not None:
        from lithoscope.explain import shade_attribution

        shade_attribution(ax, x, attribution)
    ax.set_xlabel(spectrum.unit.value)
    ax.set_ylabel("normalised intensity (offset)")
    ax.set_yticks([])
    title = f"{result['method']} identification with {result['model']}"
    if "prediction_set" in result:
        members = result["prediction_set"]
        shown = ", ".join(members[:4]) + (f" +{len(members) - 4}" if len(members) > 4 else "")
        title += f"\n{result['confidence_level']:.0%} prediction set: {{{shown}}}"
    if result.get("unknown"):
        title += "  -  UNKNOWN: not like any mineral in the library"
    ax.set_title(title, fontsize=10)
    ax.set_ylim(top=1.8)  # room for the legend above the spectrum
    ax.legend(loc="upper right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
