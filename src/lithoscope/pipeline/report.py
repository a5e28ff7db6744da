"""The HTML report of a pipeline run: metrics, calibration, confusions, planetary minerals, lineage.

`write_report` turns the evaluation step's document (and the run's lineage) into one
self-contained ``report.html`` - inline CSS, plots embedded as base64 PNG, no script and no
external address, so it opens offline and in a mail attachment - plus the same plots as PNG files
beside it (MLflow logs them as artifacts).

The report shows, per method (``raman``, ``ir``, ``vnir``, ``libs`` and ``fused``, in that
order; any other name after them):

* a metrics table: n, top-1, top-3, macro-F1, ECE, and the achieved coverage and mean size of the
  conformal prediction sets at each confidence level;
* a reliability diagram (mean confidence against accuracy per bin, the diagonal, answers per bin)
  and a coverage plot (achieved against nominal coverage, the diagonal, mean set size);
* the mineral pairs it confuses most;
* top-1 accuracy of the minerals MinDB reports on the Moon, Mars or in meteorites (worst first,
  tagged by body, with a bar chart), and one line on the other minerals;

then the mixture metrics, if any, and the lineage (model, data, code and config versions, MLflow
run). Every string of the inputs is HTML-escaped; a part missing from the evaluation reads "not
available". Files are written atomically (temporary file in ``out_dir``, then rename).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import numbers
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lithoscope._files import jsonable
from lithoscope.errors import InputError

__all__ = ["ReportFiles", "write_report"]

#: Methods in the order the report shows them; other names follow, sorted.
METHOD_ORDER = ("raman", "ir", "vnir", "libs", "fused")
_METHOD_LABELS = {"raman": "Raman", "ir": "IR", "vnir": "VNIR", "libs": "LIBS", "fused": "Fused"}
#: Planetary bodies of MinDB in display order, with their labels.
_BODY_LABELS = {"moon": "Moon", "mars": "Mars", "meteorite": "meteorites"}
#: Rows of each method's confusion table.
MAX_CONFUSED = 10
#: Bars of each planetary bar chart (the worst minerals; the table lists them all).
MAX_BARS = 40
_NA = "not available"
_DPI = 100
_BLUE, _RED, _GREEN, _GREY = "#4c72b0", "#c44e52", "#55a868", "0.45"

_MIXTURE_LABELS = {
    "n": "mixtures (n)",
    "micro_f1": "micro-F1 of the minerals present",
    "mae_vol_percent": "mean absolute error of the volume fractions (vol%)",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;
margin-top:2.2rem}h3{margin-bottom:.4rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ddd;padding:.25rem .6rem}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:.5rem 0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.na{color:#888;font-style:italic}.tag{display:inline-block;background:#e8eef8;border-radius:.6rem;
padding:0 .5rem;margin-right:.25rem;font-size:.85em}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:32rem}img{max-width:100%;height:auto}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6rem;overflow-x:auto;font-size:.85em}
nav a{margin-right:1rem}footer{margin-top:3rem;font-size:.8em;color:#777}
"""


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote.

    Attributes
    ----------
    html : Path
        ``<out_dir>/report.html``, self-contained (opens offline: no CDN, no external file).
    plots : list of Path
        The PNG files also written into ``out_dir`` (reliability, coverage and planetary
        accuracy of each method that has them), in report order.
    """

    html: Path
    plots: list[Path]


# ---------------------------------------------------------------------------------- validation
def _where(path: Sequence[Any]) -> str:
    return "evaluation" + "".join(f"[{p!r}]" for p in path)


def _fail(path: Sequence[Any], expected: str, value: Any) -> InputError:
    return InputError(
        f"{_where(path)}: expected {expected}, got {type(value).__name__} {_short(value)}; "
        "pass the evaluation step's document (see lithoscope.pipeline.report)"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _mapping(value: Any, path: Sequence[Any], expected: str = "a mapping") -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(path, expected, value)
    return value


def _rows(value: Any, path: Sequence[Any]) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _fail(path, "a list of mappings", value)
    for i, row in enumerate(value):
        if not isinstance(row, Mapping):
            raise _fail([*path, i], "a mapping", row)
    return list(value)


def _number(value: Any, path: Sequence[Any]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(path, "a number or null", value)
    value = float(value)
    return value if math.isfinite(value) else None


def _count(value: Any, path: Sequence[Any]) -> int | None:
    number = _number(value, path)
    if number is None:
        return None
    if not number.is_integer() or number < 0:
        raise _fail(path, "a count (integer >= 0)", value)
    return int(number)


def _text(value: Any, path: Sequence[Any], *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return str(value)  # a version written as a number
    raise _fail(path, "a string", value)


def _check_method(doc: Any, path: list[Any]) -> dict[str, Any]:
    m = _mapping(doc, path, "a mapping of metrics (n, top1, top3, ...)")
    out: dict[str, Any] = {
        "n": _count(m.get("n"), [*path, "n"]),
        **{k: _number(m.get(k), [*path, k]) for k in ("top1", "top3", "macro_f1", "ece")},
    }
    rel = []
    for i, row in enumerate(_rows(m.get("reliability"), [*path, "reliability"])):
        p = [*path, "reliability", i]
        rel.append(
            {
                "lower": _number(row.get("lower"), [*p, "lower"]),
                "upper": _number(row.get("upper"), [*p, "upper"]),
                "n": _count(row.get("n"), [*p, "n"]),
                "confidence": _number(row.get("confidence"), [*p, "confidence"]),
                "accuracy": _number(row.get("accuracy"), [*p, "accuracy"]),
            }
        )
    out["reliability"] = rel
    cov = []
    for i, row in enumerate(_rows(m.get("coverage"), [*path, "coverage"])):
        p = [*path, "coverage", i]
        level = _number(row.get("level"), [*p, "level"])
        if level is None or not 0 < level < 1:
            raise _fail([*p, "level"], "a confidence level in (0, 1)", row.get("level"))
        cov.append(
            {
                "level": level,
                "coverage": _number(row.get("coverage"), [*p, "coverage"]),
                "mean_set_size": _number(row.get("mean_set_size"), [*p, "mean_set_size"]),
            }
        )
    out["coverage"] = sorted(cov, key=lambda r: r["level"])
    out["confused"] = [
        {
            "true": _text(row.get("true"), [*path, "confused", i, "true"], required=True),
            "predicted": _text(
                row.get("predicted"), [*path, "confused", i, "predicted"], required=True
            ),
            "count": _count(row.get("count"), [*path, "confused", i, "count"]),
        }
        for i, row in enumerate(_rows(m.get("confused"), [*path, "confused"]))
    ]
    per = []
    for i, row in enumerate(_rows(m.get("per_mineral"), [*path, "per_mineral"])):
        p = [*path, "per_mineral", i]
        bodies = row.get("bodies") or []
        if isinstance(bodies, str | bytes) or not isinstance(bodies, Sequence):
            raise _fail([*p, "bodies"], "a list of body names", bodies)
        per.append(
            {
                "mineral": _text(row.get("mineral"), [*p, "mineral"], required=True),
                "n": _count(row.get("n"), [*p, "n"]),
                "top1": _number(row.get("top1"), [*p, "top1"]),
                "bodies": [
                    _text(b, [*p, "bodies", j], required=True) for j, b in enumerate(bodies)
                ],
            }
        )
    out["per_mineral"] = per
    return out


def _method_order(names: Sequence[str]) -> list[str]:
    known = [m for m in METHOD_ORDER if m in names]
    return known + sorted(n for n in names if n not in METHOD_ORDER)


def _check(evaluation: Any) -> dict[str, Any]:
    if not isinstance(evaluation, Mapping):
        raise InputError(
            f"evaluation: expected a mapping (the evaluation step's document), got "
            f"{type(evaluation).__name__}; pass the dict the evaluation step returns"
        )
    methods = _mapping(
        evaluation.get("methods"), ["methods"], "a mapping of method name -> metrics"
    )
    for name in methods:
        if not isinstance(name, str):
            raise _fail(["methods"], "method names as strings", name)
    checked = {name: _check_method(methods[name], ["methods", name]) for name in methods}
    dataset = _mapping(evaluation.get("dataset"), ["dataset"])
    mixture = _mapping(evaluation.get("mixture"), ["mixture"])
    return {
        "model": _text(evaluation.get("model"), ["model"]),
        "dataset": {
            "version": _text(dataset.get("version"), ["dataset", "version"]),
            **{
                k: _count(dataset.get(k), ["dataset", k])
                for k in ("n_spectra", "n_minerals", "n_test_spectra")
            },
        },
        "methods": {name: checked[name] for name in _method_order(list(checked))},
        "mixture": mixture,
    }


def _check_lineage(lineage: Any) -> dict[str, Any] | None:
    if lineage is None:
        return None
    if not isinstance(lineage, Mapping):
        raise InputError(
            f"lineage: expected a mapping (model, dataset_version, config, ...), got "
            f"{type(lineage).__name__}; pass the run's lineage dict or None"
        )
    mlflow = lineage.get("mlflow")
    if mlflow is not None and not isinstance(mlflow, Mapping):
        raise InputError(
            f"lineage['mlflow']: expected a mapping (run_id, model_version), got "
            f"{type(mlflow).__name__}; leave it out when the run was not tracked"
        )
    out = dict(lineage)
    for key in ("model", "dataset_version", "code_version", "config_sha256"):
        value = out.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | numbers.Real)
        ):
            raise InputError(
                f"lineage[{key!r}]: expected a string, got {type(value).__name__} "
                f"{_short(value)}; pass the run's lineage dict"
            )
        out[key] = None if value is None or value == "" else str(value)
    return out


# ---------------------------------------------------------------------------------- formatting
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _na(text: str = _NA) -> str:
    return f'<span class="na">{_e(text)}</span>'


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _dec(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _int(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _level(level: float) -> str:
    return f"{100 * level:g}%"


def _method_label(name: str) -> str:
    return _METHOD_LABELS.get(name, name)


def _body_label(body: str) -> str:
    return _BODY_LABELS.get(body, body)


def _body_order(bodies: Sequence[str]) -> list[str]:
    known = [b for b in _BODY_LABELS if b in bodies]
    return known + sorted(b for b in set(bodies) if b not in _BODY_LABELS)


def _mpl(text: str) -> str:
    """Text as matplotlib draws it literally (a '$' would start mathtext)."""
    return text.replace("$", r"\$")


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "method"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}-{k}", k + 1
    taken.add(slug)
    return slug


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """An HTML table; ``head`` is escaped here, cells arrive as HTML."""
    out = ["<table>", "<thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if num else f"<td>{c}</td>"
            for c, num in zip(row, numeric, strict=True)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- plots
def _figure(width: float, height: float) -> Any:
    """A figure on its own Agg canvas: no pyplot, no global backend switch."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(
            "the report draws its plots with matplotlib: pip install 'lithoscope[plot]'"
        ) from None
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # no 'Software' chunk: the bytes depend on the drawing only
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _reliability_png(label: str, m: dict[str, Any]) -> bytes | None:
    bins = [
        b
        for b in m["reliability"]
        if b["n"] and b["accuracy"] is not None and b["lower"] is not None
    ]
    if not bins:
        return None
    from matplotlib.patches import Patch

    fig = _figure(5.2, 5.2)
    ax, axn = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], ls="--", color=_GREY, lw=1, label="perfect calibration")
    for b in bins:
        upper = b["upper"] if b["upper"] is not None else b["lower"]
        width, centre = upper - b["lower"], (b["lower"] + upper) / 2
        ax.bar(b["lower"], b["accuracy"], width=width, align="edge", color=_BLUE, alpha=0.35)
        axn.bar(b["lower"], b["n"], width=width, align="edge", color=_GREY, alpha=0.6)
        axn.text(centre, b["n"], str(b["n"]), ha="center", va="bottom", fontsize=7)
    points = [(b["confidence"], b["accuracy"]) for b in bins if b["confidence"] is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, "o-", color=_RED, ms=4, lw=1.2, label="mean confidence, accuracy")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(color=_BLUE, alpha=0.35, label="accuracy per bin"))
    ax.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="accuracy")
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    # above the axes: inside, it would hide bins wherever the model is off the diagonal
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
        fontsize=7,
        frameon=False,
    )
    top = max(b["n"] for b in bins)
    axn.set(ylim=(0, top * 1.35), xlabel="confidence of the top candidate", ylabel="answers")
    ece = "" if m["ece"] is None else f" (ECE {m['ece']:.3f})"
    fig.suptitle(_mpl(f"{label}: reliability{ece}"), fontsize=11)
    return _png(fig)


def _coverage_png(label: str, m: dict[str, Any]) -> bytes | None:
    rows = [r for r in m["coverage"] if r["coverage"] is not None]
    if not rows:
        return None
    levels = [r["level"] for r in rows]
    achieved = [r["coverage"] for r in rows]
    lo = max(0.0, math.floor((min(levels + achieved) - 0.05) * 20) / 20)
    fig = _figure(5.2, 4.4)
    ax = fig.add_subplot()
    ax.plot([lo, 1], [lo, 1], ls="--", color=_GREY, lw=1, label="achieved = nominal")
    ax.plot(levels, achieved, "o-", color=_BLUE, ms=5, label="achieved coverage")
    for x, y in zip(levels, achieved, strict=True):
        ax.annotate(
            _pct(y),
            (x, y),
            textcoords="offset points",
            xytext=(0, -12),
            ha="center",
            fontsize=7,
            color=_BLUE,
        )
    ax.set(
        xlim=(lo, 1),
        ylim=(lo, 1.005),
        xlabel="nominal coverage (confidence level)",
        ylabel="achieved coverage",
    )
    handles, labels = ax.get_legend_handles_labels()
    sized = [(r["level"], r["mean_set_size"]) for r in rows if r["mean_set_size"] is not None]
    if sized:
        ax2 = ax.twinx()
        xs, ys = zip(*sized, strict=True)
        ax2.plot(xs, ys, "s:", color=_GREEN, ms=5, label="mean set size")
        for x, y in sized:
            ax2.annotate(
                f"{y:.2f}",
                (x, y),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
                color=_GREEN,
            )
        ax2.set_ylim(0, max(ys) * 1.3 + 0.5)
        ax2.set_ylabel("mean set size (minerals)", color=_GREEN)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
        fontsize=7,
        frameon=False,
    )
    fig.suptitle(_mpl(f"{label}: prediction-set coverage"), fontsize=11)
    return _png(fig)


def _planetary_png(label: str, rows: list[dict[str, Any]]) -> bytes | None:
    rows = [r for r in rows if r["top1"] is not None][:MAX_BARS]
    if not rows:
        return None
    fig = _figure(7.0, 1.3 + 0.24 * len(rows))
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    ax.barh(y, [r["top1"] for r in rows], color=_BLUE, height=0.7)
    for i, r in enumerate(rows):
        inside = r["top1"] > 0.75  # no room to the right: write on the bar
        ax.text(
            r["top1"] - 0.01 if inside else r["top1"] + 0.01,
            i,
            f"{_pct(r['top1'])} (n={_int(r['n'])})",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "black",
            fontsize=7,
        )
    names = [
        _mpl(f"{r['mineral']} [{', '.join(_body_label(b) for b in _body_order(r['bodies']))}]")
        for r in rows
    ]
    ax.set_yticks(y, names, fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # worst at the top
    ax.set(xlim=(0, 1), xlabel="top-1 accuracy")
    ax.set_title(_mpl(f"{label}: planetary minerals, worst first"), fontsize=10)
    return _png(fig)


# ---------------------------------------------------------------------------------- sections
def _img(data: bytes, alt: str, caption: str) -> str:
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img src="{src}" alt="{_e(alt)}"><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _header(ev: dict[str, Any], lin: dict[str, Any] | None, title: str, now: datetime) -> str:
    lin = lin or {}
    model = ev["model"] or lin.get("model")
    version = ev["dataset"]["version"] or lin.get("dataset_version")
    code = lin.get("code_version")
    ds = ev["dataset"]
    sizes = [
        f"{_int(ds[k])} {what}"
        for k, what in (
            ("n_spectra", "spectra"),
            ("n_minerals", "minerals"),
            ("n_test_spectra", "test spectra"),
        )
        if ds[k] is not None
    ]
    items = [
        ("Model", _e(model) if model else _na()),
        ("Dataset version", _e(version) if version else _na()),
        ("Dataset", _e(", ".join(sizes)) if sizes else _na()),
        ("Code version", _e(code) if code else _na()),
        (
            "Date",
            f'<time datetime="{now.isoformat(timespec="seconds")}">'
            f"{now.strftime('%Y-%m-%d %H:%M UTC')}</time>",
        ),
    ]
    meta = "\n".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items)
    nav = " ".join(
        f'<a href="#{a}">{_e(t)}</a>'
        for a, t in (
            ("metrics", "Metrics"),
            ("calibration", "Calibration"),
            ("confusions", "Confusions"),
            ("planetary", "Planetary minerals"),
            ("mixture", "Mixtures"),
            ("lineage", "Lineage"),
        )
    )
    return (
        f'<header><h1>{_e(title)}</h1>\n<dl class="meta">\n{meta}\n</dl>\n<nav>{nav}</nav></header>'
    )


def _metrics(methods: dict[str, dict[str, Any]]) -> str:
    out = ['<section id="metrics"><h2>Metrics</h2>']
    if not methods:
        out.append(f"<p>{_na('Metrics: not available (no method in the evaluation).')}</p>")
        return "\n".join([*out, "</section>"])
    levels = sorted({r["level"] for m in methods.values() for r in m["coverage"]})
    head = ["Method", "n", "top-1", "top-3", "macro-F1", "ECE"]
    for level in levels:
        head += [f"coverage @{_level(level)}", f"set size @{_level(level)}"]
    rows = []
    for name, m in methods.items():
        row = [
            _e(_method_label(name)),
            _int(m["n"]),
            _pct(m["top1"]),
            _pct(m["top3"]),
            _dec(m["macro_f1"]),
            _dec(m["ece"]),
        ]
        by_level = {r["level"]: r for r in m["coverage"]}
        for level in levels:
            r = by_level.get(level)
            row += [_pct(r and r["coverage"]), _dec(r and r["mean_set_size"], 2)]
        rows.append(row)
    out.append(_table(head, rows, [False] + [True] * (len(head) - 1)))
    notes = [
        "top-1/top-3: the true mineral is the first / among the first three candidates; "
        "ECE: expected calibration error of the top candidate's probability (0 = calibrated)."
    ]
    if levels:
        notes.append(
            "coverage @L: fraction of the conformal prediction sets at confidence L that hold "
            "the true mineral (should be close to L); set size: minerals per set."
        )
    else:
        notes.append("Prediction-set coverage: not available (no method is calibrated).")
    out += [f"<p>{_e(n)}</p>" for n in notes]
    return "\n".join([*out, "</section>"])


def _calibration(methods: dict[str, dict[str, Any]], pngs: dict[str, bytes]) -> str:
    out = ['<section id="calibration"><h2>Calibration</h2>']
    if not methods:
        out.append(f"<p>{_na()}</p>")
    for name in methods:
        label = _method_label(name)
        out.append(f"<h3>{_e(label)}</h3>")
        rel, cov = pngs.get(f"reliability:{name}"), pngs.get(f"coverage:{name}")
        if rel is None:
            out.append(f"<p>Reliability diagram: {_na()}</p>")
        else:
            out.append(
                _img(
                    rel,
                    f"{label} reliability diagram",
                    "Accuracy against the mean confidence of the top candidate in each "
                    "confidence bin; numbers above the bars are answers per bin. A calibrated "
                    "model lies on the dashed diagonal.",
                )
            )
        if cov is None:
            out.append(f"<p>Coverage plot: {_na()} (no calibrated prediction sets).</p>")
        else:
            out.append(
                _img(
                    cov,
                    f"{label} coverage plot",
                    "Achieved coverage of the conformal prediction sets against the nominal "
                    "level (dashed: equal), and the mean set size (right axis).",
                )
            )
    return "\n".join([*out, "</section>"])


def _confusions(methods: dict[str, dict[str, Any]]) -> str:
    out = ['<section id="confusions"><h2>Most confused minerals</h2>']
    if not methods:
        out.append(f"<p>{_na()}</p>")
    for name, m in methods.items():
        out.append(f"<h3>{_e(_method_label(name))}</h3>")
        if not m["confused"]:
            text = "no confusions" if m["top1"] == 1.0 else _NA
            out.append(f"<p>{_na(text)}</p>")
            continue
        n_true = {r["mineral"]: r["n"] for r in m["per_mineral"]}
        rows = []
        for r in m["confused"][:MAX_CONFUSED]:
            total = n_true.get(r["true"])
            share = _pct(r["count"] / total) if r["count"] is not None and total else "n/a"
            rows.append([_e(r["true"]), _e(r["predicted"]), _int(r["count"]), share])
        out.append(
            _table(
                ["True mineral", "Predicted as", "Count", "Share of its test spectra"],
                rows,
                [False, False, True, True],
            )
        )
        if len(m["confused"]) > MAX_CONFUSED:
            out.append(f"<p>{len(m['confused']) - MAX_CONFUSED} more pairs not shown.</p>")
    return "\n".join([*out, "</section>"])


def _weighted(rows: Sequence[dict[str, Any]]) -> tuple[int, float | None]:
    scored = [r for r in rows if r["n"] and r["top1"] is not None]
    total = sum(r["n"] for r in scored)
    return total, (sum(r["n"] * r["top1"] for r in scored) / total if total else None)


def _planetary_rows(m: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    planetary = [r for r in m["per_mineral"] if r["bodies"]]
    rest = [r for r in m["per_mineral"] if not r["bodies"]]
    # worst first; among equals the better-sampled first, then by name; unscored last
    planetary.sort(
        key=lambda r: (r["top1"] is None, r["top1"] or 0.0, -(r["n"] or 0), r["mineral"])
    )
    return planetary, rest


def _planetary(methods: dict[str, dict[str, Any]], pngs: dict[str, bytes]) -> str:
    out = [
        '<section id="planetary"><h2>Planetary minerals</h2>',
        "<p>Top-1 accuracy of the minerals MinDB reports on the Moon, on Mars or in meteorites, "
        "worst first.</p>",
    ]
    if not methods:
        out.append(f"<p>{_na()}</p>")
    for name, m in methods.items():
        label = _method_label(name)
        out.append(f"<h3>{_e(label)}</h3>")
        if not m["per_mineral"]:
            out.append(f"<p>Per-mineral accuracy: {_na()}</p>")
            continue
        planetary, rest = _planetary_rows(m)
        if not planetary:
            out.append(
                f"<p>{_na('No mineral of this test set is reported on a planetary body in MinDB.')}"
                "</p>"
            )
        else:
            bodies = _body_order([b for r in planetary for b in r["bodies"]])
            summary = []
            for body in bodies:
                on = [r for r in planetary if body in r["bodies"]]
                n, acc = _weighted(on)
                summary.append([_e(_body_label(body)), str(len(on)), str(n), _pct(acc)])
            out.append(
                _table(
                    ["Body", "Minerals", "Test spectra", "Top-1 (over spectra)"],
                    summary,
                    [False, True, True, True],
                )
            )
            rows = [
                [
                    _e(r["mineral"]),
                    "".join(
                        f'<span class="tag">{_e(_body_label(b))}</span>'
                        for b in _body_order(r["bodies"])
                    ),
                    _int(r["n"]),
                    _pct(r["top1"]),
                ]
                for r in planetary
            ]
            out.append(
                _table(["Mineral", "Reported on", "n", "Top-1"], rows, [False, False, True, True])
            )
            chart = pngs.get(f"planetary:{name}")
            if chart is not None:
                scored = sum(r["top1"] is not None for r in planetary)
                which = (
                    f"the {MAX_BARS} worst of {scored}"
                    if scored > MAX_BARS
                    else _plural(scored, "planetary mineral")
                )
                out.append(
                    _img(
                        chart,
                        f"{label} top-1 accuracy of planetary minerals",
                        f"Top-1 accuracy of {which}, worst first "
                        "(bodies in brackets, n = test spectra).",
                    )
                )
        n, acc = _weighted(rest)
        if rest:
            low = sum(1 for r in rest if r["top1"] is not None and r["top1"] < 0.5)
            line = (
                f"Other minerals (not reported on a planetary body): "
                f"{_plural(len(rest), 'mineral')}, {_plural(n, 'test spectrum', 'test spectra')}, "
                f"top-1 {_pct(acc)} over their spectra, {low} below 50%."
            )
        else:
            line = "Other minerals (not reported on a planetary body): none in this test set."
        out.append(f"<p>{_e(line)}</p>")
    return "\n".join([*out, "</section>"])


def _scalar(value: Any, key: str) -> str | None:
    if isinstance(value, bool):
        return _e(str(value).lower())
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v):
            return "n/a"
        if key == "n" and v.is_integer():
            return str(int(v))
        return f"{v:.3f}"
    if isinstance(value, str):
        return _e(value)
    return None  # nested parts are left out


def _mixture(mixture: Mapping[str, Any] | None) -> str:
    out = ['<section id="mixture"><h2>Mixtures</h2>']
    rows = []
    known = list(_MIXTURE_LABELS)
    order = sorted(
        mixture or {}, key=lambda k: (known.index(k) if k in known else len(known), str(k))
    )
    for key in order:
        cell = _scalar(mixture[key], str(key))  # type: ignore[index]
        if cell is not None:
            rows.append([_e(_MIXTURE_LABELS.get(str(key), str(key))), cell])
    if rows:
        out.append(_table(["Metric", "Value"], rows, [False, True]))
    else:
        out.append(f"<p>Mixture metrics: {_na()}</p>")
    return "\n".join([*out, "</section>"])


def _json_block(value: Any) -> str:
    text = json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str)
    return f"<pre>{_e(text)}</pre>"


def _lineage(lin: dict[str, Any] | None) -> str:
    out = ['<section id="lineage"><h2>Lineage</h2>']
    if not lin:
        out.append(f"<p>{_na()}</p>")
        return "\n".join([*out, "</section>"])

    def cell(key: str) -> str:
        value = lin.get(key)
        return _na() if value is None or value == "" else _e(value)

    mlflow = lin.get("mlflow")
    rows = [
        ["Model", cell("model")],
        ["Dataset version", cell("dataset_version")],
        ["Code version", cell("code_version")],
        ["Config sha256", f"<code>{cell('config_sha256')}</code>"],
    ]
    if mlflow:
        rows += [
            ["MLflow run", _e(mlflow.get("run_id") or "") or _na()],
            ["MLflow model version", _e(mlflow.get("model_version") or "") or _na()],
        ]
    else:
        rows.append(["MLflow", _na("not tracked")])
    known = {"model", "dataset_version", "code_version", "config_sha256", "mlflow"}
    known |= {"config", "metrics"}
    for key in sorted(k for k in lin if k not in known):
        value = lin[key]
        scalar = _scalar(value, str(key))
        rows.append([_e(key), scalar if scalar is not None else _json_block(value)])
    out.append(
        "<table><tbody>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
        + "</tbody></table>"
    )
    out.append("<h3>Config</h3>")
    out.append(_json_block(lin["config"]) if lin.get("config") is not None else f"<p>{_na()}</p>")
    if lin.get("metrics") is not None:
        out += ["<h3>Logged metrics</h3>", _json_block(lin["metrics"])]
    return "\n".join([*out, "</section>"])


# ---------------------------------------------------------------------------------- files
def _write_atomic(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _out_dir(out_dir: str | Path) -> Path:
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise InputError(f"out_dir {path}: is a file, not a folder; give a folder for the report")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"out_dir {path}: cannot create the folder ({exc.strerror}); choose another one"
        ) from None
    return path


def write_report(
    evaluation: Mapping[str, Any],
    out_dir: str | Path,
    *,
    lineage: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> ReportFiles:
    """Write the HTML report of an evaluation (and its PNG plots) into ``out_dir``.

    Parameters
    ----------
    evaluation : mapping
        The evaluation step's document: ``model``, ``dataset`` (``version``, ``n_spectra``,
        ``n_minerals``, ``n_test_spectra``), ``methods`` (per method ``n``, ``top1``, ``top3``,
        ``macro_f1``, ``ece``, ``reliability``, ``coverage``, ``confused``, ``per_mineral``) and
        optionally ``mixture`` (its numeric and text entries are listed). Any part may be
        missing; it then reads "not available".
    out_dir : str or Path
        Folder of the report (created if needed). ``report.html`` and the PNG files
        (``reliability_<method>.png``, ``coverage_<method>.png``, ``planetary_<method>.png``)
        replace files of the same name.
    lineage : mapping, optional
        ``model``, ``dataset_version``, ``config`` (shown as a JSON block), ``config_sha256``,
        ``code_version``, ``metrics``, ``mlflow`` (``run_id``, ``model_version``); other keys
        are listed too.
    title : str, optional
        Defaults to "lithoscope evaluation: <model>".

    Returns
    -------
    ReportFiles

    Raises
    ------
    InputError
        A malformed evaluation or lineage (one line naming the key, e.g.
        ``evaluation['methods']``), ``out_dir`` is a file or cannot be created, or matplotlib
        is not installed.

    Examples
    --------
    >>> import tempfile
    >>> ev = {"model": "raman-lib@3", "methods": {"raman": {"n": 4, "top1": 0.75}}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = write_report(ev, tmp)
    ...     print(files.html.name, files.plots, "75.0%" in files.html.read_text())
    report.html [] True
    """
    ev = _check(evaluation)
    lin = _check_lineage(lineage)
    model = ev["model"] or (lin or {}).get("model")
    title = title if title is not None else f"lithoscope evaluation: {model or 'model'}"
    folder = _out_dir(out_dir)

    pngs: dict[str, bytes] = {}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for name, m in ev["methods"].items():
        label = _method_label(name)
        slug = _slug(name, taken)
        drawn = {
            "reliability": _reliability_png(label, m),
            "coverage": _coverage_png(label, m),
            "planetary": _planetary_png(label, _planetary_rows(m)[0]),
        }
        for kind, data in drawn.items():
            if data is not None:
                pngs[f"{kind}:{name}"] = data
                names[f"{kind}:{name}"] = f"{kind}_{slug}.png"

    from lithoscope import __version__

    now = datetime.now(UTC).replace(microsecond=0)
    body = "\n".join(
        [
            _header(ev, lin, title, now),
            "<main>",
            _metrics(ev["methods"]),
            _calibration(ev["methods"], pngs),
            _confusions(ev["methods"]),
            _planetary(ev["methods"], pngs),
            _mixture(ev["mixture"]),
            _lineage(lin),
            "</main>",
            f"<footer>Written by lithoscope {_e(__version__)}.</footer>",
        ]
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # nothing may load from elsewhere: the page must open offline
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )
    plots = [_write_atomic(folder / names[key], data) for key, data in pngs.items()]
    report = _write_atomic(folder / "report.html", page.encode("utf-8"))
    return ReportFiles(html=report, plots=plots)
