"""Bad input: the nasty corpus, a 2 GB file, and fuzzing of every reader.

Every failure must be one `SpectrumFileError` naming the file (and the line where there is one);
no other exception type may escape a reader.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lithoscope.spectra.io import (
    FORMATS,
    MAX_FILE_BYTES,
    SpectrumFileError,
    SpectrumWarning,
    parse_spectra,
    read_spectra,
    read_spectrum,
)
from lithoscope.spectra.io._common import decode
from lithoscope.spectra.spectrum import Spectrum

NASTY = Path(__file__).parent / "data" / "nasty"


@dataclass(frozen=True)
class Bad:
    """Expected failure: message pattern, and the line it must name (None: no line)."""

    match: str
    line: int | None = None
    kwargs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Good:
    """A nasty but valid file: spectra count and whether a SpectrumWarning is expected."""

    n_points: int
    warns: bool = False
    kwargs: tuple[tuple[str, str], ...] = ()


VNIR = (("method", "vnir"),)
RAMAN = (("method", "raman"),)
CORPUS: dict[str, Bad | Good] = {
    "empty.txt": Bad("file is empty"),
    "blank_lines.txt": Bad("only blank lines"),
    "words_for_numbers.txt": Bad("expected two numbers", 4),
    "nan_value.txt": Bad("expected two numbers", 3),
    "inf_value.txt": Bad("not finite", 3),
    "one_point.txt": Bad("only data point", 2),
    "Forsterite__R040018__Raman__532__one_point.txt": Bad("1 data point"),
    "duplicate_axis.txt": Bad("appears twice", 3),
    "decreasing_axis.txt": Good(3, warns=True),
    "binary_junk.bin": Bad("binary content"),
    "control_bytes.txt": Bad("binary content"),
    "html_error_page.txt": Bad("not a known spectrum format"),
    "header_only.csv": Bad("not a known spectrum format"),
    "Forsterite__R040018__Raman__532__mixed_crlf_lf.txt": Good(4),
    "Forsterite__R040018__Raman__532__bom.txt": Good(3),
    "Gypsum__R040029__Infrared__html_entities.txt": Good(2),
    "Forsterite__R040018__Raman__532__truncated.txt": Bad("expected two numbers", 8),
    "Forsterite__R040018__Raman__532__data_after_end.txt": Bad("data after ##END=", 7),
    "latin1_text.txt": Good(2),
    "jcamp_bad_y_check.jdx": Bad("y check failed", 11),
    "jcamp_lost_line.jdx": Bad("NPOINTS=10 but .* 5 ordinates", 9),
    "jcamp_bad_x_check.jdx": Bad("line starts at x=8", 11),
    "jcamp_no_end.jdx": Bad("no ##END=; the file is truncated"),
    "jcamp_bad_character.jdx": Bad("unexpected character 'x'", 10),
    "jcamp_dup_first.jdx": Bad("DUP count with no value", 10),
    "jcamp_missing_value.jdx": Bad("missing value", 10),
    "jcamp_unknown_units.jdx": Bad("XUNITS='HZ'", 4),
    "jcamp_nmr.jdx": Bad("NMR SPECTRUM", 3),
    "jcamp_odd_pairs.jdx": Bad(r"\(x, y\) groups", 11),
    "jcamp_no_equals.jdx": Bad("has no '='", 2),
    "jcamp_ok_decreasing.jdx": Good(10),
    "table_ragged.csv": Bad("2 fields, but the header has 3", 3, VNIR),
    "table_text_cell.csv": Bad("column 'augite': expected a number, got 'n.d.'", 3, VNIR),
    "table_inf.csv": Bad("overflows to infinity", 3, VNIR),
    "table_missing_axis.csv": Bad("axis value is missing", 3, VNIR),
    "table_rows_text_cell.csv": Bad("column '520': expected a number", 3, VNIR),
    "relab_truncated.tab": Bad("says 10 rows but has 3", 1),
    "relab_text_in_data.tab": Bad("got 'ERR'", 3),
    "lithoscope_csv_bad_method.csv": Bad("method"),
}


def test_corpus_is_complete():
    on_disk = {p.name for p in NASTY.iterdir()}
    assert on_disk == set(CORPUS), "add new corpus files to CORPUS (and remove deleted ones)"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file(name):
    path = NASTY / name
    expected = CORPUS[name]
    kwargs = dict(expected.kwargs)
    if isinstance(expected, Bad):
        with pytest.raises(SpectrumFileError, match=expected.match) as info:
            read_spectra(path, **kwargs)
        message = str(info.value)
        assert str(path) in message
        assert "\n" not in message
        if expected.line is not None:
            assert re.search(rf"\blines? {expected.line}\b", message), message
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spectrum = read_spectrum(path, **kwargs)
    repaired = [w for w in caught if issubclass(w.category, SpectrumWarning)]
    assert bool(repaired) == expected.warns
    assert spectrum.n_points == expected.n_points
    assert np.all(np.diff(spectrum.axis) > 0)


def test_html_entities_are_unescaped():
    s = read_spectrum(NASTY / "Gypsum__R040029__Infrared__html_entities.txt")
    assert s.metadata["ideal_chemistry"] == "Ca(SO_4_)·2H_2_O"
    assert s.metadata["locality"] == "M&M quarry"


def test_decreasing_axis_is_sorted_with_its_values():
    with pytest.warns(SpectrumWarning, match="decreasing"):
        s = read_spectrum(NASTY / "decreasing_axis.txt")
    np.testing.assert_array_equal(s.axis, [100, 200, 300])
    np.testing.assert_array_equal(s.intensities, [5, 6, 8])


def test_two_gigabyte_file_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "huge_spectrum.txt"
    with big.open("wb") as f:
        f.truncate(2 * 1024**3)  # sparse: no disk space used

    def no_reading(self):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    assert big.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(SpectrumFileError, match=r"huge_spectrum\.txt: file is 2\.1 GB"):
        read_spectra(big)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SpectrumFileError, match="no such file"):
        read_spectra(tmp_path / "nope.txt")
    with pytest.raises(SpectrumFileError, match="not a regular file"):
        read_spectra(tmp_path)


# ----------------------------------------------------------------------------- fuzzing

SEEDS: dict[str, tuple[str, str]] = {
    "jcamp-affn": (
        "s.jdx",
        "##TITLE=t\n##JCAMP-DX=5.01\n##DATA TYPE=INFRARED SPECTRUM\n##XUNITS=1/CM\n"
        "##YUNITS=ABSORBANCE\n##XFACTOR=1\n##YFACTOR=0.001\n##FIRSTX=400\n##LASTX=409\n"
        "##NPOINTS=10\n##XYDATA=(X++(Y..Y))\n400 10 20 30 40 50\n405 60 70 80 90 100\n##END=\n",
    ),
    "jcamp-asdf": (
        "s.jdx",
        "##TITLE=t\n##JCAMP-DX=5.01\n##DATA TYPE=RAMAN SPECTRUM\n##XUNITS=1/CM\n"
        "##FIRSTX=1\n##LASTX=10\n##NPOINTS=10\n##XYDATA=(X++(Y..Y))\n1AJT%j\n5BjW\n##END=\n",
    ),
    "jcamp-pairs": (
        "s.jdx",
        "##TITLE=t\n##JCAMP-DX=5.01\n##DATA TYPE=X-RAY DIFFRACTION\n##XUNITS=2THETA\n"
        "##PEAK TABLE=(XY..XY)\n20.5, 100; 26.6, 1000\n36.5, 80\n##END=\n",
    ),
    "rruff": (
        "Quartz__R040031__Raman__532__x.txt",
        "##NAMES=Quartz\n##RRUFFID=R040031\n##IDEAL CHEMISTRY=SiO_2_\n100.5, 3\n101.5, 4\n"
        "102.5, 5\n##END=\n",
    ),
    "csv": (
        "s.csv",
        "# lithoscope spectrum 1\n# method: vnir\n# unit: wavelength nm\n# mineral: Olivine\n"
        "wavelength nm,intensity\n500.0,0.2\n505.0,0.25\n510.0,0.3\n",
    ),
    "relab-tab": (
        "s.tab",
        "  3\r\n  500.0   0.1  0.01\r\n  510.0   0.2  0.01\r\n  520.0   0.3 0.1\r\n",
    ),
    "table-rows": (
        "s.csv",
        "row,SpectrumID,500,505,510,515,520\n0,A1,0.1,0.2,0.3,0.4,0.5\n1,A2,0.2,,0.4,0.5,0.6\n",
    ),
    "table-columns": (
        "s.csv",
        "wavelength_um,olivine|Olivine_GDS70_NIC4a_RREF,augite std\n0.5,0.2,0.01\n"
        "0.51,0.3,0.01\n0.52,,0.02\n0.53,0.35,0.02\n",
    ),
    "text": ("s.txt", "# raman shift\n100\t5\n200\t6\n300\t7\n"),
}


def test_every_format_has_a_fuzz_seed():
    assert {name.split("-")[0] for name in SEEDS} >= {f.split("-")[0] for f in FORMATS}
    for fmt, (filename, text) in SEEDS.items():
        spectra = parse_spectra(text, filename)
        assert spectra and all(isinstance(s, Spectrum) for s in spectra), fmt


def _read_bytes(data: bytes, name: str, **kwargs) -> list[Spectrum] | None:
    """What read_spectra does after the size check; None when it raises SpectrumFileError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpectrumWarning)
        try:
            spectra = parse_spectra(decode(data, name), name, **kwargs)
        except SpectrumFileError as exc:
            assert name in str(exc)
            return None
    assert isinstance(spectra, list) and spectra
    assert all(isinstance(s, Spectrum) for s in spectra)
    return spectra


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@FUZZ
@given(
    data=st.binary(max_size=600),
    name=st.sampled_from(["f.txt", "f.tab", "f.jdx", "f.csv"]),
    fmt=st.sampled_from([None, *FORMATS]),
)
def test_fuzz_random_bytes(data, name, fmt):
    _read_bytes(data, name, format=fmt)


@st.composite
def _mutated(draw):
    fmt = draw(st.sampled_from(sorted(SEEDS)))
    filename, text = SEEDS[fmt]
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "duplicate", "truncate"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "replace" and data:
            data[i] = draw(st.sampled_from(list(b"0123456789.,;-+eE?@AJS%jsx#$=\t \r\n\x00\xff")))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 12))]
        elif kind == "duplicate":
            j = min(len(data), i + draw(st.integers(1, 30)))
            data[j:j] = data[i:j]
        else:
            del data[i:]
    return filename, bytes(data), fmt


@FUZZ
@given(case=_mutated(), forced=st.booleans(), method=st.sampled_from([None, "raman", "vnir"]))
def test_fuzz_mutated_valid_files(case, forced, method):
    filename, data, fmt = case
    fmt_name = next(f for f in FORMATS if fmt.startswith(f))
    _read_bytes(data, filename, format=fmt_name if forced else None, method=method)


_ALPHABET = "0123456789.,;-+eE ?@ABCDEFGHIabcdefghi%JKLMNOPQRjklmnopqrSTUVWXYZs\t\r\n#$=x"


@FUZZ
@given(body=st.text(alphabet=_ALPHABET, max_size=300), fmt=st.sampled_from(sorted(SEEDS)))
def test_fuzz_random_data_after_valid_headers(body, fmt):
    filename, seed = SEEDS[fmt]
    lines = seed.splitlines(keepends=True)
    text = "".join(lines[: len(lines) // 2 + 1]) + body + "\n" + lines[-1]
    _read_bytes(text.encode(), filename)


def test_rruff_file_without_end_line_warns(tmp_path):
    """A RRUFF file cut at a line break reads, but the possible truncation is said."""
    from lithoscope.spectra.io import SpectrumWarning, read_spectrum

    path = tmp_path / "Forsterite__R040018__Raman__532__0__unoriented__cut.txt"
    path.write_text("##NAMES=Forsterite\n##RRUFFID=R040018\n100, 1\n101, 2\n102, 3\n")
    with pytest.warns(SpectrumWarning, match="no ##END= line"):
        spectrum = read_spectrum(path)
    assert spectrum.n_points == 3


# ---------------------------------------------------------------------- the RRUFF data block
# The form of a RRUFF data block as one regular expression: the definition the byte-level check
# of `rruff._data_block` must agree with (the expression itself is too slow to serve).
_NUMBER_RE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BLOCK_RE = re.compile(
    rf"(?:[ \t]*(?:{_NUMBER_RE}[ \t]*[,;\t ][ \t]*{_NUMBER_RE}[ \t]*,?)?[ \t]*\n)*"
)
_LINE_PARTS = [
    "1",
    "-2.5",
    ".5",
    "3.",
    "1e5",
    "2E-3",
    "+7",
    "e",
    "1e",
    "..",
    "-",
    ",",
    ";",
    " ",
    "\t",
]


@given(
    lines=st.lists(
        st.lists(st.sampled_from(_LINE_PARTS), max_size=6).map("".join), min_size=1, max_size=6
    )
)
@settings(max_examples=400, deadline=None)
def test_rruff_data_block_check_agrees_with_the_regular_expression(lines):
    from lithoscope.spectra.io.rruff import _data_block

    block = "\n".join(lines) + "\n"
    values = _data_block(block)
    assert (values is not None) == bool(_BLOCK_RE.fullmatch(block)), repr(block)
    if values is not None:
        expected = [float(v) for v in re.findall(_NUMBER_RE, block)]
        np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize(
    ("block", "ok"),
    [
        ("100.5, 3\n\n101, 4,\n", True),
        ("100;3\n", True),
        ("1\t2\n", True),
        ("1,,2\n", False),
        (",1,2\n", False),
        ("1,2,,\n", False),
        ("1;2;\n", False),
        ("1,2,3\n", False),
        ("1\n", False),
        ("1,2\n,\n", False),
        ("1,2x\n", False),
        ("", True),
    ],
)
def test_rruff_data_block_examples(block, ok):
    from lithoscope.spectra.io.rruff import _data_block

    assert (_data_block(block) is not None) is ok
    assert bool(_BLOCK_RE.fullmatch(block)) is ok
