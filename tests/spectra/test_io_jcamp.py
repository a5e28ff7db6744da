"""JCAMP-DX reader: AFFN and ASDF forms, checks, pairs and peak tables, units, methods, blocks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    SpectrumWarning,
    detect_format,
    parse_spectra,
    parse_spectrum,
    read_spectra,
    read_spectrum,
)
from lithoscope.spectra.io.jcamp import looks_like_jcamp, parse_jcamp


def _jcamp(data: str, **labels: str) -> str:
    header = {
        "TITLE": "test",
        "JCAMP-DX": "5.01",
        "DATA TYPE": "RAMAN SPECTRUM",
        "XUNITS": "1/CM",
        "YUNITS": "ARBITRARY UNITS",
        "FIRSTX": "1",
        "LASTX": "10",
        "NPOINTS": "10",
        "XYDATA": "(X++(Y..Y))",
    }
    for key, value in labels.items():
        key = key.replace("_", " ")
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    data_label = next(k for k in ("XYDATA", "XYPOINTS", "PEAK TABLE") if k in header)
    lines = [f"##{k}={v}" for k, v in header.items() if k != data_label]
    lines.append(f"##{data_label}={header[data_label]}")
    return "\n".join([*lines, data.strip("\n"), "##END="]) + "\n"


SEQUENCE = [1, 2, 3, 3, 2, 1, 0, -1, -2, -3]


# The same ten ordinates in every form of the JCAMP-DX standard (McDonald & Wilks 1988, table
# of FIX, PAC, SQZ, DIF and DIFDUP), after the abscissa 1.
@pytest.mark.parametrize(
    "line",
    [
        "1 1 2 3 3 2 1 0 -1 -2 -3",  # AFFN, blank separated
        "1,1,2,3,3,2,1,0,-1,-2,-3",  # AFFN, comma separated
        "1+1+2+3+3+2+1+0-1-2-3",  # PAC
        "1ABCCBA@abc",  # SQZ
        "1AJJ%jjjjjj",  # DIF
        "1AJT%jX",  # DIFDUP
    ],
    ids=["affn", "affn-comma", "pac", "sqz", "dif", "difdup"],
)
def test_forms_of_the_standard(line):
    s = parse_spectrum(_jcamp(line), "t.jdx")
    np.testing.assert_array_equal(s.intensities, SEQUENCE)
    np.testing.assert_allclose(s.axis, np.arange(1, 11), rtol=0, atol=1e-12)
    assert s.method is Method.RAMAN and s.unit is AxisUnit.RAMAN_SHIFT


def test_y_check_value_is_dropped():
    s = parse_spectrum(_jcamp("1AJJ%j\n5Bjjjjj"), "t.jdx")
    np.testing.assert_array_equal(s.intensities, SEQUENCE)


def test_y_check_mismatch_is_an_error():
    with pytest.raises(SpectrumFileError, match=r"t\.jdx line 11: y check failed"):
        parse_spectrum(_jcamp("1AJJ%j\n5Cjjjjj"), "t.jdx")


def test_dif_may_continue_from_the_previous_line_without_check():
    s = parse_spectrum(_jcamp("1AJJ%jj\n7jjjj"), "t.jdx")
    np.testing.assert_array_equal(s.intensities, SEQUENCE)


def test_factors_apply():
    text = _jcamp("10 100 200 300 300 200 100 0 -100 -200 -300", XFACTOR="0.1", YFACTOR="0.01")
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_allclose(s.intensities, SEQUENCE, rtol=1e-12)
    np.testing.assert_allclose(s.axis, np.arange(1, 11), rtol=1e-12)


def test_x_comes_from_firstx_lastx_npoints():
    text = _jcamp("100 1 2 3 3 2\n105 1 0 -1 -2 -3", FIRSTX="100", LASTX="109")
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_allclose(s.axis, np.arange(100, 110), rtol=1e-12)


def test_lastx_from_deltax():
    text = _jcamp("100 1 2 3 3 2 1 0 -1 -2 -3", FIRSTX="100", LASTX=None, DELTAX="0.5")
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_allclose(s.axis, 100 + 0.5 * np.arange(10), rtol=1e-12)


def test_decreasing_declared_axis_is_reversed_without_warning(recwarn):
    text = _jcamp("10 1 2 3 3 2 1 0 -1 -2 -3", FIRSTX="10", LASTX="1")
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_array_equal(s.axis, np.arange(1, 11))
    np.testing.assert_array_equal(s.intensities, SEQUENCE[::-1])
    assert not recwarn.list


@pytest.mark.parametrize(
    ("labels", "data", "match"),
    [
        ({"NPOINTS": "11"}, "1ABCCBA@abc", r"line 9: ##NPOINTS=11 but .* 10 ordinates"),
        ({}, "1 1 2 3 3 2\n9 1 0 -1 -2 -3", r"line 11: the line starts at x=9"),
        ({"FIRSTX": "abc"}, "1ABCCBA@abc", r"line 6: ##FIRSTX='abc' is not a finite number"),
        ({"NPOINTS": "2.5"}, "1ABCCBA@abc", r"NPOINTS=2.5 is not a whole number"),
        ({"LASTX": "1"}, "1ABCCBA@abc", r"FIRSTX equals ##LASTX"),
        ({"LASTX": None}, "1ABCCBA@abc", r"needs ##LASTX"),
        ({"XUNITS": None}, "1ABCCBA@abc", r"no ##XUNITS"),
        ({"DATA TYPE": "MASS SPECTRUM"}, "1ABCCBA@abc", r"not a mineral spectrum"),
        ({"DATA TYPE": "SOMETHING"}, "1ABCCBA@abc", r"does not tell the method"),
        ({"XYDATA": "(XYZ..XYZ)"}, "1 2 3", r"not a data form"),
        ({}, "1AJJ%jjjjjS99999", r"DUP count 199999 is impossible"),
        ({}, "1AJJ%jjjjjS9999999999", r"not a small whole number"),
        ({}, "J 1 2", r"starts with its abscissa"),
        ({}, "1 1 2 3 3 2 1 0 -1 -2 1e999", r"overflow to infinity"),
    ],
)
def test_header_and_data_errors(labels, data, match):
    with pytest.raises(SpectrumFileError, match=match) as info:
        parse_spectra(_jcamp(data, **labels), "bad.jdx")
    assert str(info.value).startswith("bad.jdx")


def test_truncation_is_detected():
    text = _jcamp("1 1 2 3 3 2\n6 1 0 -1 -2 -3")
    for cut in (len(text) - 8, len(text) // 2, text.index("##XYDATA")):
        with pytest.raises(SpectrumFileError, match="truncated|ordinates"):
            parse_spectra(text[:cut], "cut.jdx")


def test_comments_and_label_spelling():
    text = _jcamp("$$ a comment line\n1 1 2 3 3 2 1 0 -1 -2 -3 $$ trailing", DATA_TYPE=None)
    text = text.replace("##XUNITS", "##x_units").replace(
        "##TITLE=test", "##TITLE=test\n##DATA-TYPE=Raman"
    )
    s = parse_spectrum(text, "t.jdx")
    assert s.method is Method.RAMAN
    np.testing.assert_array_equal(s.intensities, SEQUENCE)


@pytest.mark.parametrize(
    ("data_type", "xunits", "method", "unit", "scale"),
    [
        ("RAMAN SPECTRUM", "1/CM", Method.RAMAN, AxisUnit.RAMAN_SHIFT, 1.0),
        ("INFRARED SPECTRUM", "1/CM", Method.IR, AxisUnit.WAVENUMBER, 1.0),
        ("IR SPECTRUM", "CM-1", Method.IR, AxisUnit.WAVENUMBER, 1.0),
        ("INFRARED SPECTRUM", "MICROMETERS", Method.IR, AxisUnit.WAVELENGTH_NM, 1000.0),
        ("NEAR INFRARED SPECTRUM", "NANOMETERS", Method.VNIR, AxisUnit.WAVELENGTH_NM, 1.0),
        ("UV/VIS SPECTRUM", "NANOMETERS", Method.VNIR, AxisUnit.WAVELENGTH_NM, 1.0),
        ("UV-VIS SPECTRUM", "µm", Method.VNIR, AxisUnit.WAVELENGTH_NM, 1000.0),
        ("X-RAY DIFFRACTION", "2THETA", Method.XRD, AxisUnit.TWO_THETA, 1.0),
        ("XRD PATTERN", "DEGREES", Method.XRD, AxisUnit.TWO_THETA, 1.0),
        ("", "2THETA", Method.XRD, AxisUnit.TWO_THETA, 1.0),
        ("LIBS SPECTRUM", "NANOMETERS", Method.LIBS, AxisUnit.WAVELENGTH_NM, 1.0),
        ("RAMAN SPECTRUM", "Raman Shift (cm-1)", None, None, None),
    ],
)
def test_data_type_and_units(data_type, xunits, method, unit, scale):
    text = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3", DATA_TYPE=data_type or None, XUNITS=xunits)
    if method is None:
        with pytest.raises(SpectrumFileError, match="XUNITS"):
            parse_spectrum(text, "t.jdx")
        return
    s = parse_spectrum(text, "t.jdx")
    assert (s.method, s.unit) == (method, unit)
    np.testing.assert_allclose(s.axis, scale * np.arange(1, 11), rtol=1e-12)


def test_method_argument_fills_a_gap_and_must_not_contradict():
    text = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3", DATA_TYPE=None, XUNITS="NANOMETERS")
    assert parse_spectrum(text, "t.jdx", method="vnir").method is Method.VNIR
    with pytest.raises(SpectrumFileError, match="file says it is a raman spectrum"):
        parse_spectrum(_jcamp("1 1 2 3 3 2 1 0 -1 -2 -3"), "t.jdx", method="ir")


def test_xy_pairs_and_peak_table():
    pairs = "100, 5; 200, 7\n300 9\n400,1"
    s = parse_spectrum(_jcamp(pairs, XYDATA=None, XYPOINTS="(XY..XY)", NPOINTS="4"), "t.jdx")
    np.testing.assert_array_equal(s.axis, [100, 200, 300, 400])
    np.testing.assert_array_equal(s.intensities, [5, 7, 9, 1])
    assert s.metadata["peak_table"] is False
    peaks = "26.6, 1000, 0.1\n20.8, 220, 0.1\n50.1, 130, 0.2"
    text = _jcamp(
        peaks,
        XYDATA=None,
        NPOINTS=None,
        PEAK_TABLE="(XYW..XYW)",
        DATA_TYPE="X-RAY DIFFRACTION",
        XUNITS="2THETA",
    )
    with pytest.warns(UserWarning, match="not in order"):
        s = parse_spectrum(text, "t.jdx")
    np.testing.assert_array_equal(s.axis, [20.8, 26.6, 50.1])
    np.testing.assert_array_equal(s.intensities, [220, 1000, 130])
    assert s.metadata["peak_table"] is True


def test_metadata_and_custom_labels():
    text = _jcamp(
        "1 1 2 3 3 2 1 0 -1 -2 -3",
        TITLE="Forsterite R040018",
        NAMES="Forsterite\nolivine",
        ORIGIN="RRUFF",
        **{"$SAMPLE ID": "R040018", "$LASER WAVELENGTH": "532 nm"},
    )
    s = parse_spectrum(text, "/data/f.jdx")
    meta = s.metadata
    assert meta["title"] == "Forsterite R040018"
    assert meta["mineral"] == "Forsterite"
    assert meta["sample_id"] == "R040018"
    assert meta["laser_nm"] == 532.0
    assert meta["origin"] == "RRUFF"
    assert meta["file"] == "/data/f.jdx" and meta["format"] == "jcamp"
    assert meta["xunits"] == "1/CM"


def test_link_blocks_give_several_spectra(tmp_path):
    child = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3")
    text = "##TITLE=compound\n##JCAMP-DX=5.01\n##DATA TYPE=LINK\n##BLOCKS=2\n"
    text += child + child.replace("RAMAN", "INFRARED") + "##END=\n"
    path = tmp_path / "two.jdx"
    path.write_text(text)
    spectra = read_spectra(path)
    assert [s.method for s in spectra] == [Method.RAMAN, Method.IR]
    with pytest.raises(SpectrumFileError, match=r"holds 2 spectra; use read_spectra"):
        read_spectrum(path)


def test_block_structure_errors():
    good = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3")
    with pytest.raises(
        SpectrumFileError, match="line 11: ##TITLE= inside the block opened at line 1"
    ):
        parse_spectra(good.replace("##END=\n", "") + good, "j.jdx")
    with pytest.raises(SpectrumFileError, match="no ##XYDATA"):
        parse_spectra("##TITLE=x\n##JCAMP-DX=5.01\n##END=\n", "j.jdx")
    with pytest.raises(SpectrumFileError, match="NTUPLES"):
        parse_spectra("##TITLE=x\n##JCAMP-DX=5.01\n##NTUPLES=NMR\n##END=\n", "j.jdx")
    with pytest.raises(SpectrumFileError, match=r"line 1: 'hello' before the first ##TITLE"):
        parse_spectra("hello\n##JCAMP-DX=5.01\n", "j.jdx")
    with pytest.raises(SpectrumFileError, match="after ##END="):
        parse_spectra(good + "junk\n", "j.jdx")


def test_detection():
    text = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3")
    assert looks_like_jcamp(text) and detect_format(text) == "jcamp"
    assert not looks_like_jcamp("##NAMES=Quartz\n##RRUFFID=R1\n1, 2\n")
    # a RRUFF-looking ##NAMES= label does not take a JCAMP file to the RRUFF reader
    assert detect_format(text.replace("##TITLE=test", "##TITLE=t\n##NAMES=Quartz")) == "jcamp"


# An independent DIFDUP encoder (following the standard), to check decoding on random data.
_SQZ = "@ABCDEFGHI", "abcdefghi"
_DIF = "%JKLMNOPQR", "jklmnopqr"
_DUP = "STUVWXYZs"


def _code(value: int, table: tuple[str, str]) -> str:
    digits = str(abs(value))
    if value < 0:
        return table[1][int(digits[0]) - 1] + digits[1:]
    return table[0][int(digits[0])] + digits[1:]


def _dup(count: int) -> str:
    digits = str(count)
    return _DUP[int(digits[0]) - 1] + digits[1:]


def _difdup_lines(ys: list[int], per_line: int) -> list[str]:
    lines = []
    start = 0
    while start < len(ys):
        chunk = ys[start : start + per_line + 1]  # one extra: the y check of the next line
        tokens = [_code(chunk[0], _SQZ)]
        diffs = np.diff(chunk).tolist()
        i = 0
        while i < len(diffs):
            j = i
            while j + 1 < len(diffs) and diffs[j + 1] == diffs[i]:
                j += 1
            tokens.append(_code(diffs[i], _DIF) + (_dup(j - i + 1) if j > i else ""))
            i = j + 1
        lines.append(f"{start + 1}{''.join(tokens)}")
        start += max(len(chunk) - 1, 1)
    return lines


@settings(max_examples=60, deadline=None)
@given(
    ys=st.lists(st.integers(-100_000, 100_000), min_size=2, max_size=60),
    per_line=st.integers(1, 12),
    repeats=st.integers(0, 5),
)
def test_difdup_decoding_matches_an_independent_encoder(ys, per_line, repeats):
    ys = ys[:1] * repeats + ys  # runs of equal values exercise DUP
    n = len(ys)
    text = _jcamp("\n".join(_difdup_lines(ys, per_line)), LASTX=str(n), NPOINTS=str(n))
    s = parse_jcamp(text, "t.jdx")[0]
    np.testing.assert_array_equal(s.intensities, ys)
    np.testing.assert_allclose(s.axis, np.arange(1, n + 1), rtol=1e-12)


# The first 12 data lines of dupdec1.jdx, a Perkin-Elmer FTIR spectrum in DIFDUP form with y
# checks and a decreasing axis, from R. J. Lancashire's JCAMP-DX test set (##OWNER= public
# domain); NPOINTS/LASTX cut to the 487 points these lines hold.
DUPDEC1 = """##TITLE= dupdec1.jdx
##JCAMP-DX= 4.24     $$ from PE 1605 FTIR
##DATA TYPE= INFRARED SPECTRUM
##ORIGIN= Chem. Dep't, UWI, JAMAICA
##OWNER= public domain
##XUNITS= 1/CM
##YUNITS= TRANSMITTANCE
##XFACTOR= 1.
##YFACTOR= 0.01
##FIRSTX= 4400.
##LASTX= 3914.
##NPOINTS= 487
##FIRSTY= 82.25
##XYDATA= (X++(Y..Y))
4400H225J3RJ1MmRj2rK0k9TJ5J0k7l9k2j6k1KJl4k6oj3j2Jk6m2k1j3k4j2j1l0k6J6
4364G832PjJ6k8l4J2J9k3mJ4j4MPqJ4RK1L6jmj5qJ1QJ2Qj4j2nRK2J0J8qk2OJ6mRJ2
4324G927jj1okj6kNj3J5K2qMRJmqKOj0j6j9KJ6kJJ2lrJ1OM%j4nJ6K1PqMJ1PQKrj5k
4278G936pLJ9J5Nj2q%k5m4k5j2j0k3k0Jkk4l5l2j1nl1m5j2Mj6j9Njk9l3k5J8K9rj6
4241G504ljJ0J6jomJ2J4KTlNK0J6J2K0lj1J9K8OJ3L1J8RJ2rj0L2Qk1MKRL7J0l3lNj7
4200G751QK8jj6JK0prqjNmj7j0Jkpj3j1lNJ0PoMJ1QmNJ4QK0K8J3lQJ2TK1J8J1MNPJ4
4155G937J8J1TjJ3PlOMJ6J2Lmlj9k7rpoj0k0pTj6l1l0j1nk6l8j9rNkk5k6k1k4pKj4
4114G618ornPj%Uj3rK5J1j7%J9OkJ8K0LNrk0mJj2k3j4jpj9k1j7k8k6k3k8j9l0o2n1
4073G257m3m2l6n3o5n6m0Tm5l9m6m1l5k6k3k0k1j9qrmKmlJ9TNJ1mrlpj4j8j7pRK7L6
4034F588L9M6O6P1O2O8N0L2P4R0N6N1N5M8N9O5M7L2M5N9L2LPTomNJj8j6oj3Uk1JJ2
3997G661LKjTRKNJ8J0NT%j1MJ2J3MjPJlJRK6J4J0J5K1L3K8J5Jj1oK4K8J7RmTJPRJ3
3953H000mk6j0j9k0RNk3l5j7NqnJ8Mk0k6qk6m3j2oKK4K3jk3k1nJ3lj3RNj6OM2N2M8
##END=
"""


def test_real_instrument_difdup_file():
    s = parse_spectrum(DUPDEC1, "dupdec1.jdx")
    assert (s.method, s.unit, s.n_points) == (Method.IR, AxisUnit.WAVENUMBER, 487)
    np.testing.assert_allclose(s.axis, np.arange(3914, 4401), rtol=0, atol=1e-9)
    # decoded by hand from "4400H225J3RJ1M...": 8225, +13, +9, +11, +4 (times YFACTOR 0.01)
    np.testing.assert_allclose(
        s.intensities[::-1][:5], [82.25, 82.38, 82.47, 82.58, 82.62], rtol=1e-12
    )
    assert s.metadata["source"] == "Chem. Dep't, UWI, JAMAICA"
    assert s.metadata["yunits"] == "TRANSMITTANCE"
    corrupt = DUPDEC1.replace("4364G832", "4364G833")  # a y check value off by one
    with pytest.raises(SpectrumFileError, match="line 16: y check failed"):
        parse_spectrum(corrupt, "dupdec1.jdx")


# Abscissa checks of (X++(Y..Y)) lines: what mature readers accept, what stays refused.


def test_lines_following_deltax_read_on_the_firstx_lastx_grid_with_a_warning():
    # 12 points, DELTAX 1: the lines sit at 100, 106; LASTX says 122 (spacing 2)
    data = "100 1 2 3 4 5 6\n106 7 8 9 10 11 12"
    text = _jcamp(data, FIRSTX="100", LASTX="122", NPOINTS="12", DELTAX="1")
    with pytest.warns(SpectrumWarning, match=r"follow ##DELTAX=1, but .* spacing of 2"):
        s = parse_spectrum(text, "t.jdx")
    np.testing.assert_allclose(s.axis, 100 + 2 * np.arange(12), rtol=1e-12)
    np.testing.assert_array_equal(s.intensities, np.arange(1, 13))


@pytest.mark.parametrize(
    ("labels", "data"),
    [
        # no DELTAX: nothing explains the shifted line
        ({"FIRSTX": "100", "LASTX": "122", "NPOINTS": "12"}, "100 1 2 3 4 5 6\n106 7 8 9 10 11 12"),
        # a DELTAX that the lines do not follow either (a lost line)
        (
            {"FIRSTX": "100", "LASTX": "122", "NPOINTS": "12", "DELTAX": "1"},
            "100 1 2 3 4 5 6\n109 7 8 9 10 11 12",
        ),
        # a DELTAX of the other sign
        (
            {"FIRSTX": "100", "LASTX": "122", "NPOINTS": "12", "DELTAX": "-1"},
            "100 1 2 3 4 5 6\n106 7 8 9 10 11 12",
        ),
    ],
)
def test_lines_that_fit_no_grid_are_refused(labels, data):
    second_line = 11 + ("DELTAX" in labels)  # _jcamp writes 9 header lines; DELTAX is a 10th
    match = rf"t\.jdx line {second_line}: the line starts at x=1\d\d, but"
    with pytest.raises(SpectrumFileError, match=match):
        parse_spectrum(_jcamp(data, **labels), "t.jdx")


def test_line_abscissa_rounded_to_xfactor_units_is_accepted(recwarn):
    # x = 0.3413807... per point; lines store x / XFACTOR rounded to whole units
    xfactor = 0.341380770512785
    firstx = 16383 * xfactor
    lastx = firstx - 11 * xfactor
    data = "16383 1 2 3 4 5 6\n16377 7 8 9 10 11 12"
    labels = {"FIRSTX": f"{firstx:.10f}", "LASTX": f"{lastx:.10f}", "NPOINTS": "12"}
    s = parse_spectrum(_jcamp(data, XFACTOR=str(xfactor), **labels), "t.jdx")
    np.testing.assert_allclose(s.axis[::-1], firstx - xfactor * np.arange(12), rtol=1e-12)
    assert not [w for w in recwarn.list if issubclass(w.category, SpectrumWarning)]


def test_bare_end_label_and_dos_end_of_file():
    text = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3").replace("##END=", "##END") + "\x1a"
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_array_equal(s.intensities, SEQUENCE)
    with pytest.raises(SpectrumFileError, match=r"line 2: '##JCAMP-DX 5\.01' has no '='"):
        parse_spectrum(text.replace("##JCAMP-DX=", "##JCAMP-DX "), "t.jdx")


def test_macintosh_line_ends_are_detected():
    text = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3").replace("\n", "\r")
    assert looks_like_jcamp(text)
    np.testing.assert_array_equal(parse_spectrum(text, "t.jdx").intensities, SEQUENCE)


def test_ntuples_without_a_jcamp_dx_label_are_refused_as_ntuples():
    text = (
        "##TITLE=2D\n##DATA TYPE=nD\n##PAGE= F1=0\n##DATA TABLE= (F2++(Y..Y)), PROFILE\n"
        "4 2 3 4\n##END=\n"
    )
    assert detect_format(text) == "jcamp"
    with pytest.raises(SpectrumFileError, match=r"line 4: ##DATA TABLE= \(NTUPLES\) is not"):
        parse_spectra(text, "n.jdx")


def test_a_point_written_twice_is_kept_once_with_a_warning():
    # NIST UV/VIS exports repeat some (x, y) pairs exactly; x decreasing as in those files
    pairs = "274.9, 1.05\n274.7, 1.09\n274.7, 1.09\n274.5, 1.12\n274.3, 1.15"
    text = _jcamp(pairs, XYDATA=None, XYPOINTS="(XY..XY)", NPOINTS="5", FIRSTX="274.9")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = parse_spectrum(text.replace("LASTX=10", "LASTX=274.3"), "t.jdx")
    messages = [str(w.message) for w in caught if issubclass(w.category, SpectrumWarning)]
    assert any("lines 11 and 12: the same point (x=274.7) is written twice" in m for m in messages)
    assert any("axis was decreasing" in m for m in messages)
    np.testing.assert_array_equal(s.axis, [274.3, 274.5, 274.7, 274.9])
    np.testing.assert_array_equal(s.intensities, [1.15, 1.12, 1.09, 1.05])
    with pytest.raises(
        SpectrumFileError, match=r"lines 11 and 12: axis value 274\.7 appears twice"
    ):
        parse_spectrum(text.replace("274.7, 1.09\n274.5", "274.7, 1.10\n274.5"), "t.jdx")


def test_link_data_type_with_a_number_after_it():
    # jcampconverter's structure tests write "##DATA TYPE=<tab>LINK 1"
    child = _jcamp("1 1 2 3 3 2 1 0 -1 -2 -3")
    text = "##TITLE=compound\n##JCAMP-DX=5.01\n##DATA TYPE=\tLINK 1\n" + child + "##END=\n"
    assert [s.n_points for s in parse_spectra(text, "l.jdx")] == [10]


def test_decimal_commas_of_a_european_export():
    # as readJDX's decompLines() documents them ("EU AFFN"): blank-separated, one comma each
    data = "1,5 0,25 -0,5 1,0 2\n5,5 1,75 0 -2,5 3,125 4,0"
    text = _jcamp(data, FIRSTX="1.5", LASTX="9.5", NPOINTS="9")
    s = parse_spectrum(text, "t.jdx")
    np.testing.assert_allclose(s.axis, 1.5 + np.arange(9), rtol=1e-12)
    np.testing.assert_array_equal(s.intensities, [0.25, -0.5, 1, 2, 1.75, 0, -2.5, 3.125, 4])


@pytest.mark.parametrize(
    "data",
    [
        "1,1,2,3,3,2,1,0,-1,-2,-3",  # commas as the standard's separators
        "1, 1, 2, 3, 3, 2, 1, 0, -1, -2, -3",
        "1,1 2,3 3,2 1,0 -1,-2,-3",  # a comma inside a blank-separated field, but not decimal
    ],
)
def test_comma_separators_are_not_decimal_commas(data):
    s = parse_spectrum(_jcamp(data), "t.jdx")
    np.testing.assert_array_equal(s.intensities, SEQUENCE)
