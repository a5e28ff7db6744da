"""train --method raman,ir: one bundle of both methods with a calibrated fused answer."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict

import numpy as np
import pytest

from lithoscope.data.ingest import ingest, ingest_ima
from lithoscope.mindb import connect
from lithoscope.models.fusion import late_fusion
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.pipeline.train import _in_calibration, train
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.measurement import group_measurements


@pytest.fixture(scope="module")
def zips(tmp_path_factory, shared_data):
    """Raman and IR zips of 25 minerals with IR spectra of 3+ samples, and their IMA rows."""
    root = tmp_path_factory.mktemp("fusion")
    raman_zip = zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip")
    ir_zip = zipfile.ZipFile(shared_data / "rruff" / "infrared" / "Processed.zip")
    ir_by: dict[str, set[str]] = defaultdict(set)
    for n in ir_zip.namelist():
        m = re.match(r"([^_]+)__([RX]\d{6})", n)
        ir_by[m.group(1)].add(n)
    raman_names = {re.match(r"([^_]+)__", n).group(1) for n in raman_zip.namelist()}
    chosen = sorted(k for k, v in ir_by.items() if len(v) >= 3 and k in raman_names)[:25]
    for name, source in (("raman.zip", raman_zip), ("ir.zip", ir_zip)):
        with zipfile.ZipFile(root / name, "w") as out:
            for n in source.namelist():
                if re.match(r"([^_]+)__", n).group(1) in chosen:
                    out.writestr(n, source.read(n))
    ima = (
        shared_data / "rruff" / "ima" / "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
    )
    rows = list(csv.DictReader(io.StringIO(ima.read_text(encoding="utf-8-sig"))))
    keys = {re.sub(r"[^a-z0-9]", "", c.lower()) for c in chosen}
    keep = [r for r in rows if re.sub(r"[^a-z0-9]", "", r["Mineral Name"].lower()) in keys]
    with (root / "ima.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return root, raman_zip, ir_zip


def test_hash_split_keeps_a_sample_on_one_side():
    ids = np.array([f"R{i:06d}" for i in range(2000)])
    held = _in_calibration(ids, 0.15)
    assert 0.12 < held.mean() < 0.18
    np.testing.assert_array_equal(held, _in_calibration(ids[::-1], 0.15)[::-1])


def test_raman_and_ir_trained_together_give_fused_sets(zips, tmp_path):
    root, raman_zip, ir_zip = zips
    with connect() as db:
        db.build()
        ingest_ima(db, root / "ima.csv", progress=False)
        ingest(db, str(root / "raman.zip"), progress=False)
        ingest(db, str(root / "ir.zip"), progress=False)
        result = train(db, "raman,ir", "library", calibration_size=0.3)
    assert str(result.ref) == "raman-ir-library@1"
    bundle, _ = Registry().load("raman-ir-library", method="raman")
    assert set(bundle.methods) == {"raman", "ir"}
    assert bundle.fusion is not None and bundle.fusion.methods == ("raman", "ir")
    assert result.calibration["fusion"]["n_calibration_samples"] >= 10
    again = IdentificationModel.load(bundle.path)
    assert again.fusion is not None
    np.testing.assert_array_equal(again.fusion.classes, bundle.fusion.classes)
    # a sample measured by both methods gets one fused answer with a prediction set
    spectra = []
    for zf in (raman_zip, ir_zip):
        for n in zf.namelist():
            if n.startswith(f"{bundle.part('ir').classes[0]}__"):
                spectra.append(parse_spectrum(zf.read(n).decode(), n))
    by_sample: dict[str, list] = defaultdict(list)
    for s in spectra:
        by_sample[s.metadata["sample_id"]].append(s)
    both = [v for v in by_sample.values() if {x.method.value for x in v} >= {"raman", "ir"}]
    assert both, "a sample with Raman and IR spectra"
    pick = both[0]
    sample = [next(x for x in pick if x.method.value == m) for m in ("raman", "ir")]
    [answer] = identify_batch(group_measurements(sample), again)
    assert answer.methods == ["raman", "ir"]
    assert answer.prediction_set and answer.confidence_level == 0.9
    assert answer.unknown is not None and answer.unknown_score is not None
    assert again.fusion.unknown is not None
    assert not any("no prediction set" in w for w in answer.warnings)
    # the late-fusion weights chosen on calibration samples travel in the bundle and are used
    weights = again.fusion.weights
    assert weights == bundle.fusion.weights
    assert weights is not None, "31 calibration samples have both methods: weights are chosen"
    assert set(weights) == {"raman", "ir"}
    assert all(np.isfinite(w) and w >= 0 for w in weights.values())
    parts = {m: (r.classes, r.proba[None, :]) for m, r in answer.by_method.items()}
    _, expected = late_fusion(parts, classes=again.fusion.classes, weights=weights)
    np.testing.assert_allclose(answer.proba, expected[0], rtol=1e-12, atol=1e-15)
    assert result.calibration["fusion"]["weights"] == weights
