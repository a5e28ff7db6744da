"""Spectral tables (one spectrum per column or per row) and RELAB .tab files, on small cases."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    SpectrumWarning,
    detect_format,
    parse_spectra,
    read_spectra,
    read_spectrum,
)
from lithoscope.spectra.io.tables import find_row_companions

USGS = (
    "wavelength_um,kaolinite_wxl|Kaolinite_CM9_NIC4bbb_RREF,chalcedony|Chalcedony_CU91-6A_BECKa_AREF\n"
    "0.350,,0.61\n0.351,,0.62\n0.352,0.70,0.63\n0.353,0.71,0.64\n0.354,0.72,nan\n"
)


def test_column_table_usgs_style():
    spectra = parse_spectra(USGS, "lib.csv")
    assert detect_format(USGS, "lib.csv") == "table-columns"
    kaolinite, chalcedony = spectra
    assert kaolinite.method is Method.VNIR and kaolinite.unit is AxisUnit.WAVELENGTH_NM
    np.testing.assert_allclose(kaolinite.axis, [352, 353, 354], rtol=1e-12)
    np.testing.assert_array_equal(kaolinite.intensities, [0.70, 0.71, 0.72])
    np.testing.assert_allclose(chalcedony.axis, [350, 351, 352, 353], rtol=1e-12)
    assert kaolinite.metadata["mica_rule"] == "kaolinite_wxl"
    assert kaolinite.metadata["record"] == "Kaolinite_CM9_NIC4bbb_RREF"
    assert kaolinite.metadata["sample_id"] == "Kaolinite_CM9"
    assert kaolinite.metadata["source"] == "USGS splib07"
    assert kaolinite.metadata["missing_points"] == 2 and chalcedony.metadata["missing_points"] == 1


def test_column_table_libs_style_and_std_columns():
    text = "wavelength_nm,Cuprite (id 41),Cuprite std,Azurite (id 11)\n"
    text += "180.0,0.1,0.01,0.3\n180.1,0.2,0.01,0.4\n180.2,0.3,0.02,0.5\n"
    spectra = parse_spectra(text, "libs_averages.csv")
    assert [s.metadata["column"] for s in spectra] == ["Cuprite (id 41)", "Azurite (id 11)"]
    assert [s.label for s in spectra] == ["Cuprite", "Azurite"]
    assert spectra[0].metadata["table_mineral_id"] == 41
    assert all(s.method is Method.LIBS for s in spectra)


@pytest.mark.parametrize(
    ("header", "filename", "method", "unit"),
    [
        ("wavelength (nm)\treflectance a\treflectance b", "x.txt", Method.VNIR, None),
        ("Wavelength (nm)\tLIBS a\tLIBS b", "x.txt", Method.LIBS, None),
        ("raman shift\ta\tb", "x.txt", Method.RAMAN, AxisUnit.RAMAN_SHIFT),
        ("wavenumber\tabsorbance a\tabsorbance b", "x.txt", Method.IR, AxisUnit.WAVENUMBER),
        ("2theta\ta\tb", "x.txt", Method.XRD, AxisUnit.TWO_THETA),
        ("wavelength_nm\ta\tb", "relab_avg.txt", Method.VNIR, None),
        ("wavelength_nm\ta\tb", "chemcam_targets.txt", Method.LIBS, None),
    ],
)
def test_column_table_method_hints(header, filename, method, unit):
    text = header + "\n100\t1\t2\n200\t3\t4\n"
    spectra = parse_spectra(text, filename)
    assert {s.method for s in spectra} == {method}
    assert spectra[0].unit is (unit or AxisUnit.WAVELENGTH_NM)


def test_column_table_needs_a_method_when_nothing_tells():
    text = "wavelength_nm,a,b\n500,1,2\n510,3,4\n"
    with pytest.raises(SpectrumFileError, match=r"t\.csv: the table does not say which method"):
        parse_spectra(text, "t.csv")
    assert parse_spectra(text, "t.csv", method="vnir")[0].method is Method.VNIR


def test_column_table_decreasing_axis_is_sorted():
    text = "wavelength_nm,a,b\n520,5,6\n510,3,4\n500,1,2\n"
    with pytest.warns(SpectrumWarning, match="decreasing"):
        a, b = parse_spectra(text, "t.csv", method="vnir")
    np.testing.assert_array_equal(a.axis, [500, 510, 520])
    np.testing.assert_array_equal(b.intensities, [2, 4, 6])


def test_column_table_errors():
    with pytest.raises(SpectrumFileError, match=r"line 3: the axis value is missing"):
        parse_spectra("wavelength_nm,a,b\n500,1,2\n,3,4\n", "t.csv", method="vnir")
    with pytest.raises(SpectrumFileError, match=r"column 'b' has 1 value"):
        parse_spectra("wavelength_nm,a,b\n500,1,2\n510,3,\n", "t.csv", method="vnir")
    with pytest.raises(SpectrumFileError, match="lines 2 and 3: axis value 500 appears twice"):
        parse_spectra("wavelength_nm,a,b\n500,1,2\n500,3,4\n", "t.csv", method="vnir")
    with pytest.raises(SpectrumFileError, match="no spectrum columns"):
        parse_spectra("wavelength_nm,a std,b err\n500,1,2\n510,3,4\n", "t.csv", method="vnir")
    with pytest.raises(SpectrumFileError, match="does not name an axis"):
        parse_spectra("time,a,b\n500,1,2\n510,3,4\n", "t.csv", format="table-columns")


ROWS = "row,SpectrumID,450,455,460,465,470\n0,S1,0.1,0.2,0.3,0.4,0.5\n1,S2,0.2,0.3,,0.5,0.6\n"


def test_row_table():
    assert detect_format(ROWS, "t.csv") == "table-rows"
    s1, s2 = parse_spectra(ROWS, "t.csv")
    assert s1.method is Method.VNIR and s1.unit is AxisUnit.WAVELENGTH_NM
    np.testing.assert_array_equal(s1.axis, [450, 455, 460, 465, 470])
    np.testing.assert_array_equal(s2.axis, [450, 455, 465, 470])
    np.testing.assert_array_equal(s2.intensities, [0.2, 0.3, 0.5, 0.6])
    assert s1.metadata["spectrum_id"] == "S1" and s1.metadata["row"] == "0"
    assert s1.metadata["source"] == "RELAB"
    assert s2.metadata["missing_points"] == 1


def test_row_table_companions(tmp_path):
    (tmp_path / "set_denoised.csv").write_text(ROWS)
    (tmp_path / "set_metadata.csv").write_text(
        "row,SampleID,SpectrumID,SampleName,Source,GeneralType1,Type1\n"
        '0,DP-1,S1,"Olivine, Fo90",Earth,Mineral,Silicate (Neso)\n'
        "1,DP-2,S2,Lunar soil,Moon-Ret,Rock,Highland\n"
    )
    (tmp_path / "set_labels.csv").write_text(
        "row,SpectrumID,OL modal abundances (vol%),OPX modal abundances (vol%),Fa,Fo\n"
        "0,S1,1.0,0.0,0.1,0.9\n1,S2,0.3,0.7,,\n"
    )
    assert set(find_row_companions(tmp_path / "set_denoised.csv")) == {"S1", "S2"}
    s1, s2 = read_spectra(tmp_path / "set_denoised.csv")
    assert s1.metadata["sample_id"] == "DP-1" and s1.metadata["sample_name"] == "Olivine, Fo90"
    assert s1.metadata["sample_origin"] == "Earth"
    assert s1.metadata["modal_composition"] == {"olivine": 1.0, "orthopyroxene": 0.0}
    assert s1.metadata["chemistry"] == {"Fa": 0.1, "Fo": 0.9}
    assert s1.label == "olivine"
    assert s2.label is None and "chemistry" not in s2.metadata
    assert s2.metadata["modal_composition"] == {"olivine": 0.3, "orthopyroxene": 0.7}


def test_row_table_errors():
    with pytest.raises(SpectrumFileError, match=r"line 3: 3 fields, but the header has 7"):
        parse_spectra(ROWS.replace("1,S2,0.2,0.3,,0.5,0.6", "1,S2,0.2"), "t.csv")
    with pytest.raises(SpectrumFileError, match=r"line 3: 1 value\(s\)"):
        parse_spectra(ROWS.replace("1,S2,0.2,0.3,,0.5,0.6", "1,S2,0.2,,,,"), "t.csv")
    with pytest.raises(SpectrumFileError, match="at least 5 adjacent numeric column names"):
        parse_spectra("id,450,a,460\nx,1,2,3\n", "t.csv", format="table-rows", method="vnir")


TAB = (
    "  4\r\n   1428.4   0.18559   0.00267\r\n   1428.8   0.18512   0.00293\r\n"
    "   1429.2   0.18556   0.00324\r\n   1429.6   0.18565   0.00297\r\n\r\n\r\n"
    " BMR1LS101           .ASC\r\n\r\n LS-M1O-101\r\n 62231,42 bulk <1 mm\r\n\r\n"
    " Source Ang: 30.00   Detect Ang:  0.00  Volt: 1.777\r\n Date: 28-MAR-07   Time: 17:07:42\r\n"
)


@pytest.mark.parametrize("filename", ["bmr1ls101.tab", "bmr1ls101.txt"])
def test_relab_tab(filename):
    assert detect_format(TAB, filename) == "relab-tab"
    [s] = parse_spectra(TAB, filename)
    np.testing.assert_array_equal(s.axis, [1428.4, 1428.8, 1429.2, 1429.6])
    np.testing.assert_array_equal(s.intensities, [0.18559, 0.18512, 0.18556, 0.18565])
    assert s.method is Method.VNIR and s.unit is AxisUnit.WAVELENGTH_NM
    meta = s.metadata
    assert meta["spectrum_id"] == "BMR1LS101" and meta["sample_id"] == "LS-M1O-101"
    assert meta["sample_name"] == "62231,42 bulk <1 mm" and meta["date"] == "28-MAR-07"
    assert meta["has_std"] is True and meta["source"] == "RELAB"


def test_relab_tab_without_count_needs_the_suffix():
    text = "320.0   0.08862\r\n330.0   0.09686\r\n340.0   0.10489\r\n"
    assert detect_format(text, "c1bf01.tab") == "relab-tab"
    assert detect_format(text, "c1bf01.txt") == "text"
    [s] = parse_spectra(text, "/x/relab_c1bf01.tab", method="ir")
    assert s.method is Method.IR and s.metadata["spectrum_id"] == "C1BF01"


def test_relab_tab_errors():
    with pytest.raises(SpectrumFileError, match=r"line 3: 3 numbers, but the rows above have 2"):
        parse_spectra("1 2\n3 4\n5 6 7\n", "x.tab")
    with pytest.raises(SpectrumFileError, match=r"line 4: expected 2 or 3 numbers .* 'oops'"):
        parse_spectra("1 2\n3 4\n5 6\noops\n7 8\n", "x.tab", format="relab-tab")


def test_read_spectrum_on_a_table(tmp_path):
    many = tmp_path / "many.csv"
    many.write_text(USGS)
    with pytest.raises(SpectrumFileError, match=r"many\.csv: holds 2 spectra; use read_spectra"):
        read_spectrum(many)
    one = tmp_path / "one.csv"
    one.write_text("wavelength_nm,olivine,olivine std\n500,0.2,0.01\n510,0.3,0.01\n")
    assert read_spectrum(one, method="vnir").metadata["column"] == "olivine"


def test_bad_arguments_are_input_errors_not_file_errors(tmp_path):
    from lithoscope.errors import InputError

    path = tmp_path / "one.csv"
    path.write_text(USGS)
    for kwargs in ({"format": "xlsx"}, {"method": "sonar"}, {"unit": "furlongs"}):
        with pytest.raises(InputError, match="is not one of") as info:
            read_spectra(path, **kwargs)
        assert not isinstance(info.value, SpectrumFileError)


def test_two_columns_with_a_named_axis_keep_their_unit():
    text = "wavelength_um,reflectance\n0.50,0.2\n0.51,0.3\n"
    assert detect_format(text, "t.csv") == "table-columns"
    [s] = parse_spectra(text, "t.csv")
    assert s.method is Method.VNIR
    np.testing.assert_allclose(s.axis, [500, 510], rtol=1e-12)
