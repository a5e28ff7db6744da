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

Into MinDB (``lithoscope data ingest korda2024`` / ``usgs-splib07``, `ingest_korda`,
`ingest_usgs`): every spectrum is stored as a VNIR spectrum with its RELAB SampleID as sample id
and its labels as numbers in the spectrum's metadata. A spectrum is linked to a species only
when it is a single-phase mineral sample whose species follows from its labels by the IMA
dominant-constituent rule (`ima_species`); rocks, meteorites and mixtures are stored unlinked.
The USGS splib07 MICA reference spectra (`load_usgs_mica`) are stored the same way, each
single-mineral record labelled with its mineral (`USGS_RECORDS`).

References
----------
Korda D. & Kohout T. (2024) Planet. Sci. J. 5:85, doi:10.3847/PSJ/ad2685.
Korda D., Penttila A., Klami A., Kohout T. (2023) A&A 669:A101.
Hatert F. & Burke E.A.J. (2008) The IMA-CNMNC dominant-constituent rule revisited and extended.
Can. Mineral. 46:717-728.
Morimoto N. (1988) Nomenclature of pyroxenes. Mineral. Mag. 52:535-550.
Kokaly R.F. et al. (2017) USGS Spectral Library Version 7, USGS Data Series 1035,
doi:10.3133/ds1035.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lithoscope.errors import InputError, LithoscopeError

if TYPE_CHECKING:
    from lithoscope.data.ingest import IngestReport
    from lithoscope.mindb.queries import MinDB
    from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "CHEMISTRY",
    "LABELS",
    "MODES",
    "MODE_GROUPS",
    "SOURCE",
    "SUBSETS",
    "USGS_RECORDS",
    "USGS_SOURCE",
    "KordaData",
    "SpeciesCall",
    "UsgsMica",
    "ima_species",
    "ingest_korda",
    "ingest_usgs",
    "korda_spectra",
    "load_korda",
    "load_usgs_mica",
    "mindb_labels",
    "usgs_spectra",
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


def _path(name: str, mirror: str | Path | None, dest: Path | None, source: str = SOURCE) -> Path:
    from lithoscope.data.fetch import local_path

    try:
        return local_path(source, name, mirror=mirror, dest=dest, progress=False)
    except InputError:
        raise
    except LithoscopeError as exc:  # missing mirror, unreachable file, checksum mismatch
        what = "Korda" if source == SOURCE else "USGS splib07"
        raise InputError(f"{what} file {name!r}: {exc}") from None


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


# ------------------------------------------------------------------------------- species
#: The four silicates of the labels and the MinDB group (and rock-scheme) name of each.
MODE_GROUPS = {
    "OL": "olivine",
    "OPX": "orthopyroxene",
    "CPX": "clinopyroxene",
    "PLG": "plagioclase",
}
#: A mineral sample is single-phase when one silicate makes at least this fraction of it.
PURE_MODE = 0.99


@dataclass(frozen=True)
class SpeciesCall:
    """What MinDB stores a Korda spectrum as.

    Attributes
    ----------
    label : str
        The spectrum's label, which MinDB links: an IMA species (``"Forsterite"``), a group
        (``"olivine"``, species left open) or a description that links to nothing
        (``"rock: Ordinary Chondrite"``, ``"mixture: olivine + orthopyroxene"``).
    kind : {"species", "group", "mixture", "rock", "unlabelled"}
    rule : str
        Why, in words (kept with the spectrum).
    """

    label: str
    kind: str
    rule: str


def _ratio(a: float, b: float) -> float:
    return a / (a + b) if a + b > 0 else float("nan")


def ima_species(group: str, chemistry: Mapping[str, float]) -> SpeciesCall:
    """The IMA species of a single-phase olivine, pyroxene or plagioclase from its chemistry.

    The dominant-constituent rule (Hatert & Burke 2008) on the end-members the labels give:

    * olivine: Fo / (Fo + Fa) >= 0.5 -> Forsterite, else Fayalite;
    * orthopyroxene: Fs / (En + Fs) < 0.5 -> Enstatite, else Ferrosilite (with no Wo this is
      Fs < 50 mol %);
    * clinopyroxene (Morimoto 1988, quadrilateral): Wo >= 45 -> Diopside (En >= Fs) or
      Hedenbergite; 20 <= Wo < 45 -> Augite; 5 <= Wo < 20 -> Pigeonite; Wo < 5 ->
      Clinoenstatite or Clinoferrosilite (on En + Fs + Wo normalised to 1);
    * feldspar, dominant valency first: An >= Ab + Or -> Anorthite; else Ab >= Or -> Albite;
      else K-feldspar, whose polymorph the chemistry cannot tell (group ``feldspar``). For a
      plagioclase without Or this is An >= 50 -> Anorthite. Labradorite, bytownite and the other
      plagioclase names are not IMA species, so a bytownite sample is Anorthite (or Albite).

    Chemistry that is missing leaves the species open: the group is returned.

    Parameters
    ----------
    group : {"olivine", "orthopyroxene", "clinopyroxene", "plagioclase"}
    chemistry : mapping
        Korda label names (`CHEMISTRY`: Fo, Fa, Fs_OPX, En_OPX, Wo_OPX, Fs_CPX, En_CPX, Wo_CPX,
        An, Ab, Or) to fractions 0-1; missing or NaN where unknown.

    Returns
    -------
    SpeciesCall

    Raises
    ------
    InputError
        For an unknown group.

    Examples
    --------
    >>> ima_species("olivine", {"Fo": 0.91, "Fa": 0.09}).label
    'Forsterite'
    >>> ima_species("clinopyroxene", {"Wo_CPX": 0.40, "En_CPX": 0.45, "Fs_CPX": 0.15}).label
    'Augite'
    >>> ima_species("plagioclase", {"An": 0.62, "Ab": 0.38, "Or": 0.0}).label
    'Anorthite'
    >>> ima_species("orthopyroxene", {}).label
    'orthopyroxene'
    """

    def get(key: str) -> float:
        value = chemistry.get(key)
        return float(value) if value is not None else float("nan")

    def known(*values: float) -> bool:
        return all(np.isfinite(v) for v in values)

    open_ = SpeciesCall(group, "group", f"single-phase {group} without chemistry: species open")
    if group == "olivine":
        fo, fa = get("Fo"), get("Fa")
        if not known(fo):
            return open_
        share = _ratio(fo, fa) if known(fa) else fo
        name = "Forsterite" if share >= 0.5 else "Fayalite"
        return SpeciesCall(name, "species", f"olivine Fo {fo * 100:.0f}: {name}")
    if group == "orthopyroxene":
        fs, en = get("Fs_OPX"), get("En_OPX")
        if not known(fs, en) or fs + en <= 0:
            return open_
        name = "Enstatite" if _ratio(fs, en) < 0.5 else "Ferrosilite"
        return SpeciesCall(name, "species", f"orthopyroxene Fs {fs * 100:.0f}: {name}")
    if group == "clinopyroxene":
        fs, en, wo = get("Fs_CPX"), get("En_CPX"), get("Wo_CPX")
        total = fs + en + wo
        if not known(fs, en, wo) or total <= 0:
            return open_
        wo_n = wo / total
        if wo_n >= 0.45:
            name = "Diopside" if en >= fs else "Hedenbergite"
        elif wo_n >= 0.20:
            name = "Augite"
        elif wo_n >= 0.05:
            name = "Pigeonite"
        else:
            name = "Clinoenstatite" if en >= fs else "Clinoferrosilite"
        return SpeciesCall(
            name,
            "species",
            f"clinopyroxene Wo {wo_n * 100:.0f} En {en / total * 100:.0f} "
            f"Fs {fs / total * 100:.0f}: {name}",
        )
    if group == "plagioclase":
        an, ab, or_ = get("An"), get("Ab"), get("Or")
        if not known(an, ab):
            return open_
        or_ = or_ if known(or_) else 0.0
        text = f"feldspar An {an * 100:.0f} Ab {ab * 100:.0f} Or {or_ * 100:.0f}"
        if an >= ab + or_:
            return SpeciesCall("Anorthite", "species", f"{text}: Anorthite")
        if ab >= or_:
            return SpeciesCall("Albite", "species", f"{text}: Albite")
        return SpeciesCall(
            "feldspar", "group", f"{text}: K-feldspar, polymorph unknown: species open"
        )
    valid = ", ".join(MODE_GROUPS.values())
    raise InputError(f"group {group!r} is not one of {valid}")


def mindb_labels(data: KordaData) -> list[SpeciesCall]:
    """How each Korda spectrum is stored in MinDB: species, group, mixture or rock.

    A spectrum is linked to a species only when it is a mineral sample (``GeneralType1`` is
    'Mineral') of which one silicate makes at least `PURE_MODE` and whose chemistry names the
    species (`ima_species`). Rocks (chondrites, achondrites, lunar rocks) are labelled
    ``"rock: <Type1>"``, mixtures ``"mixture: olivine + orthopyroxene"``: labels that link to
    nothing in MinDB.

    Parameters
    ----------
    data : KordaData

    Returns
    -------
    list of SpeciesCall
        One per spectrum, in order.
    """
    modes = data.modes
    out = []
    for i in range(len(data)):
        meta = data.metadata.iloc[i]
        row = modes[i]
        if meta["GeneralType1"] == "Rock":
            kind = str(meta["Type1"])
            out.append(SpeciesCall(f"rock: {kind}", "rock", f"rock ({kind}): not linked"))
        elif not np.isfinite(row).all():
            out.append(
                SpeciesCall(
                    f"unlabelled: {meta['Type1']}", "unlabelled", "no modal labels: not linked"
                )
            )
        elif row.max() >= PURE_MODE:
            group = MODE_GROUPS[MODES[int(row.argmax())]]
            chemistry = {k: float(data.labels.at[i, k]) for k in CHEMISTRY}
            out.append(ima_species(group, chemistry))
        else:
            parts = " + ".join(MODE_GROUPS[m] for m, v in zip(MODES, row, strict=True) if v > 0)
            out.append(SpeciesCall(f"mixture: {parts}", "mixture", "mixture: not linked"))
    return out


def _material_keys(data: KordaData) -> np.ndarray:
    """The first SampleID of each material group (`KordaData.material_groups`), per spectrum."""
    groups = data.material_groups()
    first = {}
    for g, sample in zip(groups.tolist(), data.sample_ids.tolist(), strict=True):
        first.setdefault(g, sample)
    return np.array([first[g] for g in groups.tolist()], dtype=object)


def _finite(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in values.items() if np.isfinite(v)}


def korda_spectra(data: KordaData) -> list[Spectrum]:
    """The Korda spectra as VNIR `Spectrum` objects with the metadata MinDB stores.

    Metadata: ``mineral`` (the label of `mindb_labels`), ``sample_id`` (RELAB SampleID),
    ``checksum`` (of the source, SpectrumID and values), ``file``, and kept as the spectrum's
    extra metadata: ``relab_spectrum_id``, ``sample_name``, ``relab_source`` (Earth, Moon-Ret,
    Mars-Met, Other-Met, Synthetic), ``sample_type`` (Mineral or Rock), ``type``, ``subtype``,
    ``material`` (the first SampleID of its material group, see `KordaData.material_groups`),
    ``category`` and ``species_rule`` (from `mindb_labels`), ``modes`` (OL, OPX, CPX, PLG as
    volume fractions, only when all four are known) and ``chemistry`` (the known `CHEMISTRY`
    labels as fractions 0-1).

    Parameters
    ----------
    data : KordaData

    Returns
    -------
    list of Spectrum
    """
    from lithoscope.spectra.spectrum import Spectrum

    calls = mindb_labels(data)
    materials = _material_keys(data)
    out = []
    for i, call in enumerate(calls):
        meta = data.metadata.iloc[i]
        labels = data.labels.iloc[i]
        spectrum_id = str(meta["SpectrumID"])
        digest = hashlib.sha256(f"{SOURCE}|{spectrum_id}|".encode())
        digest.update(np.ascontiguousarray(data.reflectance[i], dtype="<f8").tobytes())
        modes = {m: float(labels[m]) for m in MODES}
        info: dict[str, Any] = {
            "mineral": call.label,
            "sample_id": str(meta["SampleID"]),
            "checksum": digest.hexdigest(),
            "file": SPECTRA_FILE,
            "relab_spectrum_id": spectrum_id,
            "sample_name": _text(meta.get("SampleName")),
            "relab_source": _text(meta.get("Source")),
            "sample_type": _text(meta.get("GeneralType1")),
            "type": _text(meta.get("Type1")),
            "subtype": _text(meta.get("SubType")),
            "material": str(materials[i]),
            "category": call.kind,
            "species_rule": call.rule,
            "modes": modes if all(np.isfinite(v) for v in modes.values()) else None,
            "chemistry": _finite({c: float(labels[c]) for c in CHEMISTRY}) or None,
        }
        out.append(Spectrum(data.wavelength_nm, data.reflectance[i], "vnir", metadata=info))
    return out


def _text(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def _store(
    db: MinDB, spectra: list[Spectrum], source: str, calls: list[SpeciesCall]
) -> IngestReport:
    """`MinDB.add_spectra` in one transaction, and the report of what was linked and why not."""
    from lithoscope.data.ingest import IngestReport

    report = IngestReport(source=source, files=len(spectra))
    if not db.curated_is_current():
        report.warnings.append(
            "MinDB's curated content (names, groups, renames) is older than this lithoscope's "
            "or was never built; run 'lithoscope db build' and ingest again to link all labels"
        )
    stored = db.add_spectra(spectra, source=source, relink=True)
    report.ingested = stored.added
    report.already_present = stored.already_present
    report.duplicates = stored.duplicates
    report.linked_to_groups = stored.linked_to_groups
    report.conflicts = stored.conflicts
    report.links = stored.links.to_dict() if stored.links is not None else {}
    # Rocks and mixtures are unlinked by design; list only labels meant to link.
    by_design = {c.label for c in calls if c.kind in ("rock", "mixture", "unlabelled")}
    report.unmatched = {k: v for k, v in stored.unlinked.items() if k not in by_design}
    kept = sum(v for k, v in stored.unlinked.items() if k in by_design)
    if kept:
        report.warnings.append(
            f"{kept} spectra of rocks and mixtures stored unlinked by design (labels "
            "'rock: ...', 'mixture: ...'; what they hold is in each spectrum's metadata)"
        )
    return report


def ingest_korda(
    db: MinDB,
    data: KordaData | None = None,
    *,
    mirror: str | Path | None = None,
    dest: Path | None = None,
) -> IngestReport:
    """Store the Korda & Kohout (2024) spectra in MinDB as VNIR spectra (source ``korda2024``).

    Parameters
    ----------
    db : MinDB
    data : KordaData, optional
        The spectra to store (e.g. a subset, `KordaData.take`); default: all of them, read
        with `load_korda`.
    mirror : str or Path, optional
        Where to read them from when ``data`` is not given.
    dest : Path, optional
        Root of the local copies.

    Returns
    -------
    IngestReport
        ``unmatched`` lists the labels meant to link to a species that MinDB does not hold
        (run ``lithoscope db build``).

    Examples
    --------
    >>> with connect() as db:  # doctest: +SKIP
    ...     ingest_korda(db, mirror="/media/usb/lithoscope-data").ingested
    674
    """
    data = load_korda(mirror, dest=dest) if data is None else data
    return _store(db, korda_spectra(data), SOURCE, mindb_labels(data))


# ------------------------------------------------------------------------------ USGS MICA
#: Registered data source of the USGS splib07 MICA reference spectra.
USGS_SOURCE = "usgs-splib07"
USGS_SPECTRA_FILE = "usgs_splib07_mica_ref77_1nm_0.35-2.5um.csv"
USGS_INDEX_FILE = "usgs_splib07_mica_ref77_index.csv"
#: Single-mineral splib07 records -> the label stored in MinDB (which links it) and why.
#: The label is the mineral the record names, except where the record's own chemistry names
#: another IMA species (Na-alunite is natroalunite, Na-jarosite natrojarosite) or the name
#: is discredited (thuringite: an Fe-rich chlorite, so the chlorite group).
USGS_RECORDS: dict[str, tuple[str, str]] = {
    "Muscovite_CU93-1_low-Al_Phyl_NIC4b_RREF": ("Muscovite", "record name"),
    "Muscovite-medlowAl_CU91-250A_NIC4b_RREF": ("Muscovite", "record name"),
    "Muscovite_GDS113_Ruby_NIC4aaa_RREF": ("Muscovite", "record name"),
    "Muscovite_GDS116_Tanzania_NIC4aaa_RREF": ("Muscovite", "record name"),
    "Illite_IMt-1.b_lt2um_BECKa_AREF": ("Illite", "record name (a mica series name)"),
    "Illite_GDS4_Marblehead_ASDNGb_AREF": ("Illite", "record name (a mica series name)"),
    "Kaolinite_CM9_NIC4bbb_RREF": ("Kaolinite", "record name"),
    "Kaolinite_KGa-2_(pxl)_NIC4bbb_RREF": ("Kaolinite", "record name"),
    "Halloysite_NMNH106237_NIC4aaa_RREF": ("Halloysite", "record name"),
    "Dickite_NMNH106242_NIC4bb_RREF": ("Dickite", "record name"),
    "Buddingtonite_GDS85_D-206_BECKb_AREF": ("Buddingtonite", "record name"),
    "Alunite_GDS96_K_Syn_(250C)_NIC4a_RREF": ("Alunite", "K alunite"),
    "Alunite_RES-3_Na_Syn_(450C)_NIC4a_RREF": ("Natroalunite", "Na-dominant alunite"),
    "Pyrophyllite_PYS1A_lt850um_NIC4aaa_RREF": ("Pyrophyllite", "record name"),
    "Jarosite_GDS24_Na_NIC4bbb_RREF": ("Natrojarosite", "Na-dominant jarosite"),
    "Jarosite_GDS99_K_200C_Syn_NIC4a_RREF": ("Jarosite", "K jarosite"),
    "Montmorillonite_SWy-1_NIC4bcc_RREF": ("Montmorillonite", "record name"),
    "Montmorillonite_SAz-1_NIC4bb_RREF": ("Montmorillonite", "record name"),
    "Nontronite_NG-1.b_lt2um_fr_NIC4bb_RREF": ("Nontronite", "record name"),
    "Hectorite_SHCa-1.Ac-B_NIC4bb_RREF": ("Hectorite", "record name"),
    "Gypsum_HS333.3B_(Selenite)_NIC4aaa_RREF": ("Gypsum", "record name"),
    "Chlorite_SMR-13.a_104-150um_BECKa_AREF": ("chlorite", "chlorite group, species open"),
    "Clinochlore_GDS158_Flagstaff_NIC4bb_RREF": ("Clinochlore", "record name"),
    "Clinochlore_Fe_SC-CCa-1.a_NIC4aa_RREF": ("Clinochlore", "record name (Fe-rich)"),
    "Thuringite_SMR-15.c_32um_NIC4aa_RREF": (
        "chlorite",
        "thuringite is a discredited name of Fe-rich chlorite: chlorite group, species open",
    ),
    "Epidote_GDS26.a_75-200um_NIC4bbb_RREF": ("Epidote", "record name"),
    "Calcite_WS272_BECKa_AREF": ("Calcite", "record name"),
    "Dolomite_HS102.3B_BECKb_AREF": ("Dolomite", "record name"),
    "Siderite_HS271.3B_BECKa_AREF": ("Siderite", "record name"),
    "Chalcedony_CU91-6A_BECKa_AREF": ("Chalcedony", "record name (a quartz variety)"),
    "Opal_TM8896_(Hyalite)_NIC4aa_RREF": ("Opal", "record name"),
    "Tremolite_HS18.3B_NIC4ccc_RREF": ("Tremolite", "record name"),
    "Talc_GDS23_74-250um_NIC4aaa_RREF": ("Talc", "record name"),
    "Antigorite_NMNH96917.a_gt250_BECKb_AREF": ("Antigorite", "record name"),
    "Chrysotile_HS323.1B_BECKa_AREF": ("Chrysotile", "record name"),
    "Topaz_HS184.3B_BECKb_AREF": ("Topaz", "record name"),
}
#: MICA rules whose spectra are not of minerals (vegetation, snow, water): not ingested.
USGS_NOT_MINERALS = ("vegetation", "snow", "water", "dry_veg")


@dataclass(frozen=True)
class UsgsMica:
    """The USGS splib07 MICA reference spectra, one per distinct record.

    Attributes
    ----------
    wavelength_nm : numpy.ndarray, shape (2151,)
        350-2500 nm in 1 nm steps.
    reflectance : numpy.ndarray, shape (n, 2151)
        NaN where the record has no value (the Nicolet records start near 1300 nm).
    records : list of str
        The splib07 record label of each spectrum.
    rules : list of list of str
        The MICA rules that use each record (several rules share some records).
    """

    wavelength_nm: np.ndarray
    reflectance: np.ndarray
    records: list[str]
    rules: list[list[str]]

    def __len__(self) -> int:
        return len(self.records)


def load_usgs_mica(mirror: str | Path | None = None, *, dest: Path | None = None) -> UsgsMica:
    """Load the 77 USGS splib07 MICA reference spectra (70 distinct spectra) from a mirror.

    Parameters
    ----------
    mirror : str or Path, optional
        A mirror laid out like lithoscope's data mirror (``vnir/usgs_splib07_*``).
    dest : Path, optional
        Root of the local copies.

    Returns
    -------
    UsgsMica

    Raises
    ------
    InputError
        If a file is missing, fails its checksum or is malformed.
    """
    path = _path(USGS_SPECTRA_FILE, mirror, dest, USGS_SOURCE)
    frame = _read_csv(path)
    where = f"USGS splib07 file {path.name!r}"
    if frame.columns[0] != "wavelength_um" or frame.shape[1] < 2:
        raise InputError(
            f"{where}: expected 'wavelength_um' then '<rule>|<record>' columns, got "
            f"{list(frame.columns[:2])}; fetch it again (lithoscope data fetch {USGS_SOURCE})"
        )
    wavelength = frame["wavelength_um"].to_numpy(dtype=np.float64) * 1000.0
    records: list[str] = []
    rules: list[list[str]] = []
    columns: list[np.ndarray] = []
    for name in frame.columns[1:]:
        rule, sep, record = str(name).partition("|")
        if not sep:
            raise InputError(f"{where}: column {name!r} is not '<rule>|<record>'")
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        # Several rules share a record; two 'synth' records share a label but not values.
        same = [
            k
            for k, r in enumerate(records)
            if r == record and np.array_equal(columns[k], values, equal_nan=True)
        ]
        if same:
            rules[same[0]].append(rule)
            continue
        records.append(record)
        rules.append([rule])
        columns.append(values)
    return UsgsMica(np.round(wavelength, 6), np.vstack(columns), records, rules)


def _usgs_call(record: str, rules: list[str]) -> SpeciesCall | None:
    if all(r.startswith(USGS_NOT_MINERALS) for r in rules):
        return None
    if record in USGS_RECORDS:
        label, why = USGS_RECORDS[record]
        kind = "group" if label[0].islower() else "species"
        return SpeciesCall(label, kind, f"splib07 {record}: {why}")
    return SpeciesCall(f"mixture: {rules[0]}", "mixture", f"splib07 {record}: a mixture")


def usgs_spectra(mica: UsgsMica) -> tuple[list[Spectrum], list[SpeciesCall], list[str]]:
    """The USGS mineral spectra as VNIR `Spectrum` objects, their calls, and what was left out.

    Only the measured points are kept (a record without values below 1300 nm starts there).
    Metadata: ``mineral`` (label), ``sample_id`` (the splib07 record), ``checksum``, ``file``;
    extra: ``mica_rules``, ``category`` and ``species_rule``.

    Returns
    -------
    (spectra, calls, skipped)
        ``skipped`` names the records that are not minerals (vegetation, snow, water).
    """
    from lithoscope.spectra.spectrum import Spectrum

    spectra, calls, skipped = [], [], []
    for record, rules, y in zip(mica.records, mica.rules, mica.reflectance, strict=True):
        call = _usgs_call(record, rules)
        if call is None:
            skipped.append(record)
            continue
        ok = np.isfinite(y)
        digest = hashlib.sha256(f"{USGS_SOURCE}|{record}|".encode())
        digest.update(np.ascontiguousarray(y[ok], dtype="<f8").tobytes())
        # a record label shared by different spectra (synthetic mixtures): name it by its rule
        sample = record if mica.records.count(record) == 1 else f"synth {rules[0]}"
        info = {
            "mineral": call.label,
            "sample_id": sample[:64],
            "checksum": digest.hexdigest(),
            "file": USGS_SPECTRA_FILE,
            "mica_rules": rules,
            "category": call.kind,
            "species_rule": call.rule,
        }
        spectra.append(
            Spectrum(mica.wavelength_nm[ok], y[ok], "vnir", metadata=info),
        )
        calls.append(call)
    return spectra, calls, skipped


def ingest_usgs(
    db: MinDB, *, mirror: str | Path | None = None, dest: Path | None = None
) -> IngestReport:
    """Store the USGS splib07 MICA mineral spectra in MinDB (source ``usgs-splib07``).

    Single-mineral records are labelled by `USGS_RECORDS` and linked by MinDB; mixtures are
    stored unlinked; vegetation, snow and water records are left out (said in the warnings).

    Returns
    -------
    IngestReport
    """
    spectra, calls, skipped = usgs_spectra(load_usgs_mica(mirror, dest=dest))
    report = _store(db, spectra, USGS_SOURCE, calls)
    if skipped:
        report.warnings.append(
            f"{len(skipped)} splib07 records left out (not minerals: vegetation, snow, water)"
        )
    return report
