"""Instrument files: Thermo/Galactic SPC, Renishaw WDF and Bruker OPUS.

These binary formats are read through small, well-kept libraries (the ``formats`` extra:
``pip install 'lithoscope[formats]'``); this module turns what they return into `Spectrum`
objects (and a WDF map into a `SpectralCube`), checks it, and turns every failure of the library
(``struct.error``, ``KeyError``, ``EOFError``, ``ValueError`` ...) into one line::

    spectrum 'x.wdf': not a readable Renishaw WDF file (<reason>); export it again or as text

Choice of library, measured on real files from public test suites (``tests/spectra/data/
instruments``, see its README) and on 60 truncations of each file:

====== ====================== ===========================================================
format chosen                 measured against
====== ====================== ===========================================================
SPC    ``spc-io`` 0.2.1 (MIT) ``spc-spectra`` 0.4.0: same x and y (max difference 0) on the
                              files with one shared x array (``spectra.spc``, ``gxy.spc``, the
                              31 spectra of ``x-y.spc``); on the XYXY multifile (``m_xyxy.spc``,
                              a GC-MS run) ``spc-spectra`` reads the per-subfile x values as
                              scaled integers (16943.6 ... 16846.8 for the first scan) where
                              the format stores floats: ``spc-io`` gives 43.9 ... 25.85, the
                              header's own ``ffirst``/``flast``. ``spc-spectra`` also prints to
                              stdout, has no release since 2018 and cannot be installed with
                              build isolation (its ``setup.py`` imports numpy). On 60 cuts of
                              each file neither returned wrong data (``spc-io`` raised on all).
WDF    ``renishaw-wdf`` 1.4.0 ``renishawWiRE`` 0.1.16: same x and y (max difference 0) on all
       (Apache-2.0, Renishaw) three files, and both reproduce the values upstream tests state
                              (orange-spectroscopy's ``test_readers.py``, renishaw-wdf's
                              ``test_wdf.py``); but ``renishawWiRE`` returned short or shifted
                              spectra without error on 30 of 180 truncations (``numpy.fromfile``
                              stops at the end of the file), ``renishaw-wdf`` on none. The
                              maker's package also gives absolute acquisition times, the map
                              area and per-spectrum flags, and has no dependencies.
OPUS   ``brukeropus`` 1.4.3   OPUS's own text export of the same measurement
       (MIT)                  (``peach_juice.dpt``, 5 decimals): max difference 5e-6 in x and
                              y; ``opusFC`` 1.5.0 (closed binary): identical (difference 0) but
                              it reaches only the first of two reflectance blocks;
                              ``brukeropusreader`` 1.3.4 labels that reflectance block ``AB``
                              (absorbance).
====== ====================== ===========================================================

Checks of this module where the libraries are lenient: array lengths against the header,
finite values, and for OPUS that every block of the directory lies inside the file
(``brukeropus`` skips a block whose entry points past the end and would then return the other
reflectance block of ``peach_juice.0`` without an error).

What each file says is used, never guessed: a Renishaw WDF file is Raman; an OPUS file is
infrared unless its block is a Raman spectrum (an explicit ``method`` may override the infrared
default, e.g. ``vnir`` for a near-infrared reflectance); an SPC file's x type (Raman shift) or
experiment type (FT-IR, NIR, UV-VIS, X-ray diffraction, Raman) tells the method, otherwise the
caller must give it. An axis stored in decreasing order (usual in all three formats) is the
declared order and is reversed without a warning; an axis in no order is damage and refused.

Examples
--------
>>> from lithoscope.spectra.io import read_spectrum, read_cube  # doctest: +SKIP
>>> read_spectrum("sp.wdf")  # doctest: +SKIP
<Spectrum raman 1015 points 1226.28-2787.51 raman shift cm-1>
>>> read_cube("Si-map.wdf")  # doctest: +SKIP
<SpectralCube raman 11 x 8 spectra of 575 points 53.3615-957.444 raman shift cm-1>
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import logging
import re
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method, parse_enum
from lithoscope.spectra.io._common import SpectrumFileError, check_file
from lithoscope.spectra.spectrum import SpectralCube, Spectrum

__all__ = [
    "INSTRUMENT_FORMATS",
    "detect_instrument_format",
    "parse_instrument",
    "read_cube",
    "read_instrument",
]

INSTALL_HINT = "pip install 'lithoscope[formats]'"
_REASON_CHARS = 120


@dataclass(frozen=True)
class _Instrument:
    """A binary instrument format: how to recognise it and which library reads it."""

    label: str  # as named in messages: "Renishaw WDF"
    suffixes: tuple[str, ...]
    magic: Callable[[bytes], bool]
    read: Callable[[Path, str, Method | None, AxisUnit | None], list[Spectrum]]
    module: str  # import name of the library
    package: str  # its name on the package index


def _fail(name: str, label: str, reason: str) -> SpectrumFileError:
    return SpectrumFileError(
        f"spectrum '{name}': not a readable {label} file ({reason}); export it again or as text"
    )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > _REASON_CHARS:
        text = text[: _REASON_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def _library_errors(name: str, label: str) -> Iterator[None]:
    """Turn whatever the library raises into the one-line `SpectrumFileError`."""
    try:
        yield
    except (SpectrumFileError, InputError):
        raise
    except Exception as exc:  # the libraries raise anything: struct.error, KeyError, EOFError ...
        raise _fail(name, label, _reason(exc)) from exc


def _library(fmt: _Instrument, name: str) -> ModuleType:
    try:
        return importlib.import_module(fmt.module)
    except ImportError:
        raise SpectrumFileError(
            f"spectrum '{name}': reading {fmt.label} files needs the optional package "
            f"{fmt.package!r}; {INSTALL_HINT}"
        ) from None


def _check_given(
    name: str,
    what: str,
    found: Method | AxisUnit | None,
    given: Method | AxisUnit | None,
    why: str,
) -> None:
    if found is not None and given is not None and found is not given:
        raise SpectrumFileError(
            f"spectrum '{name}': the file says {what} {found.value!r} ({why}) but "
            f"{what}={given.value!r} was given; drop the {what} argument"
        )


def _ascii(raw: bytes) -> str | None:
    text = raw.split(b"\x00", 1)[0].decode("latin-1").strip()
    return text or None


def _spectrum(
    x: np.ndarray, y: np.ndarray, method: Method, unit: AxisUnit, meta: dict[str, Any], name: str
) -> Spectrum:
    """A Spectrum from library arrays: lengths and finiteness checked, decreasing x reversed."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise SpectrumFileError(
            f"spectrum '{name}': not a readable {meta['format_label']} file ({x.size} axis "
            f"values for {y.size} intensities); export it again or as text"
        )
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        raise SpectrumFileError(
            f"spectrum '{name}': point {int(bad[0])} is NaN or infinite (the file is damaged or "
            "holds a saturated or unfinished measurement); export it again or as text"
        )
    if x.size >= 2 and np.all(np.diff(x) < 0):
        x, y = x[::-1], y[::-1]
    # an instrument writes a monotonic axis: anything else is damage, not an order to repair
    steps = np.diff(x)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        raise _fail(
            name,
            meta["format_label"],
            f"axis not monotonic: {x[bad + 1]:g} follows {x[bad]:g} at point {bad + 1}",
        )
    meta = {k: v for k, v in meta.items() if k != "format_label" and v is not None}
    return Spectrum(x, y, method, unit, meta)


# ------------------------------------------------------------------------------------- SPC
_SPC = "Thermo/Galactic SPC"
# x types of SPC.H that are spectral axes lithoscope reads; the factor converts to the unit
_SPC_UNITS: dict[str, tuple[AxisUnit, float]] = {
    "XWAVEN": (AxisUnit.WAVENUMBER, 1.0),
    "XRAMANS": (AxisUnit.RAMAN_SHIFT, 1.0),
    "XNMETR": (AxisUnit.WAVELENGTH_NM, 1.0),
    "XUMETR": (AxisUnit.WAVELENGTH_NM, 1000.0),
    "XDEGRS": (AxisUnit.TWO_THETA, 1.0),
}
# experiment types (fexper) that name the method
_SPC_METHODS: dict[str, Method] = {
    "SPCFTIR": Method.IR,
    "SPCNIR": Method.VNIR,
    "SPCUV": Method.VNIR,
    "SPCXRY": Method.XRD,
    "SPCRMN": Method.RAMAN,
}
_SPC_EXPERIMENTS = {
    "SPCGEN": "general",
    "SPCGC": "gas chromatogram",
    "SPCCGM": "chromatogram",
    "SPCHPLC": "HPLC chromatogram",
    "SPCFTIR": "FT-IR",
    "SPCNIR": "NIR",
    "SPCUV": "UV-VIS",
    "SPCXRY": "X-ray diffraction",
    "SPCMS": "mass spectrum",
    "SPCNMR": "NMR",
    "SPCRMN": "Raman",
    "SPCFLR": "fluorescence",
    "SPCATM": "atomic",
    "SPCDAD": "chromatography diode array",
}
_SPC_X_NAMES = {
    "XARB": "arbitrary",
    "XSECS": "seconds",
    "XMINUTS": "minutes",
    "XHERTZ": "Hz",
    "XMUNITS": "mass (m/z)",
    "XPPM": "ppm",
    "XEV": "eV",
    "XDIODE": "diode number",
    "XCHANL": "channel",
    "XPOINT": "data points",
}
# log-book keys that give the excitation wavelength in nm (Horiba LabSpec writes EXCIT_LINE)
_SPC_LASER_KEYS = {"EXCIT_LINE", "LASER", "LASER WAVELENGTH", "EXCITATION WAVELENGTH"}
_SPC_LOGGERS = ("spc_io.low_level.spc_raw", "spc_io.high_level.spc")


def _spc_magic(head: bytes) -> bool:
    # byte 1 is the version (0x4B: new LSB format); flags and experiment type come before the
    # binary numbers, so a text file starting with "?K" is told apart by NULs and fexper <= 14
    return len(head) >= 512 and head[1] == 0x4B and head[2] <= 14 and b"\x00" in head[:512]


@contextlib.contextmanager
def _quiet(logger_names: tuple[str, ...]) -> Iterator[None]:
    """Drop the library's log records (e.g. spc-io's 'N left at the end of the file')."""

    def drop(record: logging.LogRecord) -> bool:
        return False

    loggers = [logging.getLogger(n) for n in logger_names]
    for lg in loggers:
        lg.addFilter(drop)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(drop)


def _spc_log(raw: Any) -> dict[str, str]:
    try:
        text = raw.log_book.txt_as_dict()
    except (AttributeError, ValueError):  # no log book, or one without key=value lines
        return {}
    return {str(k).strip(): str(v).strip() for k, v in text.items() if str(k).strip()}


def _spc_laser(log: dict[str, str]) -> float | None:
    for key, value in log.items():
        if key.upper() in _SPC_LASER_KEYS:
            match = re.match(r"\s*(\d+(?:\.\d*)?)", value)
            if match and 150.0 <= float(match.group(1)) <= 2000.0:
                return float(match.group(1))
    return None


def _spc_date(fdate: Any) -> str | None:
    # LabSpec writes years since 1900 (e.g. 115); such a date is not converted, only dropped
    try:
        when = dt.datetime(fdate.year, fdate.month, fdate.day, fdate.hour, fdate.min)
    except ValueError:
        return None
    return when.isoformat() if when.year >= 1900 else None


def _read_spc(
    path: Path, name: str, method: Method | None, unit: AxisUnit | None
) -> list[Spectrum]:
    fmt = INSTRUMENT_FORMATS["spc"]
    spc_io = _library(fmt, name)
    data = path.read_bytes()
    if len(data) < 512 or data[1] not in (0x4B, 0x4C, 0x4D):
        raise _fail(name, _SPC, "no SPC header: byte 1 is not a version 0x4B, 0x4C or 0x4D")
    if data[1] != 0x4B:
        version = "old 0x4D" if data[1] == 0x4D else "big-endian 0x4C"
        raise _fail(name, _SPC, f"{version} format; spc-io reads the 0x4B format")
    with _library_errors(name, _SPC), _quiet(_SPC_LOGGERS):
        raw = spc_io.SpcRaw.from_bytes_io(io.BytesIO(data))
        hdr = raw.main_header
        xtype, exper = str(hdr.fxtype), str(hdr.fexper)
        flags = hdr.ftflgs
        xyxy = bool(flags.TXYXYS)
        if xyxy:
            global_x = None
        elif flags.TXVALS:
            global_x = np.array(raw.xarray, dtype=np.float64)
        else:
            global_x = np.linspace(hdr.ffirst, hdr.flast, int(hdr.fnpts))
        subs = [
            (
                np.array(sub.xarray, dtype=np.float64) if xyxy else global_x,
                np.array(sub.yarray, dtype=np.float64),
                sub.z,
                sub.w,
            )
            for sub in raw.subs
        ]
        log = _spc_log(raw)
        labels = _ascii(bytes(hdr.fcatxt)) if flags.TALABS else None
        meta_common: dict[str, Any] = {
            "file": name,
            "format": "spc",
            "format_label": _SPC,
            "title": _ascii(bytes(hdr.fcmnt)),
            "instrument": _ascii(bytes(hdr.fsource)) or log.get("INSTRUMENT"),
            "laser_nm": _spc_laser(log),
            "acquired": _spc_date(hdr.fdate),
            "spc_experiment": _SPC_EXPERIMENTS.get(exper, exper),
            "spc_x_type": xtype,
            "spc_y_type": str(hdr.fytype),
            "axis_label": labels,
            "spc_log": log or None,
        }
        z_type = str(hdr.fztype)
    if not subs:
        raise _fail(name, _SPC, "no subfile")

    found_unit, factor = _SPC_UNITS.get(xtype, (None, 1.0))
    if found_unit is None and xtype != "XARB":
        what = _SPC_X_NAMES.get(xtype, xtype)
        raise SpectrumFileError(
            f"spectrum '{name}': the SPC x axis is {what} (x type {xtype}), not an axis "
            "lithoscope reads (Raman shift, wavenumber, wavelength, 2-theta)"
        )
    _check_given(name, "unit", found_unit, unit, f"SPC x type {xtype}")
    if found_unit is None and unit is None:
        label = f", labelled {labels!r}" if labels else ""
        raise SpectrumFileError(
            f"spectrum '{name}': the SPC file does not say what its x axis is (x type "
            f"'arbitrary'{label}); pass the unit (e.g. unit='wavenumber cm-1')"
        )
    axis_unit = found_unit or unit
    assert axis_unit is not None
    found_method = Method.RAMAN if xtype == "XRAMANS" else _SPC_METHODS.get(exper)
    _check_given(
        name, "method", found_method, method, f"SPC experiment type {meta_common['spc_experiment']}"
    )
    chosen = found_method or method
    if chosen is None:
        raise SpectrumFileError(
            f"spectrum '{name}': the SPC file does not say which method measured it "
            f"(experiment type {meta_common['spc_experiment']!r}, x type {xtype}); pass the "
            "method (e.g. method='raman' or --method raman)"
        )
    spectra = []
    for i, (x, y, z, w) in enumerate(subs):
        meta = dict(meta_common)
        if len(subs) > 1:
            meta |= {"subfile": i, "z": z, "z_type": z_type, "w": w}
        spectra.append(_spectrum(x * factor, y, chosen, axis_unit, meta, name))
    return spectra


# ------------------------------------------------------------------------------------- WDF
_WDF = "Renishaw WDF"


def _wdf_magic(head: bytes) -> bool:
    return head[:4] == b"WDF1"


def _wdf_units(wdf: ModuleType) -> dict[Any, AxisUnit]:
    units = wdf.WdfDataUnit
    return {
        units.RamanShift: AxisUnit.RAMAN_SHIFT,
        units.Wavenumber: AxisUnit.WAVENUMBER,
        units.Nanometre: AxisUnit.WAVELENGTH_NM,
    }


def _pset_value(pset: Any, key: str, depth: int = 0) -> str | None:
    """The first string value named ``key`` in a WDF property set (nested at most 3 deep)."""
    items = getattr(pset, "items", None)
    if not isinstance(items, dict) or depth > 3:
        return None
    for k, item in items.items():
        value = getattr(item, "value", item)
        if k == key and isinstance(value, str) and value.strip():
            return value.strip()
    for item in items.values():
        found = _pset_value(getattr(item, "value", item), key, depth + 1)
        if found:
            return found
    return None


def _wdf_instrument(w: Any, wdf: ModuleType) -> str | None:
    # optional metadata: a file without (or with an unreadable) instrument section still reads
    try:
        pset = w.get_section_properties(wdf.WdfBlockId.INSTRUMENT, -1)
    except (EOFError, OSError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return None
    serial = _pset_value(pset, "Instrument")
    return f"Renishaw {serial}" if serial else None


@dataclass
class _WdfContent:
    axis_unit: AxisUnit
    x: np.ndarray  # as stored (usually decreasing)
    spectra: np.ndarray  # (n_collected, n_points)
    meta: dict[str, Any]
    positions: dict[str, np.ndarray]  # "x", "y" (and "z") stage positions, when recorded
    position_unit: str | None
    times: list[str] | None
    map_area: Any  # the library's MapArea, or None


def _wdf_content(path: Path, name: str, method: Method | None, unit: AxisUnit | None):
    fmt = INSTRUMENT_FORMATS["wdf"]
    wdf = _library(fmt, name)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != b"WDF1":
        raise _fail(name, _WDF, f"starts with {head!r}, not b'WDF1'")
    _check_given(name, "method", Method.RAMAN, method, "Renishaw WDF files hold Raman spectra")
    with _library_errors(name, _WDF), wdf.Wdf(str(path)) as w:
        hdr = w.hdr
        n_points, n_collected = int(hdr.npoints), int(hdr.ncollected)
        if n_collected < 1 or n_collected > int(hdr.nspectra):
            raise _fail(name, _WDF, f"{n_collected} of {hdr.nspectra} spectra collected")
        flags = wdf.WdfFlags(hdr.flags_)
        for flag in (wdf.WdfFlags.XYXY, wdf.WdfFlags.Multitrack):
            if flags & flag:
                raise SpectrumFileError(
                    f"spectrum '{name}': Renishaw WDF files with the {flag.name} layout (an x "
                    "list per spectrum or track) are not read; export it as text from WiRE"
                )
        xlist = w.xlist()
        x = np.array(xlist, dtype=np.float64)
        found_unit = _wdf_units(wdf).get(xlist.units)
        if found_unit is None:
            raise SpectrumFileError(
                f"spectrum '{name}': the WDF x list is in {xlist.units.name}, not an axis "
                "lithoscope reads (Raman shift, wavenumber, nm)"
            )
        _check_given(name, "unit", found_unit, unit, f"WDF x list in {xlist.units.name}")
        if x.size != n_points:
            raise _fail(name, _WDF, f"x list of {x.size} values for {n_points} points")
        block = w.spectrum(slice(0, n_collected))  # a flat tuple when there is one spectrum
        spectra = np.array([block] if n_collected == 1 else block, dtype=np.float64)
        origins = w.origins
        types = wdf.WdfDataType
        positions, position_unit = {}, None
        for key, dtype in (("x", types.Spatial_X), ("y", types.Spatial_Y), ("z", types.Spatial_Z)):
            if dtype in origins:
                positions[key] = np.array(origins[dtype][0:n_collected], dtype=np.float64)
                position_unit = (
                    "µm"
                    if origins[dtype].dataunit.name == "Micron"
                    else (origins[dtype].dataunit.name)
                )
        times = None
        if types.Time in origins and origins[types.Time].dataunit.name == "FileTime":
            times = [t.isoformat() for t in origins[types.Time][0:n_collected]]
        map_area = None
        if hdr.type == wdf.WdfType.Map:
            with contextlib.suppress(EOFError):  # a map without a map area: positions only
                map_area = w.map_area
        laser_wn = float(hdr.laser_wavenumber)
        meta: dict[str, Any] = {
            "file": name,
            "format": "wdf",
            "format_label": _WDF,
            "title": hdr.title.strip() or None,
            "instrument": _wdf_instrument(w, wdf) or "Renishaw",
            "software": f"{hdr.appname} {hdr.appversion}".strip(),
            "laser_nm": round(1e7 / laser_wn, 3) if laser_wn > 0 else None,
            "acquired": hdr.time_start.isoformat(),
            "measurement": hdr.type.name.lower(),
            "user": hdr.user.strip() or None,
        }
    if spectra.shape != (n_collected, n_points):
        raise _fail(name, _WDF, f"spectra of shape {spectra.shape}, expected {n_points} points")
    return _WdfContent(found_unit, x, spectra, meta, positions, position_unit, times, map_area)


def _read_wdf(
    path: Path, name: str, method: Method | None, unit: AxisUnit | None
) -> list[Spectrum]:
    c = _wdf_content(path, name, method, unit)
    n = c.spectra.shape[0]
    grid = _wdf_grid(c) if c.map_area is not None else None
    out = []
    for i in range(n):
        meta = dict(c.meta)
        if n > 1:
            meta["index"] = i
        if c.times is not None and n > 1:
            meta["acquired"] = c.times[i]
        if c.positions and (n > 1 or c.meta["measurement"] == "map"):
            meta |= {f"map_{k}": float(v[i]) for k, v in c.positions.items()}
            meta["position_unit"] = c.position_unit
        if grid is not None:
            meta["map_row"], meta["map_col"] = int(grid[0][i]), int(grid[1][i])
        out.append(_spectrum(c.x, c.spectra[i], Method.RAMAN, c.axis_unit, meta, name))
    return out


def _wdf_grid(c: _WdfContent) -> tuple[np.ndarray, np.ndarray] | None:
    """Row and column of each spectrum from its stage position, or None if off the grid."""
    area = c.map_area
    if "x" not in c.positions or "y" not in c.positions:
        return None
    n_cols, n_rows = int(area.count.x), int(area.count.y)
    dx, dy = float(area.step.x), float(area.step.y)
    if n_cols < 1 or n_rows < 1 or int(area.count.z) > 1 or dx == 0 or dy == 0:
        return None
    u = (c.positions["x"] - float(area.start.x)) / dx
    v = (c.positions["y"] - float(area.start.y)) / dy
    cols, rows = np.rint(u).astype(int), np.rint(v).astype(int)
    on_grid = (
        np.all(np.abs(u - cols) < 0.25)
        and np.all(np.abs(v - rows) < 0.25)
        and cols.min() >= 0
        and rows.min() >= 0
        and cols.max() < n_cols
        and rows.max() < n_rows
    )
    if not on_grid or np.unique(rows * n_cols + cols).size != cols.size:
        return None
    return rows, cols


def read_cube(path: str | Path) -> SpectralCube:
    """Read a Renishaw WDF map as a `SpectralCube` (rows along y, columns along x).

    Each spectrum is placed by its own recorded stage position on the map area's grid, so
    raster, snake and column-first collection orders all give the same cube.

    Parameters
    ----------
    path : str or Path
        A ``.wdf`` file of a completed rectangular map.

    Returns
    -------
    SpectralCube
        Axis increasing, intensities of shape (rows, cols, points), ``x``/``y`` the grid
        positions (``position_unit``, usually µm), metadata as for `read_spectra`.

    Raises
    ------
    SpectrumFileError
        Not a readable WDF file, not a map, an unfinished map or positions off the grid (read
        those with `read_spectra`, which gives each spectrum with its position).

    Examples
    --------
    >>> cube = read_cube("Si-map.wdf")  # doctest: +SKIP
    >>> cube.shape  # doctest: +SKIP
    (11, 8, 575)
    """
    path = Path(path)
    name = str(path)
    check_file(path)
    c = _wdf_content(path, name, None, None)
    if c.map_area is None:
        raise SpectrumFileError(
            f"spectrum '{name}': not a map (Renishaw measurement type "
            f"'{c.meta['measurement']}'); read it with read_spectrum or read_spectra"
        )
    area = c.map_area
    n_cols, n_rows = int(area.count.x), int(area.count.y)
    n = c.spectra.shape[0]
    if n != n_cols * n_rows:
        raise SpectrumFileError(
            f"spectrum '{name}': the map has {n} spectra for a {n_rows} x {n_cols} grid (an "
            "unfinished or depth map); read its spectra with read_spectra"
        )
    grid = _wdf_grid(c)
    if grid is None:
        raise SpectrumFileError(
            f"spectrum '{name}': the spectra's stage positions do not fall on the "
            f"{n_rows} x {n_cols} map grid; read them with read_spectra (positions in metadata)"
        )
    rows, cols = grid
    x, spectra = c.x, c.spectra
    if np.all(np.diff(x) < 0):
        x, spectra = x[::-1], spectra[:, ::-1]
    cube = np.empty((n_rows, n_cols, x.size))
    cube[rows, cols] = spectra
    meta = {k: v for k, v in c.meta.items() if k != "format_label" and v is not None}
    return SpectralCube(
        x,
        cube,
        float(area.start.x) + float(area.step.x) * np.arange(n_cols),
        float(area.start.y) + float(area.step.y) * np.arange(n_rows),
        Method.RAMAN,
        c.axis_unit,
        c.position_unit or "µm",
        meta,
    )


# ------------------------------------------------------------------------------------ OPUS
_OPUS = "Bruker OPUS"
_OPUS_MAGIC = b"\n\n\xfe\xfe"
# data blocks that hold a finished spectrum, in the order one is chosen (brukeropus keys)
_OPUS_KINDS = ("a", "t", "r", "atr", "km", "logr", "ra", "e", "pas", "aria", "arit", "sm")
_OPUS_PARAMS = {"src": "ir_source", "bms": "beamsplitter", "dtc": "detector", "res": "resolution"}


def _opus_magic(head: bytes) -> bool:
    return head[:4] == _OPUS_MAGIC


def _opus_date(params: Any) -> str | None:
    keys = params.keys()
    if "dat" not in keys or "tim" not in keys:
        return None
    date, time = str(params["dat"]).strip(), str(params["tim"]).strip()
    match = re.fullmatch(r"(\d{1,2}:\d{2}:\d{2})(?:\.\d+)?\s*(?:\(GMT([+-]\d{1,2})\))?", time)
    for fmt in ("%Y/%m/%d", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            day = dt.datetime.strptime(date, fmt)
            if match is None:
                break
            clock = dt.datetime.strptime(match.group(1), "%H:%M:%S").time()
            tz = dt.timezone(dt.timedelta(hours=int(match.group(2)))) if match.group(2) else None
            return dt.datetime.combine(day.date(), clock, tz).isoformat()
    return f"{date} {time}"  # a date form not recognised: kept as the file writes it


def _opus_directory_problem(data: bytes) -> str | None:
    """Why the block directory of an OPUS file does not fit the file, or None.

    brukeropus skips a block whose directory entry points outside the file and then picks
    another block of the same kind (OPUS files often hold two reflectance or absorbance
    blocks), so a truncated or damaged file would give other data without an error.
    """
    if len(data) < 24:
        return f"{len(data)} bytes, shorter than the 24-byte OPUS header"
    start, max_blocks, n_blocks = struct.unpack("<III", data[12:24])
    if n_blocks > max_blocks or start + 12 * n_blocks > len(data):
        return f"directory of {n_blocks} blocks at byte {start} does not fit the file"
    for i in range(n_blocks):
        words, offset = struct.unpack("<II", data[start + 12 * i + 4 : start + 12 * i + 12])
        if offset + 4 * words > len(data):
            return (
                f"block {i} ends at byte {offset + 4 * words}, beyond the {len(data)} bytes of "
                "the file (truncated or damaged)"
            )
    return None


def _read_opus(
    path: Path, name: str, method: Method | None, unit: AxisUnit | None
) -> list[Spectrum]:
    fmt = INSTRUMENT_FORMATS["opus"]
    brukeropus = _library(fmt, name)
    data = path.read_bytes()
    if data[:4] != _OPUS_MAGIC:
        raise _fail(name, _OPUS, f"starts with {data[:4]!r}, not the OPUS bytes 0A 0A FE FE")
    problem = _opus_directory_problem(data)
    if problem:
        raise _fail(name, _OPUS, problem)
    with _library_errors(name, _OPUS):
        # a damaged point count would make brukeropus build an x array of up to 2**31 values
        directory = importlib.import_module("brukeropus.file.directory").FileDirectory(data)
        for block in directory.blocks:
            npt = block.data.get("npt") if block.is_data_status() else None
            if npt is not None and not 0 < int(npt) <= len(data) // 4:
                raise _fail(name, _OPUS, f"{npt} points announced in a {len(data)}-byte file")
        opus = brukeropus.read_opus(str(path))
        keys = list(opus.data_keys)
        by_kind: dict[str, str] = {}
        for key in keys:
            by_kind.setdefault(key.split("_")[0], key)
        chosen = next((by_kind[k] for k in _OPUS_KINDS if k in by_kind), None)
        if chosen is None:
            labels = ", ".join(getattr(opus, k).label for k in keys) or "no data block"
            raise _fail(name, _OPUS, f"no spectrum block, only: {labels}")
        block = getattr(opus, chosen)
        n_points = int(block.params["npt"])
        y = np.array(block.y, dtype=np.float64)
        xu = str(block.params["dxu"]).upper()
        if xu == "WN":
            x = np.array(block.x, dtype=np.float64)
        elif xu in ("MI", "LGW"):
            x = np.array(block.wn, dtype=np.float64)
        else:
            raise SpectrumFileError(
                f"spectrum '{name}': the OPUS {block.label} block's x axis is in {xu!r}, not "
                "wavenumbers or micrometres"
            )
        params = opus.params
        meta: dict[str, Any] = {
            "file": name,
            "format": "opus",
            "format_label": _OPUS,
            "title": str(params["snm"]).strip() if "snm" in params.keys() else None,
            "sample_form": str(params["sfm"]).strip() if "sfm" in params.keys() else None,
            "instrument": str(params["ins"]).strip() if "ins" in params.keys() else None,
            "acquired": _opus_date(block.params),
            "ordinate": block.label,
            "opus_blocks": [getattr(opus, k).label for k in keys],
        }
        for key, label in _OPUS_PARAMS.items():
            if key in params.keys():
                meta[label] = str(params[key]).strip()
        is_raman = chosen.split("_")[0] == "ra"
        if is_raman and "lwn" in params.keys() and float(params["lwn"]) > 0:
            # on an FT-Raman block, LWN is the excitation laser; on infrared blocks it is the
            # interferometer's reference laser and says nothing about the sample
            meta["laser_nm"] = round(1e7 / float(params["lwn"]), 3)
    if y.size != n_points or x.size != n_points:
        raise _fail(name, _OPUS, f"{block.label} block has {y.size} of {n_points} points")
    found_method = Method.RAMAN if is_raman else None
    _check_given(name, "method", found_method, method, "the OPUS block is a Raman spectrum")
    if not is_raman and method in (Method.RAMAN, Method.LIBS, Method.XRD):
        raise SpectrumFileError(
            f"spectrum '{name}': the OPUS block is {block.label}, not a {method.value} spectrum; "
            "drop the method argument (infrared) or give ir or vnir"
        )
    chosen_method = found_method or method or Method.IR
    found_unit = AxisUnit.RAMAN_SHIFT if is_raman else AxisUnit.WAVENUMBER
    _check_given(name, "unit", found_unit, unit, f"OPUS x unit {xu}")
    return [_spectrum(x, y, chosen_method, found_unit, meta, name)]


# -------------------------------------------------------------------------------- registry
INSTRUMENT_FORMATS: dict[str, _Instrument] = {
    "spc": _Instrument(_SPC, (".spc",), _spc_magic, _read_spc, "spc_io", "spc-io"),
    "wdf": _Instrument(_WDF, (".wdf",), _wdf_magic, _read_wdf, "wdf", "renishaw-wdf"),
    "opus": _Instrument(_OPUS, (), _opus_magic, _read_opus, "brukeropus", "brukeropus"),
}
_OPUS_SUFFIX = re.compile(r"\.\d+$")


def detect_instrument_format(head: bytes, name: str) -> str | None:
    """Name of the binary instrument format of a file, or None for a text file.

    The magic bytes decide (``WDF1``; ``0A 0A FE FE`` for OPUS; an SPC 0x4B header); a binary
    file (NUL in ``head``) without them is given to the format its suffix names (``.spc``,
    ``.wdf``, ``.0``, ``.1`` ... for OPUS), so that the error names the format.

    Examples
    --------
    >>> detect_instrument_format(b"WDF1" + bytes(508), "x.dat")
    'wdf'
    >>> detect_instrument_format(b"500,0.1\\n510,0.2\\n", "x.spc") is None
    True
    """
    for fmt, spec in INSTRUMENT_FORMATS.items():
        if spec.magic(head):
            return fmt
    if b"\x00" not in head:
        return None
    suffix = Path(name).suffix.lower()
    for fmt, spec in INSTRUMENT_FORMATS.items():
        if suffix in spec.suffixes:
            return fmt
    if _OPUS_SUFFIX.search(name):
        return "opus"
    return None


def read_instrument(
    path: str | Path,
    format: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """Read every spectrum of an instrument file (``format`` one of `INSTRUMENT_FORMATS`).

    Parameters
    ----------
    path : str or Path
        The file.
    format : {'spc', 'wdf', 'opus'}
        Its format (see `detect_instrument_format`).
    method, unit : optional
        For files that do not record them; an error if they contradict the file.

    Returns
    -------
    list of Spectrum
        In file order; each with ``file``, ``format`` and what the file records of
        ``title``, ``instrument``, ``laser_nm`` and ``acquired`` in its metadata; the spectra
        of a WDF map also with ``map_x``/``map_y`` (``position_unit``) and ``map_row``/
        ``map_col``, those of a multifile SPC with ``subfile`` and ``z``.

    Raises
    ------
    SpectrumFileError
        One line naming the file, the format and the reason; also when the optional library
        is missing (the message names ``pip install 'lithoscope[formats]'``).
    """
    if format not in INSTRUMENT_FORMATS:
        raise InputError(f"format {format!r} is not one of {', '.join(INSTRUMENT_FORMATS)}")
    path = Path(path)
    check_file(path)
    m = parse_enum(Method, method, "method") if method is not None else None
    u = parse_enum(AxisUnit, unit, "unit", lower=False) if unit is not None else None
    return INSTRUMENT_FORMATS[format].read(path, str(path), m, u)


def parse_instrument(
    data: bytes,
    format: str,
    name: str = "input",
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """`read_instrument` of file content already in memory (an upload).

    The libraries read paths only, so ``data`` is written to a private temporary folder that is
    deleted afterwards; ``name`` is only a label (messages, ``file`` metadata), never a path.
    """
    if format not in INSTRUMENT_FORMATS:
        raise InputError(f"format {format!r} is not one of {', '.join(INSTRUMENT_FORMATS)}")
    m = parse_enum(Method, method, "method") if method is not None else None
    u = parse_enum(AxisUnit, unit, "unit", lower=False) if unit is not None else None
    spec = INSTRUMENT_FORMATS[format]
    with tempfile.TemporaryDirectory(prefix="lithoscope-upload-") as folder:
        path = Path(folder) / f"upload{spec.suffixes[0] if spec.suffixes else '.0'}"
        path.write_bytes(data)
        return spec.read(path, name, m, u)
