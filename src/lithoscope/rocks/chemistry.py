"""Mineral chemistry that travels with a mode: plagioclase An, olivine Fa, low-Ca pyroxene Fs.

Instruments that give a mode often give these too (electron microprobe, Raman band positions,
VNIR band centres). The planetary schemes use them where meteoriticists and lunar petrologists do:
ordinary-chondrite groups by olivine Fa and low-Ca pyroxene Fs, primitive achondrites by how
reduced their silicates are, FAN versus Mg-suite by the Mg# of the mafic minerals.

Mg# from the given chemistry
----------------------------
* olivine: Mg# = 100 Mg/(Mg + Fe) = Fo = 100 - Fa (Mn and Ca ignored);
* low-Ca pyroxene: Mg# = 100 En/(En + Fs) ~= 100 - Fs. The Wo of low-Ca pyroxene (orthopyroxene
  Wo1-3, pigeonite Wo5-15) is not given, and ignoring it makes Mg# high by Fs * Wo / (100 - Wo),
  under 2 units for Fs <= 40 and Wo <= 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lithoscope.errors import InputError

__all__ = ["Chemistry", "check_chemistry"]

#: argument name -> (command-line flag, what it is) for the one-line errors.
_WHAT = {
    "plagioclase_an": ("--an", "plagioclase An"),
    "olivine_fa": ("--fa", "olivine Fa"),
    "pyroxene_fs": ("--fs", "low-Ca pyroxene Fs"),
}


@dataclass(frozen=True)
class Chemistry:
    """Mineral chemistry in mol %; ``None`` where it was not measured.

    Attributes
    ----------
    plagioclase_an : float or None
        Anorthite content of the plagioclase, An = 100 Ca/(Ca + Na + K).
    olivine_fa : float or None
        Fayalite content of the olivine, Fa = 100 Fe/(Fe + Mg).
    pyroxene_fs : float or None
        Ferrosilite content of the low-Ca pyroxene (orthopyroxene or pigeonite), Fs of
        Wo-En-Fs.
    """

    plagioclase_an: float | None = None
    olivine_fa: float | None = None
    pyroxene_fs: float | None = None

    @property
    def mafic_given(self) -> bool:
        """True when olivine Fa or pyroxene Fs was given."""
        return self.olivine_fa is not None or self.pyroxene_fs is not None

    def mg_numbers(self) -> dict[str, float]:
        """Mg# of olivine (``"olivine"``) and of low-Ca pyroxene (``"pyroxene"``), where given.

        Examples
        --------
        >>> Chemistry(olivine_fa=12.0, pyroxene_fs=30.0).mg_numbers()
        {'olivine': 88.0, 'pyroxene': 70.0}
        """
        out = {}
        if self.olivine_fa is not None:
            out["olivine"] = 100.0 - self.olivine_fa
        if self.pyroxene_fs is not None:
            out["pyroxene"] = 100.0 - self.pyroxene_fs
        return out

    def describe(self) -> str:
        """``"An 96, Fa 12, Fs 30"`` for what was given (empty when nothing was)."""
        parts = [
            f"{label} {value:g}"
            for label, value in (
                ("An", self.plagioclase_an),
                ("Fa", self.olivine_fa),
                ("Fs", self.pyroxene_fs),
            )
            if value is not None
        ]
        return ", ".join(parts)


def _check(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    flag, what = _WHAT[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 <= value <= 100:
        raise InputError(f"{flag} {value!r}: expected {what} in mol % between 0 and 100")
    return float(value)


def check_chemistry(
    *,
    plagioclase_an: float | None = None,
    olivine_fa: float | None = None,
    pyroxene_fs: float | None = None,
) -> Chemistry:
    """Validate mineral chemistry (mol %, 0-100) into a `Chemistry`.

    Raises
    ------
    InputError
        A value that is not a finite number between 0 and 100, naming the argument by its
        command-line flag (``--an``, ``--fa``, ``--fs``).

    Examples
    --------
    >>> check_chemistry(olivine_fa=18).olivine_fa
    18.0
    >>> check_chemistry(pyroxene_fs=120)
    Traceback (most recent call last):
    ...
    lithoscope.errors.InputError: --fs 120: expected low-Ca pyroxene Fs in mol % between 0 and 100
    """
    return Chemistry(
        plagioclase_an=_check("plagioclase_an", plagioclase_an),
        olivine_fa=_check("olivine_fa", olivine_fa),
        pyroxene_fs=_check("pyroxene_fs", pyroxene_fs),
    )
