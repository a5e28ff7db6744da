"""JCAMP-DX files from the public test suites of other JCAMP readers (data/jcamp_public).

Sources, licences and upstream paths are in ``data/jcamp_public/README.md``. Each readable file
is checked against its own header, parsed here independently: the number of points against
``##NPOINTS``, the ends of the axis against ``##FIRSTX``/``##LASTX`` (sorted ascending by the
reader), the extremes of y against ``##MINY``/``##MAXY`` where the file states them (as the
``jcamp`` package's own tests do, 1 % relative), and finite values. Where the upstream test
suite states values (readJDX's MiniDIFDUP, jcampconverter's uv.jdx) those are asserted too.
Files that lithoscope does not read (NMR, mass spectra, chromatograms, NTUPLES) must be refused
with one line naming the file and the reason.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import SpectrumFileError, SpectrumWarning, read_spectra

PUBLIC = Path(__file__).parent / "data" / "jcamp_public"


@dataclass(frozen=True)
class Read:
    """A file that must be read: its spectra's method and unit, and whether it warns."""

    n_spectra: int
    method: Method
    unit: AxisUnit
    warns: str | None = None  # pattern of the expected SpectrumWarning
    # header checks skipped because the file's own header is wrong there (why: in FILES)
    skip: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Refused:
    """A file that must be refused with a one-line error matching ``match``."""

    match: str


EXTREMES, FIRSTY = frozenset({"extremes"}), frozenset({"firsty"})
IR = (Method.IR, AxisUnit.WAVENUMBER)
UV = (Method.VNIR, AxisUnit.WAVELENGTH_NM)
FILES: dict[str, Read | Refused] = {
    # R. J. Lancashire's JCAMP-DX test set, as shipped by the `jcamp` Python package
    "nzhagen-jcamp/dupdec1.jdx": Read(1, *IR),  # DIFDUP, decreasing x, y checks
    # ##MAXY/##MINY in %T, while YFACTOR and ##FIRSTY give fractions (as the data)
    "nzhagen-jcamp/dupdec2.jdx": Read(1, *IR, skip=EXTREMES),
    "nzhagen-jcamp/dupinc1.jdx": Read(1, *UV),  # DIFDUP, increasing x, UV-VIS
    "nzhagen-jcamp/dupinc2.jdx": Read(1, *IR),
    "nzhagen-jcamp/fixdec1.jdx": Read(1, *IR),  # AFFN (FIX)
    "nzhagen-jcamp/fixinc1.jdx": Read(1, *IR),
    "nzhagen-jcamp/fixinc2.jdx": Read(1, *IR),  # ends with a DOS Ctrl-Z after ##END=
    "nzhagen-jcamp/jtpolys.jdx": Read(1, *IR),  # FIX form of ...
    # ... the same spectrum in DIFDUP form, with a mistyped ##YFACTOR (2.3884e-9 for 2.3842e-9)
    "nzhagen-jcamp/jtpolysd.jdx": Read(1, *IR, skip=FIRSTY),
    "nzhagen-jcamp/pacdec1.jdx": Read(1, *IR),  # PAC
    "nzhagen-jcamp/sqzdupd1.jdx": Read(1, *IR),  # SQZ + DUP
    "nzhagen-jcamp/xyinc1.jdx": Read(1, *IR),  # (XY..XY) pairs, Ctrl-Z at the end
    # LINK block with 5 IR children; ##MAXY/##MINY in %T as in dupdec2
    "nzhagen-jcamp/compound.jdx": Read(5, *IR, skip=EXTREMES),
    # LINK block, UV/VIS kinetics, PAC; ##FIRSTY/##MINY/##MAXY garbled (##MAXY holds the
    # first ordinate, ##FIRSTY and ##MINY a rounded maximum)
    "nzhagen-jcamp/blckpac1.jdx": Read(5, *UV, skip=EXTREMES | FIRSTY),
    "nzhagen-jcamp/pktab1.jdx": Refused(r"##XUNITS='m/z' is not an axis lithoscope reads"),
    "nzhagen-jcamp/o02.jdx": Refused(r"##XUNITS='HZ' is not an axis lithoscope reads"),
    "nzhagen-jcamp/o07.jdx": Refused(r"line 15: ##NTUPLES= \(NTUPLES\) is not supported"),
    "nzhagen-jcamp/coffhd.jdx": Refused(r"##XUNITS='ARBITRARY' is not an axis"),
    # readJDX (R): the DIFDUP file whose ##DELTAX does not match ##FIRSTX/##LASTX/##NPOINTS;
    # cut from a longer spectrum, it keeps that spectrum's ##MINY/##MAXY
    "readJDX/MiniDIFDUP.JDX": Read(
        1, *IR, warns=r"data lines follow ##DELTAX=-0\.964", skip=EXTREMES
    ),
    "readJDX/SBO.jdx": Read(1, *IR),
    # hyperSpec (R): PerkinElmer exports, PAC with explicit '+' signs
    "hyperSpec/br_1.DX": Read(1, *IR),
    "hyperSpec/lp_1.DX": Read(1, *IR),
    # jcampconverter (JavaScript)
    "jcampconverter/misc/uv.jdx": Read(2, *UV),  # "## TITLE =" spelling, LINK, (XY..XY)
    "jcampconverter/misc/uv_ACD.jdx": Read(1, *IR),
    "jcampconverter/structure/ntuples.jdx": Refused(r"##DATA TABLE= \(NTUPLES\) is not supported"),
    "jcampconverter/structure/reim.jdx": Refused(r"##DATA TABLE= \(NTUPLES\) is not supported"),
    "jcampconverter/compression-small/jcamp-difdup.dx": Refused(r"no ##XUNITS"),
    "jcampconverter/compression-small/jcamp-fix.dx": Refused(r"no ##XUNITS"),
    "jcampconverter/compression-small/jcamp-packed.dx": Refused(r"no ##XUNITS"),
    "jcampconverter/compression-small/jcamp-squeezed.dx": Refused(r"no ##XUNITS"),
}


def _label(text: str) -> str:
    return re.sub(r"[\s\-/_]", "", text).upper()


def _headers(path: Path) -> list[dict[str, str]]:
    """The labels of each data block of a file, parsed here independently of the reader."""
    text = path.read_bytes().decode("latin-1").split("\x1a")[0]
    blocks, stack = [], []
    for raw in re.split(r"\r\n|\r|\n", text):
        line = raw.split("$$")[0].strip()
        if not line.startswith("##"):
            continue
        key, _, value = line[2:].partition("=")
        key = _label(key)
        if key == "TITLE":
            stack.append({})
        elif key == "END":
            block = stack.pop()
            if {"XYDATA", "XYPOINTS", "PEAKTABLE"} & set(block):
                blocks.append(block)
        elif stack:
            stack[-1].setdefault(key, value.strip())
    return blocks


def test_corpus_is_complete():
    on_disk = {
        str(p.relative_to(PUBLIC))
        for p in PUBLIC.rglob("*")
        if p.is_file() and p.name not in {"README.md", ".gitattributes"}
    }
    assert on_disk == set(FILES)
    assert all((PUBLIC / name).stat().st_size < 100_000 for name in FILES)


def test_every_file_is_cited():
    readme = (PUBLIC / "README.md").read_text(encoding="utf-8")
    for name in FILES:
        assert f"`{name}`" in readme, name


@pytest.mark.parametrize("name", sorted(k for k, v in FILES.items() if isinstance(v, Read)))
def test_public_file_is_read(name):
    expected = FILES[name]
    path = PUBLIC / name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spectra = read_spectra(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, SpectrumWarning)]
    if expected.warns is None:
        assert not messages, messages
    else:
        assert messages and all(re.search(expected.warns, m) for m in messages), messages
    headers = _headers(path)
    assert len(spectra) == len(headers) == expected.n_spectra
    for s, header in zip(spectra, headers, strict=True):
        assert (s.method, s.unit) == (expected.method, expected.unit)
        assert s.n_points == int(float(header["NPOINTS"]))
        assert np.all(np.diff(s.axis) > 0)
        assert np.all(np.isfinite(s.intensities))
        ends = sorted([float(header["FIRSTX"]), float(header["LASTX"])])
        # exact for (X++(Y..Y)), where x is placed from FIRSTX/LASTX; pairs carry their own x
        atol = 0.0 if "XYDATA" in header else abs(float(header.get("XFACTOR", "1")))
        np.testing.assert_allclose([s.axis[0], s.axis[-1]], ends, rtol=1e-12, atol=atol)
        if (
            "FIRSTY" in header and "firsty" not in expected.skip
        ):  # readJDX's check: the ordinate at ##FIRSTX
            first = s.intensities[-1 if float(header["FIRSTX"]) > float(header["LASTX"]) else 0]
            span = np.ptp(s.intensities)
            np.testing.assert_allclose(first, float(header["FIRSTY"]), rtol=1e-4, atol=1e-4 * span)
        if "extremes" not in expected.skip and "MINY" in header and "MAXY" in header:
            stated = sorted([float(header["MINY"]), float(header["MAXY"])])  # some swap them
            found = [s.intensities.min(), s.intensities.max()]
            span = stated[1] - stated[0]
            np.testing.assert_allclose(found, stated, rtol=0.01, atol=0.01 * span)


def test_readjdx_minidifdup_as_readjdx_reads_it():
    """readJDX loads MiniDIFDUP.JDX as 584 points from 2373.97 to 1804.10 cm-1 (x descending)."""
    with pytest.warns(SpectrumWarning, match="follow ##DELTAX"):
        [s] = read_spectra(PUBLIC / "readJDX" / "MiniDIFDUP.JDX")
    assert s.n_points == 584
    np.testing.assert_allclose([s.axis[-1], s.axis[0]], [2373.973, 1804.104], rtol=0, atol=1e-9)
    # the first ordinate: G493 -> 7493 times YFACTOR; ##FIRSTY=91.46729
    np.testing.assert_allclose(s.intensities[-1], 7493 * 1.220703125e-2, rtol=1e-12)
    np.testing.assert_allclose(s.intensities[-1], 91.46729, rtol=1e-6)


def test_jcampconverter_uv_has_two_spectra():
    """jcampconverter's uv.test.js: the file flattens to 3 entries (the LINK and 2 spectra)."""
    spectra = read_spectra(PUBLIC / "jcampconverter" / "misc" / "uv.jdx")
    assert [s.n_points for s in spectra] == [911, 911]
    np.testing.assert_array_equal(spectra[0].axis, np.arange(190.0, 1101.0))
    assert not np.array_equal(spectra[0].intensities, spectra[1].intensities)


def test_the_same_spectrum_in_fix_and_difdup_form():
    """Lancashire's jtpolys (FIX) and jtpolysd (DIFDUP) hold one spectrum in two encodings."""
    [fix] = read_spectra(PUBLIC / "nzhagen-jcamp" / "jtpolys.jdx")
    [difdup] = read_spectra(PUBLIC / "nzhagen-jcamp" / "jtpolysd.jdx")
    np.testing.assert_allclose(difdup.axis, fix.axis, rtol=1e-6)  # ##XFACTOR differs in digits
    # the stored integers agree; jtpolysd's ##YFACTOR has a mistyped digit
    np.testing.assert_allclose(
        difdup.intensities / 2.3884185791e-09, fix.intensities / 2.384185791e-09, rtol=1e-9
    )


def test_jcampconverter_compressions_agree():
    """jcampconverter's four compressions of one NMR record give the same ordinates.

    The files state neither ##XUNITS nor ##DATA TYPE, so they are refused as they are
    (FILES) and read here with an explicit method and unit.
    """
    folder = PUBLIC / "jcampconverter" / "compression-small"
    read = {
        p.stem.split("-")[1]: read_spectra(p, method="ir", unit="wavenumber cm-1")[0]
        for p in sorted(folder.iterdir())
    }
    assert set(read) == {"difdup", "fix", "packed", "squeezed"}
    # the fix file holds the first 10 ordinates, written out: -10247 1201 -5196 7245 ...
    fix = read["fix"].intensities[::-1]
    np.testing.assert_array_equal(fix[:4], [-10247, 1201, -5196, 7245])
    for form, s in read.items():
        y = s.intensities[::-1]  # x decreases in the files
        n = min(y.size, fix.size)
        np.testing.assert_array_equal(y[:n], fix[:n], err_msg=form)
        np.testing.assert_allclose(s.axis[-1], 5592.84116331095, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(k for k, v in FILES.items() if isinstance(v, Refused)))
def test_public_file_is_refused_in_one_line(name):
    path = PUBLIC / name
    with pytest.raises(SpectrumFileError, match=FILES[name].match) as info:
        read_spectra(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_mac_line_ends(tmp_path):
    """Old Macintosh files end lines with CR alone (Lancashire's mactab files)."""
    text = (PUBLIC / "nzhagen-jcamp" / "dupinc1.jdx").read_bytes().replace(b"\r\n", b"\n")
    path = tmp_path / "dupinc1_mac.jdx"
    path.write_bytes(text.replace(b"\n", b"\r"))
    [mac] = read_spectra(path)
    [original] = read_spectra(PUBLIC / "nzhagen-jcamp" / "dupinc1.jdx")
    np.testing.assert_array_equal(mac.axis, original.axis)
    np.testing.assert_array_equal(mac.intensities, original.intensities)
