"""Measurement and grouping of one sample's spectra."""

from __future__ import annotations

import pytest

from lithoscope.errors import InputError
from lithoscope.spectra.measurement import Context, Measurement, group_measurements
from lithoscope.spectra.spectrum import Spectrum


def sp(method, sample=None, file=None):
    meta = {k: v for k, v in {"sample_id": sample, "file": file}.items() if v is not None}
    return Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.5], method, metadata=meta)


def test_one_spectrum_is_the_one_entry_case():
    m = Measurement.of(sp("raman", "R040031", "a.txt"))
    assert m.methods == ("raman",) and m.name == "a.txt" and m.sample_id == "R040031"
    assert "raman" in m and "ir" not in m and len(m) == 1
    assert m["raman"].metadata["file"] == "a.txt"


def test_methods_come_in_a_fixed_order_and_names_join():
    m = Measurement({"vnir": sp("vnir", file="v.csv"), "raman": sp("raman", file="r.txt")})
    assert m.methods == ("raman", "vnir") and m.name == "r.txt+v.csv"


@pytest.mark.parametrize(
    ("spectra", "match"),
    [
        ({}, "at least one spectrum"),
        ({"raman": sp("ir")}, "holds a ir spectrum"),
        ({"uv": sp("raman")}, "not one of"),
        ({"raman": [1, 2]}, "expected a Spectrum"),
    ],
)
def test_bad_measurements_are_refused(spectra, match):
    with pytest.raises(InputError, match=match):
        Measurement(spectra)


def test_context_is_validated():
    c = Context(body="Mars", chemistry={"FeO": "15.6"}, elements=["Fe", "Mg"])
    assert c.to_dict() == {"body": "mars", "chemistry": {"FeO": 15.6}, "elements": ["Fe", "Mg"]}
    with pytest.raises(InputError, match="body 'Venus' is not one of"):
        Context(body="Venus")
    with pytest.raises(InputError, match="outside 0-100"):
        Context(chemistry={"SiO2": 140})
    with pytest.raises(InputError, match="expected a number"):
        Context(chemistry={"SiO2": "lots"})


def test_group_by_rruff_id_keeps_order_and_singles():
    spectra = [
        sp("raman", "R1", "r1.txt"),
        sp("ir", "R2", "i2.txt"),
        sp("ir", "R1", "i1.txt"),
        sp("raman", None, "loose.txt"),
    ]
    groups = group_measurements(spectra, context=Context(body="moon"))
    assert [g.name for g in groups] == ["r1.txt+i1.txt", "i2.txt", "loose.txt"]
    assert [g.sample_id for g in groups] == ["R1", "R2", None]
    assert groups[0].methods == ("raman", "ir") and groups[0].context.body == "moon"


def test_group_by_a_user_key_and_duplicate_methods():
    spectra = [sp("raman", file="a_1.txt"), sp("ir", file="a_2.txt")]
    groups = group_measurements(spectra, by=lambda s: s.metadata["file"].split("_")[0])
    assert len(groups) == 1 and groups[0].methods == ("raman", "ir")
    with pytest.raises(InputError, match="both raman spectra"):
        group_measurements([sp("raman", "R1", "x.txt"), sp("raman", "R1", "y.txt")])
