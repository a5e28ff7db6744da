"""The HTML report of a pipeline run (lithoscope.pipeline.report).

The evaluation document is computed, not typed in: a logistic regression on overlapping Gaussian
classes, its probabilities scored (top-1, top-3, macro-F1 by scikit-learn, reliability bins and
ECE by a NumPy reference) and split-conformal sets at three levels (ConformalPredictor), in the
schema the evaluation step writes.
"""

from __future__ import annotations

import base64
import copy
import doctest
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from lithoscope.errors import InputError
from lithoscope.pipeline import report as report_module
from lithoscope.pipeline.report import ReportFiles, write_report
from lithoscope.uncertainty.conformal import ConformalPredictor
from lithoscope.uncertainty.metrics import coverage, mean_set_size

mpimg = pytest.importorskip("matplotlib.image")

EVIL = 'Qu<artz> & "$x$"'  # markup, an ampersand, quotes, and a '$' that matplotlib would parse
MINERALS = ["Forsterite", "Enstatite", "Augite", "Calcite", "Gypsum", "Jarosite", EVIL, "Beryl"]
BODIES = {
    "Forsterite": ["moon", "mars", "meteorite"],
    "Enstatite": ["meteorite"],
    "Augite": ["moon", "mars"],
    "Jarosite": ["mars"],
    EVIL: ["moon"],
}
LEVELS = (0.8, 0.9, 0.95)


def _bins(conf: np.ndarray, hit: np.ndarray, n_bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        out.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "n": n,
                "confidence": float(conf[inside].mean()) if n else None,
                "accuracy": float(hit[inside].mean()) if n else None,
            }
        )
    return out


def _method_doc(seed: int, spread: float) -> dict:
    """One method's metrics from a real fit, in the evaluation step's schema."""
    rng = np.random.default_rng(seed)
    k, d = len(MINERALS), 6
    centres = rng.normal(size=(k, d)) * 1.6
    y = rng.integers(0, k, size=900)
    X = centres[y] + rng.normal(scale=spread, size=(y.size, d))
    fit, cal, test = slice(0, 400), slice(400, 650), slice(650, 900)
    clf = LogisticRegression(max_iter=500).fit(X[fit], y[fit])
    p_cal, p_test = clf.predict_proba(X[cal]), clf.predict_proba(X[test])
    truth = y[test]
    order = np.argsort(-p_test, axis=1)
    hit = order[:, 0] == truth
    conf = p_test.max(axis=1)
    bins = _bins(conf, hit)
    ece = sum(b["n"] / truth.size * abs(b["accuracy"] - b["confidence"]) for b in bins if b["n"])
    cp = ConformalPredictor(method="aps").calibrate(p_cal, y[cal])
    cov = []
    for level in LEVELS:
        sets = cp.predict_sets(p_test, confidence=level)
        cov.append(
            {
                "level": level,
                "coverage": coverage(sets, truth),
                "mean_set_size": mean_set_size(sets),
                "n": int(truth.size),
            }
        )
    names = np.array(MINERALS, dtype=object)
    pairs = Counter((names[t], names[p]) for t, p in zip(truth, order[:, 0], strict=True) if t != p)
    per = []
    for j, name in enumerate(MINERALS):
        mask = truth == j
        if mask.any():
            per.append(
                {
                    "mineral": name,
                    "n": int(mask.sum()),
                    "top1": float(hit[mask].mean()),
                    "bodies": BODIES.get(name, []),
                }
            )
    return {
        "n": int(truth.size),
        "top1": float(hit.mean()),
        "top3": float(np.mean([t in row[:3] for t, row in zip(truth, order, strict=True)])),
        "macro_f1": float(f1_score(truth, order[:, 0], average="macro")),
        "ece": float(ece),
        "reliability": bins,
        "coverage": cov,
        "confused": [
            {"true": t, "predicted": p, "count": c} for (t, p), c in pairs.most_common(20)
        ],
        "per_mineral": per,
    }


@pytest.fixture(scope="module")
def evaluation() -> dict:
    return {
        "model": "raman-lib@3",
        "dataset": {
            "version": "ds-2024.1",
            "n_spectra": 900,
            "n_minerals": 8,
            "n_test_spectra": 250,
        },
        "methods": {
            # given out of order: the report shows raman, ir, fused
            "fused": _method_doc(2, 1.0),
            "ir": _method_doc(1, 1.6),
            "raman": _method_doc(0, 1.3),
        },
        "mixture": {"micro_f1": 0.8125, "mae_vol_percent": 6.25, "n": 40, "rmse_vol_percent": 8.5},
    }


LINEAGE = {
    "model": "raman-lib@3",
    "dataset_version": "ds-2024.1",
    "config": {"name": "raman-lib", "seed": 0, "model": {"kind": "library", "params": {}}},
    "config_sha256": "ab" * 32,
    "code_version": "0.1.0+g1234abc",
    "metrics": {"raman.top1": 0.9},
    "mlflow": {"run_id": "0123abcd", "model_version": "3"},
}


class _Page(HTMLParser):
    """Tables (rows of cell texts), image sources and every element of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.pres: list[str] = []
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None
        self.refs: list[str] = []
        self.tags: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self._pre.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _table_with(page: _Page, header: str) -> list[list[str]]:
    return next(t for t in page.tables if t and header in t[0])


def _section(text: str, anchor: str) -> str:
    start = text.index(f'<section id="{anchor}">')
    return text[start : text.index("</section>", start)]


@pytest.fixture(scope="module")
def written(evaluation, tmp_path_factory) -> tuple[ReportFiles, Path]:
    out = tmp_path_factory.mktemp("report") / "nested" / "run"  # created on demand
    return write_report(evaluation, out, lineage=LINEAGE), out


def test_files_written_into_out_dir(written):
    files, out = written
    assert files.html == out / "report.html"
    names = [p.name for p in files.plots]
    expected = [
        f"{kind}_{m}.png"
        for m in ("raman", "ir", "fused")
        for kind in ("reliability", "coverage", "planetary")
    ]
    assert names == expected
    # atomic writes leave no temporary file behind
    assert sorted(p.name for p in out.iterdir()) == sorted([*expected, "report.html"])
    for png in files.plots:
        image = mpimg.imread(png)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300


def test_images_embedded_and_nothing_external(written):
    files, _ = written
    page = _parse(files.html)
    assert len(page.images) == len(files.plots)
    on_disk = {p.read_bytes() for p in files.plots}
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) in on_disk
    # self-contained: only data: images and in-page anchors, no script, no stylesheet link
    assert all(r.startswith(("data:", "#")) for r in page.refs)
    assert page.tags["script"] == 0 and page.tags["link"] == 0
    assert "http://" not in files.html.read_text() and "https://" not in files.html.read_text()


def test_metrics_table_has_the_numbers(written, evaluation):
    page = _parse(written[0].html)
    table = _table_with(page, "macro-F1")
    head = table[0]
    assert head[:6] == ["Method", "n", "top-1", "top-3", "macro-F1", "ECE"]
    assert head[6:] == [
        "coverage @80%",
        "set size @80%",
        "coverage @90%",
        "set size @90%",
        "coverage @95%",
        "set size @95%",
    ]
    assert [row[0] for row in table[1:]] == ["Raman", "IR", "Fused"]
    for row, key in zip(table[1:], ("raman", "ir", "fused"), strict=True):
        m = evaluation["methods"][key]
        expected = [
            str(m["n"]),
            f"{100 * m['top1']:.1f}%",
            f"{100 * m['top3']:.1f}%",
            f"{m['macro_f1']:.3f}",
            f"{m['ece']:.3f}",
        ]
        for c in m["coverage"]:
            expected += [f"{100 * c['coverage']:.1f}%", f"{c['mean_set_size']:.2f}"]
        assert row[1:] == expected


def test_header_and_lineage(written):
    text = written[0].html.read_text()
    page = _parse(written[0].html)
    header = text[: text.index("</header>")]
    for value in ("raman-lib@3", "ds-2024.1", "0.1.0+g1234abc", "900 spectra, 8 minerals"):
        assert value in header
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', header)
    lineage = _section(text, "lineage")
    assert "ab" * 32 in lineage and "0123abcd" in lineage
    config = next(p for p in page.pres if '"name": "raman-lib"' in p)
    assert '"kind": "library"' in config and "\n" in config  # indented, readable


def test_confusions_most_frequent_first(written, evaluation):
    page = _parse(written[0].html)
    tables = [t for t in page.tables if t[0][:3] == ["True mineral", "Predicted as", "Count"]]
    assert len(tables) == 3
    raman = evaluation["methods"]["raman"]
    rows = tables[0][1:]
    assert len(rows) == min(report_module.MAX_CONFUSED, len(raman["confused"]))
    first = raman["confused"][0]
    assert rows[0][:3] == [first["true"], first["predicted"], str(first["count"])]
    counts = [int(r[2]) for r in rows]
    assert counts == sorted(counts, reverse=True)


def test_planetary_rows_sorted_worst_first_with_bodies(written, evaluation):
    page = _parse(written[0].html)
    tables = [t for t in page.tables if t[0] == ["Mineral", "Reported on", "n", "Top-1"]]
    assert len(tables) == 3
    raman = evaluation["methods"]["raman"]
    planetary = [r for r in raman["per_mineral"] if r["bodies"]]
    rows = tables[0][1:]
    assert {r[0] for r in rows} == {r["mineral"] for r in planetary}  # EVIL included, unescaped
    by_name = {r["mineral"]: r for r in planetary}
    shown = [by_name[r[0]]["top1"] for r in rows]
    assert shown == sorted(shown)
    for row in rows:
        assert row[3] == f"{100 * by_name[row[0]]['top1']:.1f}%"
    forsterite = next(r for r in rows if r[0] == "Forsterite")
    assert forsterite[1] == "MoonMarsmeteorites"  # one tag per body, in body order
    # the per-body summary counts the minerals reported there
    summary = next(t for t in page.tables if t[0][:2] == ["Body", "Minerals"])
    assert [r[:2] for r in summary[1:]] == [["Moon", "3"], ["Mars", "3"], ["meteorites", "2"]]
    # the rest in one line
    rest = [r for r in raman["per_mineral"] if not r["bodies"]]
    n_rest = sum(r["n"] for r in rest)
    top1 = sum(r["n"] * r["top1"] for r in rest) / n_rest
    text = _section(written[0].html.read_text(), "planetary")
    assert f"{len(rest)} minerals, {n_rest} test spectra, top-1 {100 * top1:.1f}%" in text


def test_strings_from_the_data_are_escaped(written):
    text = written[0].html.read_text()
    assert "Qu<artz>" not in text
    assert "Qu&lt;artz&gt; &amp; &quot;$x$&quot;" in text


def test_mixture_metrics_including_extra_keys(written):
    page = _parse(written[0].html)
    table = dict(map(tuple, _table_with(page, "Metric")[1:]))
    assert table["mixtures (n)"] == "40"
    assert table["micro-F1 of the minerals present"] == "0.812"  # 0.8125 rounds half to even
    assert table["mean absolute error of the volume fractions (vol%)"] == "6.250"
    assert table["rmse_vol_percent"] == "8.500"


def test_deterministic_apart_from_the_date_and_input_untouched(written, evaluation, tmp_path):
    a = written[0]  # the same evaluation, written earlier into another folder
    before = copy.deepcopy(evaluation)
    b = write_report(evaluation, tmp_path, lineage=LINEAGE)
    assert evaluation == before

    def undated(path: Path) -> str:
        return re.sub(r"<time [^>]*>[^<]*</time>", "<time/>", path.read_text())

    assert undated(a.html) == undated(b.html)
    assert [p.read_bytes() for p in a.plots] == [p.read_bytes() for p in b.plots]


def test_empty_evaluation_renders_not_available(tmp_path):
    files = write_report({}, tmp_path)
    assert files.plots == []
    text = files.html.read_text()
    for anchor in ("metrics", "calibration", "confusions", "planetary", "mixture", "lineage"):
        assert "not available" in _section(text, anchor), anchor


def test_missing_parts_of_a_method(tmp_path):
    ev = {
        "model": "ir-lib@1",
        "methods": {
            "ir": {
                "n": 12,
                "top1": 0.5,
                "top3": 0.75,
                "macro_f1": 0.4,
                "ece": None,
                "reliability": [],
                "coverage": [],  # not calibrated
                "confused": [],
                "per_mineral": [{"mineral": "Calcite", "n": 12, "top1": 0.5, "bodies": []}],
            },
            "libs": {"n": 3},
        },
    }
    files = write_report(
        ev, tmp_path, title="IR <only>", lineage={"code_version": "0.1.0", "mlflow": None}
    )
    assert files.plots == []
    text = files.html.read_text()
    assert "<title>IR &lt;only&gt;</title>" in text
    table = _table_with(_parse(files.html), "macro-F1")
    assert table[0] == ["Method", "n", "top-1", "top-3", "macro-F1", "ECE"]
    assert table[1] == ["IR", "12", "50.0%", "75.0%", "0.400", "n/a"]
    assert table[2] == ["LIBS", "3", "n/a", "n/a", "n/a", "n/a"]
    assert "no method is calibrated" in _section(text, "metrics")
    calibration = _section(text, "calibration")
    assert calibration.count("not available") == 4
    planetary = _section(text, "planetary")
    assert "No mineral of this test set is reported on a planetary body" in planetary
    assert "1 mineral, 12 test spectra, top-1 50.0%" in planetary
    lineage = _section(text, "lineage")
    assert "not tracked" in lineage and "0.1.0" in lineage
    assert 'Config</h3>\n<p><span class="na">not available' in lineage


def test_unknown_method_names_become_safe_file_names(tmp_path):
    m = {"reliability": [{"lower": 0.5, "upper": 1.0, "n": 4, "confidence": 0.8, "accuracy": 0.75}]}
    files = write_report({"methods": {"raman": m, "../x y": m, "..x-y": m}}, tmp_path)
    assert [p.name for p in files.plots] == [
        "reliability_raman.png",
        "reliability_x-y.png",
        "reliability_x-y-2.png",
    ]
    assert all(p.parent == tmp_path for p in files.plots)


@pytest.mark.parametrize(
    ("evaluation", "match"),
    [
        ([1, 2], r"^evaluation: expected a mapping"),
        ({"methods": ["raman"]}, r"^evaluation\['methods'\]: expected a mapping of method"),
        ({"methods": {"raman": 0.9}}, r"^evaluation\['methods'\]\['raman'\]: expected a mapping"),
        ({"methods": {"raman": {"top1": "high"}}}, r"\['raman'\]\['top1'\]: expected a number"),
        ({"methods": {"raman": {"n": 2.5}}}, r"\['raman'\]\['n'\]: expected a count"),
        ({"methods": {"ir": {"coverage": {"level": 0.9}}}}, r"\['coverage'\]: expected a list"),
        ({"methods": {"ir": {"coverage": [{"level": 90}]}}}, r"\['level'\]: expected a confid"),
        ({"methods": {"ir": {"confused": [{"true": "A"}]}}}, r"\['predicted'\]: expected a str"),
        (
            {"methods": {"ir": {"per_mineral": [{"mineral": "A", "bodies": "mars"}]}}},
            r"\['per_mineral'\]\[0\]\['bodies'\]: expected a list",
        ),
        ({"dataset": "v1"}, r"^evaluation\['dataset'\]: expected a mapping"),
        ({"mixture": [0.5]}, r"^evaluation\['mixture'\]: expected a mapping"),
    ],
)
def test_malformed_evaluation_is_one_line_naming_the_key(evaluation, match, tmp_path):
    with pytest.raises(InputError, match=match) as info:
        write_report(evaluation, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_bad_lineage_and_out_dir(tmp_path):
    with pytest.raises(InputError, match=r"^lineage: expected a mapping"):
        write_report({}, tmp_path, lineage=["x"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^lineage\['mlflow'\]: expected a mapping"):
        write_report({}, tmp_path, lineage={"mlflow": "run-1"})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"is a file, not a folder"):
        write_report({}, blocker)


def test_doctests():
    result = doctest.testmod(report_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
