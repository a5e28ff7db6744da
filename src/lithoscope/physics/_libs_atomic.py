"""Atomic data for the LIBS model: NIST lines, ionisation energies, Irwin partition functions.

Read once per process from the registered data source ``atomic-lines`` (a mirror laid out like
lithoscope's shared data folder, verified by sha256; see `lithoscope.data.fetch`):

* ``nist_asd_lines_vac_200-1000nm_all_species.csv.gz``: the NIST ASD line export (all elements,
  about 200-1001 nm, vacuum wavelengths). Kept: stages I and II, electric-dipole lines (blank
  ``Type``) with Aki, Ei, Ek, gi and gk. Wavelength: Ritz, else observed; converted to air with
  the formula NIST ASD uses above 200 nm (`vacuum_to_air`).
* ``nist_ionization_energies.csv``: ionisation energy of each species (``Fe I`` = 7.9025 eV).
* ``irwin_atoms_v07.3_partition_coeffs.dat``: Irwin (1981, ApJS 45:621) polynomial fits, the
  verbatim file; ``ln U = sum_i a_i (ln T)^i``, valid for about 1,000-16,000 K. The mirror's
  PROVENANCE.md explains why these, not the level sums derived from NIST, are used at LIBS
  temperatures (the NIST level lists of transition metals are incomplete above ~10,000 K).

The derived NIST partition functions and the Stark-coefficient file of the same folder are not
used (the Stark file's source is undocumented; see `lithoscope.physics.libs` for the widths).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = [
    "ATOMIC_SOURCE",
    "K_B_EV",
    "AtomicData",
    "load_atomic_data",
    "vacuum_to_air",
]

#: The registered data source holding the files (see `lithoscope.data.sources`).
ATOMIC_SOURCE = "atomic-lines"
LINES_FILE = "nist_asd_lines_vac_200-1000nm_all_species.csv.gz"
IONISATION_FILE = "nist_ionization_energies.csv"
IRWIN_FILE = "irwin_atoms_v07.3_partition_coeffs.dat"

K_B_EV = 8.617333262e-5  # Boltzmann constant, eV/K
#: Range of temperatures over which Irwin's fits are valid.
IRWIN_RANGE_K = (1000.0, 16000.0)

# NIST ASD accuracy codes -> upper bound of the relative uncertainty of Aki.
_ACCURACY = {
    "AAA": 0.003,
    "AA": 0.01,
    "A+": 0.02,
    "A": 0.03,
    "B+": 0.07,
    "B": 0.10,
    "C+": 0.18,
    "C": 0.25,
    "D+": 0.40,
    "D": 0.50,
    "E": 1.0,
}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_IRWIN_LINE = re.compile(r"^\s*\d+\s+(\d+)\.(\d\d)\s+'([^']*)'\s+([0-9.]+)\s+(\d+)\s+(.*)$")


def vacuum_to_air(wavelength_nm: npt.ArrayLike) -> np.ndarray:
    """Air wavelength (nm) of a vacuum wavelength, with the formula NIST ASD uses above 200 nm.

    ``n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s**2) + 1.5998e-4 / (38.9 - s**2)``, with ``s``
    the vacuum wavenumber in µm⁻¹ (Peck and Reeder 1972 via NIST ASD); ``lambda_air =
    lambda_vac / n``.

    Parameters
    ----------
    wavelength_nm : array_like
        Vacuum wavelengths in nm (>= 200 nm, where the formula holds).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> round(float(vacuum_to_air(589.1583)), 3)  # Na I D2
    588.995
    """
    vac = np.asarray(wavelength_nm, dtype=np.float64)
    s2 = (1000.0 / vac) ** 2
    n = 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)
    return vac / n


def _number(text: str) -> float:
    """A float from a NIST cell; NaN for blanks and uncertain values (``+x``, ``?``)."""
    text = text.strip().strip("[]()")
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


@dataclass(frozen=True, eq=False)
class AtomicData:
    """Lines of stages I and II, ionisation energies and partition functions, as arrays.

    Build it with `load_atomic_data` (from the data source, cached) or `from_files`.

    Attributes
    ----------
    element : numpy.ndarray of str, shape (n_lines,)
        Element symbol of each line.
    ion : numpy.ndarray of int, shape (n_lines,)
        1 for neutral (I) lines, 2 for singly ionised (II) lines.
    wavelength_nm : numpy.ndarray, shape (n_lines,)
        Air wavelength in nm (sorted increasing within the arrays).
    wavelength_vac_nm : numpy.ndarray
        Vacuum wavelength (Ritz, else observed).
    aki : numpy.ndarray
        Transition probability A_ki in s⁻¹.
    ei_ev, ek_ev : numpy.ndarray
        Lower and upper level energies in eV.
    gi, gk : numpy.ndarray
        Statistical weights of the lower and upper levels.
    accuracy : numpy.ndarray
        Upper bound of the relative uncertainty of A_ki from NIST's accuracy code (NaN when
        NIST gives none).
    ionisation_ev : dict of (str, int) to float
        Ionisation energy of each species: ``("Fe", 1)`` is Fe I -> Fe II, 7.9025 eV.
    irwin : dict of (str, int) to numpy.ndarray
        Irwin's six coefficients for each species (stage 1 = neutral, up to 3).
    sources : dict of str to str
        The files read and their sha256.
    """

    element: np.ndarray
    ion: np.ndarray
    wavelength_nm: np.ndarray
    wavelength_vac_nm: np.ndarray
    aki: np.ndarray
    ei_ev: np.ndarray
    ek_ev: np.ndarray
    gi: np.ndarray
    gk: np.ndarray
    accuracy: np.ndarray
    ionisation_ev: Mapping[tuple[str, int], float]
    irwin: Mapping[tuple[str, int], np.ndarray]
    sources: Mapping[str, str] = field(default_factory=dict)
    _by_element: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("element", "ion", "wavelength_nm", "wavelength_vac_nm", "aki", "ei_ev"):
            getattr(self, name).setflags(write=False)
        for name in ("ek_ev", "gi", "gk", "accuracy"):
            getattr(self, name).setflags(write=False)
        index: dict[str, list[int]] = {}
        for i, el in enumerate(self.element.tolist()):
            index.setdefault(el, []).append(i)
        self._by_element.update({el: np.asarray(ix, dtype=np.intp) for el, ix in index.items()})

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_files(
        cls,
        lines: str | Path,
        ionisation: str | Path,
        irwin: str | Path,
    ) -> AtomicData:
        """Read the three files (see the module docstring for what each holds).

        Parameters
        ----------
        lines : str or Path
            The NIST ASD line export (``.csv`` or ``.csv.gz``).
        ionisation : str or Path
            ``species,ionization_energy_eV``.
        irwin : str or Path
            Irwin's coefficient file (``irwin_atoms_v07.3_partition_coeffs.dat``).

        Returns
        -------
        AtomicData

        Raises
        ------
        InputError
            A file is missing a column, or holds no usable line.
        """
        paths = {"lines": Path(lines), "ionisation": Path(ionisation), "irwin": Path(irwin)}
        for what, path in paths.items():
            if not path.is_file():
                raise InputError(
                    f"atomic data file {path}: not found ({what}); fix: fetch the source "
                    f"{ATOMIC_SOURCE!r} with 'lithoscope data fetch {ATOMIC_SOURCE} --mirror DIR'"
                )
        digests = {str(p): _sha256(p) for p in paths.values()}
        return _read_cached(
            str(paths["lines"]),
            str(paths["ionisation"]),
            str(paths["irwin"]),
            tuple(digests.values()),
        )

    # ------------------------------------------------------------------ queries
    @property
    def n_lines(self) -> int:
        return int(self.element.size)

    @property
    def elements(self) -> tuple[str, ...]:
        """Elements that have at least one line, sorted."""
        return tuple(sorted(self._by_element))

    def lines_of(self, element: str, ion: int | None = None) -> np.ndarray:
        """Indices of the lines of ``element`` (and of one stage, if given), by wavelength."""
        idx = self._by_element.get(element, np.empty(0, dtype=np.intp))
        if ion is not None:
            idx = idx[self.ion[idx] == ion]
        return idx

    def partition_function(
        self, element: str, stage: int, temperature: npt.ArrayLike
    ) -> np.ndarray:
        """Irwin's partition function U(T) of one species.

        Parameters
        ----------
        element : str
        stage : int
            1 = neutral, 2 = singly ionised, 3 = doubly ionised.
        temperature : array_like
            Kelvin, within `IRWIN_RANGE_K`.

        Returns
        -------
        numpy.ndarray
            ``exp(sum_i a_i (ln T)^i)``.

        Raises
        ------
        InputError
            Irwin's table has no such species.
        """
        try:
            coeffs = self.irwin[(element, stage)]
        except KeyError:
            raise InputError(
                f"element {element!r} stage {stage}: not in Irwin's partition-function table "
                "(stages 1-3 of Z = 1-92); fix: use element symbols such as 'Fe'"
            ) from None
        lnt = np.log(np.asarray(temperature, dtype=np.float64))
        return np.exp(np.polynomial.polynomial.polyval(lnt, coeffs))

    def ionisation_energy(self, element: str, stage: int) -> float:
        """Energy (eV) that ionises stage ``stage`` of ``element``; ``inf`` if unknown or bare."""
        return float(self.ionisation_ev.get((element, stage), math.inf))


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


_CACHE: dict[tuple[str, ...], AtomicData] = {}
_CACHE_LOCK = threading.Lock()


def _read_cached(lines: str, ionisation: str, irwin: str, digests: tuple[str, ...]) -> AtomicData:
    """Parse the files once per process; keyed on their checksums, so copies of the same files
    in other folders hit the cache."""
    with _CACHE_LOCK:
        cached = _CACHE.get(digests)
        if cached is not None:
            return cached
        data = AtomicData(
            **_read_lines(Path(lines)),
            ionisation_ev=_read_ionisation(Path(ionisation)),
            irwin=_read_irwin(Path(irwin)),
            sources={
                Path(p).name: d for p, d in zip((lines, ionisation, irwin), digests, strict=True)
            },
        )
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[digests] = data
        return data


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _read_lines(path: Path) -> dict[str, np.ndarray]:
    need = (
        "element",
        "sp_num",
        "obs_wl_vac(nm)",
        "ritz_wl_vac(nm)",
        "Aki(s^-1)",
        "Acc",
        "Ei(eV)",
        "Ek(eV)",
        "g_i",
        "g_k",
        "Type",
        "J_i",
        "J_k",
    )
    cols: dict[str, list] = {
        k: [] for k in ("el", "ion", "vac", "aki", "ei", "ek", "gi", "gk", "summary")
    }
    acc: list[float] = []
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputError(f"atomic line file {path}: is empty; fix: fetch it again")
        missing = [c for c in need if c not in header]
        if missing:
            raise InputError(
                f"atomic line file {path}: missing columns {', '.join(missing)}; expected the "
                "NIST ASD export of the 'atomic-lines' source"
            )
        i = {c: header.index(c) for c in need}
        for row in reader:
            stage = row[i["sp_num"]].strip()
            element = row[i["element"]].strip()
            # deuterium and tritium are listed as elements of their own: hydrogen covers them
            if stage not in ("1", "2") or row[i["Type"]].strip() or element in ("D", "T"):
                continue
            aki = _number(row[i["Aki(s^-1)"]])
            ei, ek = _number(row[i["Ei(eV)"]]), _number(row[i["Ek(eV)"]])
            gi, gk = _number(row[i["g_i"]]), _number(row[i["g_k"]])
            vac = _number(row[i["ritz_wl_vac(nm)"]])
            if math.isnan(vac):
                vac = _number(row[i["obs_wl_vac(nm)"]])
            values = (aki, ei, ek, gi, gk, vac)
            if any(math.isnan(v) for v in values) or aki <= 0 or gi <= 0 or gk <= 0:
                continue
            cols["el"].append(element)
            cols["ion"].append(int(stage))
            cols["summary"].append(not row[i["J_i"]].strip() and not row[i["J_k"]].strip())
            for key, v in zip(("aki", "ei", "ek", "gi", "gk", "vac"), values, strict=True):
                cols[key].append(v)
            acc.append(_ACCURACY.get(row[i["Acc"]].strip().rstrip("'"), math.nan))
    if not cols["el"]:
        raise InputError(f"atomic line file {path}: no line of stage I or II with Aki, Ek and gk")
    vac = np.asarray(cols["vac"], dtype=np.float64)
    keep = _not_duplicated(
        np.asarray(cols["el"]), np.asarray(cols["ion"]), vac, np.asarray(cols["summary"])
    )
    cols = {k: [v for v, ok in zip(vals, keep, strict=True) if ok] for k, vals in cols.items()}
    acc = [a for a, ok in zip(acc, keep, strict=True) if ok]
    vac = vac[keep]
    order = np.argsort(vac, kind="stable")
    return {
        "element": np.asarray(cols["el"], dtype=str)[order],
        "ion": np.asarray(cols["ion"], dtype=np.int8)[order],
        "wavelength_nm": vacuum_to_air(vac)[order],
        "wavelength_vac_nm": vac[order],
        "aki": np.asarray(cols["aki"], dtype=np.float64)[order],
        "ei_ev": np.asarray(cols["ei"], dtype=np.float64)[order],
        "ek_ev": np.asarray(cols["ek"], dtype=np.float64)[order],
        "gi": np.asarray(cols["gi"], dtype=np.float64)[order],
        "gk": np.asarray(cols["gk"], dtype=np.float64)[order],
        "accuracy": np.asarray(acc, dtype=np.float64)[order],
    }


def _not_duplicated(
    element: np.ndarray, ion: np.ndarray, vac: np.ndarray, summary: np.ndarray
) -> np.ndarray:
    """False for multiplet totals listed beside their fine-structure components.

    NIST lists the low Balmer lines of hydrogen both as multiplets (no J values, e.g. H-alpha
    656.28 nm with g_k = 18) and as their J-resolved components; keeping both would count
    those lines twice. A line without J values is dropped when a J-resolved line of the same
    species lies within 0.02 nm.
    """
    keep = np.ones(vac.size, dtype=bool)
    for i in np.flatnonzero(summary):
        same = (element == element[i]) & (ion == ion[i]) & ~summary
        if np.any(np.abs(vac[same] - vac[i]) < 0.02):
            keep[i] = False
    return keep


def _read_ionisation(path: Path) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    with path.open("r", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"species", "ionization_energy_eV"} <= set(
            reader.fieldnames
        ):
            raise InputError(
                f"ionisation-energy file {path}: expected columns 'species' and "
                "'ionization_energy_eV'"
            )
        for row in reader:
            parts = row["species"].split()
            energy = _number(row["ionization_energy_eV"])
            if len(parts) == 2 and parts[1] in _ROMAN and not math.isnan(energy):
                out[(parts[0], _ROMAN[parts[1]])] = energy
    return out


def _read_irwin(path: Path) -> dict[tuple[str, int], np.ndarray]:
    """Irwin's coefficient file: ``idx code 'name' IP npart a0 .. a5`` (Fortran D exponents)."""
    from periodictable import elements

    out: dict[tuple[str, int], np.ndarray] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _IRWIN_LINE.match(line)
        if match is None:
            raise InputError(
                f"partition-function file {path} line {lineno}: expected "
                f"\"idx Z.ss 'name' IP n a0 .. a5\", got {line[:60]!r}"
            )
        z, stage = int(match.group(1)), int(match.group(2)) + 1
        coeffs = [float(c.replace("D", "E").replace("d", "e")) for c in match.group(6).split()]
        if z < 1 or z > 118 or not coeffs:
            continue
        padded = np.zeros(6)
        padded[: min(6, len(coeffs))] = coeffs[:6]
        out[(elements[z].symbol, stage)] = padded
    if not out:
        raise InputError(f"partition-function file {path}: no coefficients found")
    return out


def load_atomic_data(
    *,
    mirror: str | Path | None = None,
    dest: Path | None = None,
) -> AtomicData:
    """The atomic data of the ``atomic-lines`` source, fetched if needed and read once.

    Parameters
    ----------
    mirror : str or Path, optional
        Local folder or URL of a data mirror (default: ``LITHOSCOPE_MIRROR``); the source has no
        official URL, so without a mirror only a copy already in the cache works.
    dest : Path, optional
        Root of the local copies (default: the cache of `lithoscope.data.fetch`).

    Returns
    -------
    AtomicData
        The same object for the same file contents (cached per process).

    Raises
    ------
    lithoscope.data.fetch.SourceUnavailableError
        No mirror and no verified local copy.
    """
    from lithoscope.data.fetch import local_path

    paths = [
        local_path(ATOMIC_SOURCE, name, mirror=mirror, dest=dest, progress=False)
        for name in (LINES_FILE, IONISATION_FILE, IRWIN_FILE)
    ]
    return AtomicData.from_files(*paths)
