"""Measurement methods and spectral axis units, shared by MinDB, spectra and models."""

from __future__ import annotations

import enum

__all__ = ["DEFAULT_UNIT", "AxisUnit", "Method"]


class Method(enum.StrEnum):
    """Spectroscopic or diffraction method."""

    RAMAN = "raman"
    IR = "ir"
    LIBS = "libs"
    VNIR = "vnir"
    XRD = "xrd"


class AxisUnit(enum.StrEnum):
    """Unit of a spectral axis."""

    RAMAN_SHIFT = "raman shift cm-1"
    WAVENUMBER = "wavenumber cm-1"
    WAVELENGTH_NM = "wavelength nm"
    TWO_THETA = "2-theta deg"


DEFAULT_UNIT: dict[Method, AxisUnit] = {
    Method.RAMAN: AxisUnit.RAMAN_SHIFT,
    Method.IR: AxisUnit.WAVENUMBER,
    Method.LIBS: AxisUnit.WAVELENGTH_NM,
    Method.VNIR: AxisUnit.WAVELENGTH_NM,
    Method.XRD: AxisUnit.TWO_THETA,
}
