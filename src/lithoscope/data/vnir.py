"""The Korda & Kohout (2024) VNIR data: RELAB silicate spectra with modal and chemical labels.

674 reflectance spectra (450-2450 nm, 5 nm steps, denoised by Korda et al.) of olivine,
orthopyroxene, clinopyroxene and plagioclase, their mixtures, ordinary chondrites, achondrites,
37 returned lunar samples and 10 Martian meteorites, each labelled with modal abundances
(vol %, normalised to these four silicates) and mineral chemistry (Fo/Fa, En/Fs/Wo of both
pyroxenes, An/Ab/Or). The public origin is GitHub ``Sirrah91/Asteroid-spectra`` commit
``0816f706ec1b5f133b4f49bb927eaeee60b296ee``, folder ``v3.0/datasets``; its metadata are pickled
object arrays, so lithoscope reads CSV conversions from a mirror (data source ``korda2024``,
folder ``vnir/``) and never unpickles anything.

Grouping: every spectrum has its own ``SampleID``, but several SampleIDs are splits of one
material (grain-size fractions of one websterite, bulk and chondrules of one chondrite) and share
every label. `KordaData.material_groups` merges those, so a grouped split never puts one
material on both sides.

References
----------
Korda D. & Kohout T. (2024) Planet. Sci. J. 5:85, doi:10.3847/PSJ/ad2685.
Korda D., Penttila A., Klami A., Kohout T. (2023) A&A 669:A101.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from lithoscope.errors import InputError, LithoscopeError

__all__ = [
    "CHEMISTRY",
    "LABELS",
    "MODES",
    "SOURCE",
    "SUBSETS",
    "KordaData",
    "load_korda",
]

#: Registered data source (`lithoscope.data.sources`).
SOURCE = "korda2024"
SPECTRA_FILE = "korda2024_relab_silicates_denoised_450-2450nm.csv"
NORMALISED_FILE = "korda2024_relab_silicates_denoised_norm550_450-2450nm.csv"
LABELS_FILE = "korda2024_relab_silicates_labels.csv"
METADATA_FILE = "korda2024_relab_silicates_metadata.csv"

#: Modal abundances (volume fractions of the four silicates).
MODES = ("OL", "OPX", "CPX", "PLG")
#: Chemistry, as fractions 0-1: olivine Fa/Fo, OPX and CPX Fs/En/Wo, plagioclase An/Ab/Or.
CHEMISTRY = (
    "Fa",
    "Fo",
    "Fs_OPX",
    "En_OPX",
    "Wo_OPX",
    "Fs_CPX",
    "En_CPX",
    "Wo_CPX",
    "An",
    "Ab",
    "Or",
)
LABELS = MODES + CHEMISTRY
# The label file's column headers, in order, and the names lithoscope gives them.
_LABEL_HEADERS = {
    "OL modal abundances normalised to silicates (vol%)": "OL",
    "OPX modal abundances normalised to silicates (vol%)": "OPX",
    "CPX modal abundances normalised to silicates (vol%)": "CPX",
    "PLG modal abundances normalised to silicates (vol%)": "PLG",
    "Fa": "Fa",
    "Fo": "Fo",
    "Fs (OPX)": "Fs_OPX",
    "En (OPX)": "En_OPX",
    "Wo (OPX)": "Wo_OPX",
    "Fs (CPX)": "Fs_CPX",
    "En (CPX)": "En_CPX",
    "Wo (CPX)": "Wo_CPX",
    "An": "An",
    "Ab": "Ab",
    "Or": "Or",
}
_METADATA_REQUIRED = ("SampleID", "SpectrumID", "SampleName", "Source", "GeneralType1", "Type1")
_N_WAVELENGTHS = 401
_FIX = (
    "fix: fetch it again from a mirror laid out like lithoscope's data mirror "
    "(lithoscope data fetch korda2024 --mirror DIR_OR_URL)"
)

#: Named subsets of the spectra, from the metadata.
SUBSETS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "all": lambda m: np.ones(len(m), dtype=bool),
    "minerals": lambda m: (m["GeneralType1"] == "Mineral").to_numpy(),
    "rocks": lambda m: (m["GeneralType1"] == "Rock").to_numpy(),
    "meteorites": lambda m: m["Source"].isin(["Other-Met", "Mars-Met"]).to_numpy(),
    "lunar": lambda m: (m["Source"] == "Moon-Ret").to_numpy(),
    "mars": lambda m: (m["Source"] == "Mars-Met").to_numpy(),
}


@dataclass(frozen=True)
class KordaData:
    """Korda & Kohout (2024) spectra with their labels and metadata, row-aligned.

    Attributes
    ----------
    wavelength_nm : numpy.ndarray, shape (401,)
        450-2450 nm in 5 nm steps.
    reflectance : numpy.ndarray, shape (n, 401)
        Reflectance factor (RELAB geometry i = 30 deg, e = 0 deg), or normalised to 1 at 550 nm
        when loaded with ``normalised=True``.
    labels : pandas.DataFrame, shape (n, 15)
        Columns `LABELS` as fractions 0-1; NaN where the source analysis is missing.
    metadata : pandas.DataFrame
        RELAB metadata: SampleID, SpectrumID, SampleName, PI, Source, GeneralType1, Type1,
        SubType, MinSize, MaxSize, ... (strings stripped of surrounding blanks).
    """

    wavelength_nm: np.ndarray
    reflectance: np.ndarray
    labels: pd.DataFrame
    metadata: pd.DataFrame

    def __len__(self) -> int:
        return self.reflectance.shape[0]

    @property
    def modes(self) -> np.ndarray:
        """Modal abundances, shape (n, 4), columns `MODES`; NaN where unknown."""
        return self.labels.loc[:, list(MODES)].to_numpy(dtype=np.float64)

    @property
    def has_modes(self) -> np.ndarray:
        """Rows whose four modal abundances are all known."""
        return np.isfinite(self.modes).all(axis=1)

    @property
    def sample_ids(self) -> np.ndarray:
        """RELAB SampleID of each spectrum (unique per spectrum in this data set)."""
        return self.metadata["SampleID"].to_numpy(dtype=str)

    def material_groups(self) -> np.ndarray:
        """Group numbers that keep one analysed material together.

        Spectra sharing a SampleID, or sharing every label (modes and chemistry, NaN equal to
        NaN, to 1e-4), are one group: grain-size splits and preparations of one material carry
        the same analysis.

        Returns
        -------
        numpy.ndarray of int, shape (n,)
        """
        key = self.labels.round(4).fillna(-1.0).astype(str).agg("|".join, axis=1)
        by_label = pd.factorize(key)[0]
        by_sample = pd.factorize(self.metadata["SampleID"])[0]
        # Union-find over the two equivalences.
        parent = np.arange(len(self))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for codes in (by_label, by_sample):
            first: dict[int, int] = {}
            for i, c in enumerate(codes):
                j = first.setdefault(int(c), i)
                parent[root(i)] = root(j)
        return pd.factorize(np.array([root(i) for i in range(len(self))]))[0]

    def subset(self, name: str) -> np.ndarray:
        """Boolean mask of a named subset (`SUBSETS`: all, minerals, rocks, meteorites, ...).

        Raises
        ------
        InputError
            For an unknown name; the message lists the valid names.
        """
        try:
            return SUBSETS[name](self.metadata)
        except KeyError:
            valid = ", ".join(SUBSETS)
            raise InputError(f"subset {name!r} is unknown; valid names: {valid}") from None

    def take(self, index: npt.ArrayLike) -> KordaData:
        """The rows `index` (integer positions or a boolean mask) as a new `KordaData`."""
        idx = np.arange(len(self))[np.asarray(index)]
        return KordaData(
            self.wavelength_nm,
            self.reflectance[idx],
            self.labels.iloc[idx].reset_index(drop=True),
            self.metadata.iloc[idx].reset_index(drop=True),
        )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"Korda file {path.name!r}: cannot be read as CSV ({reason}); {_FIX}"
        ) from None


def _spectra(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = _read_csv(path)
    where = f"Korda file {path.name!r}"
    if list(frame.columns[:2]) != ["row", "SpectrumID"]:
        raise InputError(
            f"{where}: expected the columns to start with 'row', 'SpectrumID', got "
            f"{list(frame.columns[:2])}; {_FIX}"
        )
    try:
        wavelength = np.array([float(c) for c in frame.columns[2:]])
    except ValueError:
        raise InputError(f"{where}: expected wavelengths in nm as column names; {_FIX}") from None
    if wavelength.size != _N_WAVELENGTHS or np.any(np.diff(wavelength) <= 0):
        raise InputError(
            f"{where}: expected {_N_WAVELENGTHS} increasing wavelengths, got {wavelength.size}; "
            + _FIX
        )
    values = frame.iloc[:, 2:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0.0)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise InputError(
            f"{where} line {row + 2}: expected positive numbers for every wavelength, got a "
            f"missing, non-numeric or non-positive value; {_FIX}"
        )
    return wavelength, values, frame["SpectrumID"].to_numpy(dtype=str)


def _labels(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    headers = list(frame.columns[2:])
    if list(frame.columns[:2]) != ["row", "SpectrumID"] or headers != list(_LABEL_HEADERS):
        missing = [h for h in _LABEL_HEADERS if h not in headers]
        raise InputError(
            f"Korda file {path.name!r}: expected 'row', 'SpectrumID' and the 15 label columns "
            f"of Korda & Kohout 2024; missing or out of order: {missing or headers}; {_FIX}"
        )
    labels = frame.iloc[:, 2:].apply(pd.to_numeric, errors="coerce")
    values = labels.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
        raise InputError(f"Korda file {path.name!r}: expected labels as fractions 0-1; {_FIX}")
    labels.columns = list(_LABEL_HEADERS.values())
    labels.insert(0, "SpectrumID", frame["SpectrumID"].to_numpy(dtype=str))
    return labels


def _metadata(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    missing = [c for c in _METADATA_REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"Korda file {path.name!r}: expected the columns {', '.join(_METADATA_REQUIRED)}; "
            f"missing {', '.join(missing)}; {_FIX}"
        )
    frame = frame.drop(columns=["row"], errors="ignore")
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("string").str.strip()
    return frame


def _path(name: str, mirror: str | Path | None, dest: Path | None) -> Path:
    from lithoscope.data.fetch import local_path

    try:
        return local_path(SOURCE, name, mirror=mirror, dest=dest, progress=False)
    except InputError:
        raise
    except LithoscopeError as exc:  # missing mirror, unreachable file, checksum mismatch
        raise InputError(f"Korda file {name!r}: {exc}") from None


def load_korda(
    mirror: str | Path | None = None,
    *,
    normalised: bool = False,
    dest: Path | None = None,
) -> KordaData:
    """Load the Korda & Kohout (2024) VNIR spectra, labels and metadata.

    Parameters
    ----------
    mirror : str or Path, optional
        A mirror laid out like lithoscope's data mirror (``vnir/korda2024_*.csv`` beside
        ``vnir/MANIFEST.sha256``): a folder or URL. Default: `Settings.mirror`, else a copy
        already verified in the cache. Files are checked against the mirror's manifest.
    normalised : bool, default False
        Read the spectra normalised to 1 at 550 nm instead of the reflectance factor.
    dest : Path, optional
        Root of the local copies (default: lithoscope's cache).

    Returns
    -------
    KordaData

    Raises
    ------
    InputError
        If a file is missing, fails its checksum or is malformed; the message names the file
        and how to fetch it again.

    Examples
    --------
    >>> data = load_korda("/media/usb/lithoscope-data")  # doctest: +SKIP
    >>> data.reflectance.shape, data.modes.shape  # doctest: +SKIP
    ((674, 401), (674, 4))
    """
    spectra_name = NORMALISED_FILE if normalised else SPECTRA_FILE
    wavelength, reflectance, ids = _spectra(_path(spectra_name, mirror, dest))
    labels = _labels(_path(LABELS_FILE, mirror, dest))
    metadata = _metadata(_path(METADATA_FILE, mirror, dest))
    for name, other in ((LABELS_FILE, labels), (METADATA_FILE, metadata)):
        other_ids = other["SpectrumID"].to_numpy(dtype=str)
        if other_ids.shape != ids.shape or np.any(other_ids != ids):
            raise InputError(
                f"Korda file {name!r}: expected the same SpectrumIDs in the same order as "
                f"{spectra_name!r} ({ids.size} rows), got {other_ids.size} rows that differ; "
                + _FIX
            )
    return KordaData(
        wavelength_nm=wavelength,
        reflectance=reflectance,
        labels=labels.drop(columns="SpectrumID").reset_index(drop=True),
        metadata=metadata.reset_index(drop=True),
    )
