"""Measurement methods and spectral axis units, shared by MinDB, spectra and models."""

from __future__ import annotations

import enum
from typing import TypeVar

from lithoscope.errors import InputError

__all__ = ["DEFAULT_UNIT", "AxisUnit", "Method", "parse_enum"]

E = TypeVar("E", bound=enum.Enum)


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


def parse_enum(cls: type[E], value: object, what: str, *, lower: bool = True) -> E:
    """The member of the enum ``cls`` whose value ``value`` names.

    Parameters
    ----------
    cls : enum class
        E.g. `Method`, `AxisUnit`, ``lithoscope.mindb.models.Body``.
    value : object
        A member or its value (its ``str`` is looked up).
    what : str
        How the argument is named in the error message (``"method"``, ``"--body"``).
    lower : bool, default=True
        Look up ``str(value).lower()`` (case-insensitive; all method names are lower case).

    Returns
    -------
    enum member

    Raises
    ------
    InputError
        ``value`` names no member (the message lists the valid values).

    Examples
    --------
    >>> parse_enum(Method, "Raman", "method")
    <Method.RAMAN: 'raman'>
    """
    text = str(value)
    try:
        return cls(text.lower() if lower else text)
    except ValueError:
        raise InputError(
            f"{what} {value!r} is not one of {', '.join(str(m.value) for m in cls)}"
        ) from None
