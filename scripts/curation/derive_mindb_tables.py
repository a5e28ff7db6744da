"""One-off derivation of the first version of MinDB's curated content files.

Provenance
----------
This script is the record of how the first version of
``src/lithoscope/mindb/curated/{minerals,groups,aliases,occurrences}.csv`` was
made.  It was run once; after that the CSV files are the source of truth and
are edited by hand by curators (see ``src/lithoscope/mindb/curated/README.md``).
Do not re-run it over hand-edited files: it would overwrite the curators' work.

Inputs (read-only, never copied into the repository), under ``--shared``
(default ``/work/shared``):

* ``data/occurrence/lunar_minerals_literature.csv``,
  ``mars_minerals_literature.csv``, ``meteorite_minerals_literature.csv``:
  literature compilations, one row per (mineral, setting, source).
* ``data/occurrence/mars_msl_chemin_combined_chemin_data_all_sols.csv`` and
  ``mars_msl_chemin_combined_sol_data.csv``: MSL CheMin mineral abundances
  (re-derived here so that group names such as PLAGIOCLASE stay groups).
* ``data/occurrence/ima_minerals_rruff_export_2021-12-25.csv``: RRUFF IMA
  export (formula, crystal system, structural group, IMA number and status).
* ``data/rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_987454f.csv``
  (space groups) and ``..._5c829ff.csv`` (species approved after 2021).

What the script does
--------------------
1. Reads the literature rows and normalises every mineral name to an IMA
   species (spelled as in the RRUFF export) or to a lowercase group name
   defined in ``GROUPS``.  Rows whose source reported only a group (for
   example "olivine", "K-feldspar", "andesine") are attached to the group,
   and the original name is kept in ``note``.
2. Maps the evidence strings to {returned sample, meteorite, in-situ rover,
   orbital} and the meteorite-file rows to a body: lunar meteorites -> moon,
   Martian meteorites -> mars, all other meteorites -> meteorite.
3. Adds curator rows (``ADDED_ROWS``) for well-known occurrences missing from
   the compilations, each with a citation.
4. Builds ``minerals.csv`` for every species used in occurrences or groups,
   ``groups.csv`` and ``aliases.csv``, and checks referential integrity.

Usage::

    .venv/bin/python scripts/curation/derive_mindb_tables.py \
        [--shared /work/shared] [--out src/lithoscope/mindb/curated]
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

# ---------------------------------------------------------------------------
# Sources (citations used in several places)
# ---------------------------------------------------------------------------
RRUFF_2021 = (
    "RRUFF IMA export 2021-12-25 (Lafuente B., Downs R.T., Yang H., Stone N. 2015, "
    "The power of databases: the RRUFF project, in Highlights in Mineralogical "
    "Crystallography, De Gruyter, 1-30; https://rruff.info/ima)"
)
RRUFF_SPACE_GROUP = (
    "space group from the RRUFF IMA export as redistributed by RamanLab (commit 987454f)"
)
RRUFF_2025 = (
    "RRUFF IMA export as redistributed by RamanLab (commit 5c829ff, 2025; Lafuente et al. 2015; "
    "https://rruff.info/ima)"
)
HAZEN_2022 = (
    "Hazen R.M. & Morrison S.M. (2022) On the paragenetic modes of minerals: A mineral "
    "evolution perspective. American Mineralogist 107:1262-1287, doi:10.2138/am-2022-8099"
)
CHEMIN_SOURCE = (
    "MSL CheMin XRD mineral abundance tables (NASA PDS MSL CheMin RDR; wt% of the crystalline "
    "fraction; compiled in GitHub fatimaezzahra-ctrl/CheMin-Interactive-Viewer@4719a1cb); "
    "instrument: Blake D. et al. (2012) Characterization and calibration of the CheMin "
    "mineralogical instrument on Mars Science Laboratory. Space Science Reviews 170:341-399; "
    "review: Rampe E.B. et al. (2020) Mineralogy and geochemistry of sedimentary rocks and "
    "eolian sediments in Gale crater, Mars: A review after six Earth years of exploration with "
    "Curiosity. Geochemistry (Chemie der Erde) 80:125605"
)
MORIMOTO = (
    "Morimoto N. (1988) Nomenclature of pyroxenes. Mineralogical Magazine 52:535-550 "
    "(also American Mineralogist 73:1123-1133)"
)
HAWTHORNE = (
    "Hawthorne F.C., Oberti R., Harlow G.E., Maresch W.V., Martin R.F., Schumacher J.C., "
    "Welch M.D. (2012) Nomenclature of the amphibole supergroup. American Mineralogist "
    "97:2031-2048"
)
GREW = (
    "Grew E.S., Locock A.J., Mills S.J., Galuskina I.O., Galuskin E.V., Halenius U. (2013) "
    "Nomenclature of the garnet supergroup. American Mineralogist 98:785-811"
)
BOSI = (
    "Bosi F., Biagioni C., Pasero M. (2019) Nomenclature and classification of the spinel "
    "supergroup. European Journal of Mineralogy 31:183-192"
)
RIEDER = "Rieder M. et al. (1998) Nomenclature of the micas. The Canadian Mineralogist 36:905-912"
PASERO = (
    "Pasero M., Kampf A.R., Ferraris C., Pekov I.V., Rakovan J., White T.J. (2010) Nomenclature "
    "of the apatite supergroup minerals. European Journal of Mineralogy 22:163-179"
)
BAYLISS = (
    "Bayliss P., Kolitsch U., Nickel E.H., Pring A. (2010) Alunite supergroup: recommended "
    "nomenclature. Mineralogical Magazine 74:919-927"
)
GUGGENHEIM = (
    "Guggenheim S., Adams J.M., Bain D.C., Bergaya F., Brigatti M.F., Drits V.A., Formoso M.L.L., "
    "Galan E., Kogure T., Stanjek H. (2006) Summary of recommendations of nomenclature committees "
    "relevant to clay mineralogy: report of the AIPEA Nomenclature Committee for 2006. Clays and "
    "Clay Minerals 54:761-772"
)
DHZ_FELDSPAR = (
    "Deer W.A., Howie R.A., Zussman J. (2001) Rock-Forming Minerals, vol. 4A: Framework "
    "Silicates - Feldspars, 2nd ed. Geological Society, London"
)
REEDER = "Reeder R.J., ed. (1983) Carbonates: Mineralogy and Chemistry. Reviews in Mineralogy 11"
HEANEY = (
    "Heaney P.J., Prewitt C.T., Gibbs G.V., eds. (1994) Silica: Physical Behavior, Geochemistry "
    "and Materials Applications. Reviews in Mineralogy 29"
)
BACK = (
    "Back M.E., Mandarino J.A. (2008) Fleischer's Glossary of Mineral Species 2008. "
    "The Mineralogical Record, Tucson"
)
RUBIN_MA = "Rubin A.E., Ma C. (2021) Meteorite Mineralogy. Cambridge University Press"
BUCHWALD = "Buchwald V.F. (1975) Handbook of Iron Meteorites. University of California Press"
LEVINSON = (
    "Levinson A.A. (1966) A system of nomenclature for rare-earth minerals. "
    "American Mineralogist 51:152-158"
)
BRITVIN = (
    "Britvin S.N., Krivovichev S.V., Armbruster T. (2016) Ferromerrillite, Ca9NaFe2+(PO4)7, "
    "a new mineral from the Martian meteorites, and some insights into merrillite-tuite "
    "transformation in shergottites. European Journal of Mineralogy 28:125-136"
)
VIVIANO = (
    "Viviano-Beck C.E. et al. (2014) Revised CRISM spectral parameters and summary products "
    "based on the currently detected mineral diversity on Mars. Journal of Geophysical "
    "Research: Planets 119:1403-1431"
)
PAPIKE_1991 = (
    "Papike J., Taylor L., Simon S. (1991) Lunar minerals. In: Heiken G.H., Vaniman D.T., "
    "French B.M. (eds) Lunar Sourcebook: A User's Guide to the Moon, ch. 5, pp. 121-181. "
    "Cambridge University Press"
)
PAPIKE_1998 = (
    "Papike J.J., Ryder G., Shearer C.K. (1998) Lunar samples. In: Papike J.J. (ed) Planetary "
    "Materials. Reviews in Mineralogy 36, ch. 5, pp. 5-1 to 5-234. Mineralogical Society of America"
)

# ---------------------------------------------------------------------------
# Groups: lowercase name -> (members, source).  Members are IMA species.
# ---------------------------------------------------------------------------
PYROXENES_MORIMOTO = [
    "Enstatite",
    "Ferrosilite",
    "Donpeacorite",
    "Clinoenstatite",
    "Clinoferrosilite",
    "Kanoite",
    "Pigeonite",
    "Augite",
    "Diopside",
    "Hedenbergite",
    "Johannsenite",
    "Petedunnite",
    "Esseneite",
    "Omphacite",
    "Aegirine-augite",
    "Jadeite",
    "Aegirine",
    "Kosmochlor",
    "Jervisite",
    "Spodumene",
]
PYROXENES_LATER = [
    "Davisite",
    "Grossmanite",
    "Kushiroite",
    "Burnettite",
    "Tissintite",
    "Colomeraite",
    "Natalyite",
    "Namansilite",
]
GROUPS: dict[str, tuple[list[str], str]] = {
    "olivine": (
        ["Forsterite", "Fayalite", "Tephroite", "Liebenbergite", "Monticellite", "Kirschsteinite"],
        BACK + "; members as RRUFF structural group 'Olivine'",
    ),
    "pyroxene": (PYROXENES_MORIMOTO + PYROXENES_LATER, MORIMOTO),
    "orthopyroxene": (["Enstatite", "Ferrosilite", "Donpeacorite"], MORIMOTO),
    "clinopyroxene": (
        [
            m
            for m in PYROXENES_MORIMOTO + PYROXENES_LATER
            if m not in ("Enstatite", "Ferrosilite", "Donpeacorite")
        ],
        MORIMOTO,
    ),
    "low-ca pyroxene": (
        ["Enstatite", "Ferrosilite", "Clinoenstatite", "Clinoferrosilite", "Pigeonite"],
        MORIMOTO + " (Mg-Fe pyroxenes and pigeonite); class name as used by " + VIVIANO,
    ),
    "high-ca pyroxene": (
        ["Augite", "Diopside", "Hedenbergite"],
        MORIMOTO + " (Ca-Mg-Fe 'Quad' clinopyroxenes); class name as used by " + VIVIANO,
    ),
    "plagioclase": (["Albite", "Anorthite"], DHZ_FELDSPAR),
    "alkali feldspar": (["Sanidine", "Orthoclase", "Microcline", "Albite"], DHZ_FELDSPAR),
    "feldspar": (
        ["Albite", "Anorthite", "Sanidine", "Orthoclase", "Microcline", "Celsian", "Buddingtonite"],
        DHZ_FELDSPAR,
    ),
    "silica": (
        [
            "Quartz",
            "Tridymite",
            "Cristobalite",
            "Coesite",
            "Stishovite",
            "Seifertite",
            "Moganite",
            "Opal",
        ],
        HEANEY
        + "; seifertite: El Goresy A. et al. (2008) European Journal of Mineralogy 20:523-528",
    ),
    "spinel group": (
        [
            "Spinel",
            "Hercynite",
            "Gahnite",
            "Galaxite",
            "Chromite",
            "Magnesiochromite",
            "Manganochromite",
            "Cochromite",
            "Zincochromite",
            "Magnetite",
            "Magnesioferrite",
            "Franklinite",
            "Jacobsite",
            "Trevorite",
            "Ulvöspinel",
            "Qandilite",
            "Coulsonite",
            "Vuorelainenite",
        ],
        BOSI,
    ),
    "garnet": (
        [
            "Pyrope",
            "Almandine",
            "Spessartine",
            "Grossular",
            "Andradite",
            "Uvarovite",
            "Goldmanite",
            "Majorite",
            "Knorringite",
            "Kimzeyite",
            "Schorlomite",
            "Eringaite",
            "Rubinite",
            "Hutcheonite",
        ],
        GREW,
    ),
    "amphibole": (
        [
            "Tremolite",
            "Actinolite",
            "Ferro-actinolite",
            "Anthophyllite",
            "Cummingtonite",
            "Grunerite",
            "Edenite",
            "Pargasite",
            "Ferro-pargasite",
            "Hastingsite",
            "Magnesio-hastingsite",
            "Kaersutite",
            "Tschermakite",
            "Magnesio-hornblende",
            "Ferro-hornblende",
            "Richterite",
            "Fluoro-richterite",
            "Fluoro-edenite",
        ],
        HAWTHORNE,
    ),
    "mica": (
        [
            "Muscovite",
            "Paragonite",
            "Phlogopite",
            "Annite",
            "Eastonite",
            "Siderophyllite",
            "Polylithionite",
            "Trilithionite",
            "Celadonite",
            "Margarite",
            "Clintonite",
        ],
        RIEDER,
    ),
    "biotite": (
        ["Annite", "Phlogopite", "Siderophyllite", "Eastonite"],
        RIEDER + " (biotite is a series name for dark trioctahedral micas)",
    ),
    "serpentine": (
        [
            "Lizardite",
            "Antigorite",
            "Chrysotile",
            "Greenalite",
            "Cronstedtite",
            "Berthierine",
            "Amesite",
            "Caryopilite",
            "Népouite",
            "Pecoraite",
            "Kellyite",
            "Brindleyite",
            "Fraipontite",
        ],
        GUGGENHEIM
        + "; Wicks F.J. & O'Hanley D.S. (1988) Serpentine minerals: structures and petrology. Reviews in Mineralogy 19:91-167",
    ),
    "smectite": (
        [
            "Saponite",
            "Ferrosaponite",
            "Nontronite",
            "Montmorillonite",
            "Beidellite",
            "Hectorite",
            "Stevensite",
            "Sauconite",
            "Volkonskoite",
        ],
        GUGGENHEIM,
    ),
    "chlorite": (
        [
            "Clinochlore",
            "Chamosite",
            "Pennantite",
            "Nimite",
            "Baileychlore",
            "Cookeite",
            "Sudoite",
            "Donbassite",
        ],
        GUGGENHEIM
        + "; Bailey S.W. (1988) Chlorites: structures and crystal chemistry. Reviews in Mineralogy 19:347-403",
    ),
    "kaolin": (["Kaolinite", "Dickite", "Nacrite", "Halloysite-7Å", "Halloysite-10Å"], GUGGENHEIM),
    "apatite": (["Fluorapatite", "Chlorapatite", "Hydroxylapatite"], PASERO),
    "whitlockite group": (
        ["Whitlockite", "Merrillite", "Ferromerrillite", "Keplerite", "Matyhite", "Changesite-(Y)"],
        BRITVIN + "; members as RRUFF IMA export (structural group of merrillite)",
    ),
    "monazite": (
        ["Monazite-(Ce)", "Monazite-(La)", "Monazite-(Nd)", "Monazite-(Sm)"],
        LEVINSON + "; members as RRUFF structural group 'Monazite'",
    ),
    "chevkinite group": (
        ["Chevkinite-(Ce)", "Perrierite-(Ce)", "Perrierite-(La)"],
        BACK + "; members as RRUFF structural group 'Chevkinite'",
    ),
    "jarosite group": (
        [
            "Jarosite",
            "Natrojarosite",
            "Hydroniumjarosite",
            "Ammoniojarosite",
            "Argentojarosite",
            "Plumbojarosite",
        ],
        BAYLISS,
    ),
    "calcite group": (
        [
            "Calcite",
            "Magnesite",
            "Siderite",
            "Rhodochrosite",
            "Smithsonite",
            "Spherocobaltite",
            "Gaspéite",
            "Otavite",
        ],
        REEDER,
    ),
    "dolomite group": (["Dolomite", "Ankerite", "Kutnohorite", "Minrecordite"], REEDER),
    "melilite": (["Gehlenite", "Åkermanite"], BACK),
    "fe-ni metal": (["Iron", "Taenite", "Tetrataenite", "Awaruite"], RUBIN_MA + "; " + BUCHWALD),
    "iron sulfide": (
        ["Troilite", "Pyrrhotite", "Mackinawite", "Pyrite", "Marcasite", "Greigite", "Smythite"],
        RUBIN_MA,
    ),
}

# ---------------------------------------------------------------------------
# Aliases: (alias, target, kind, source).  Spelling aliases for diacritics are
# added automatically from the RRUFF 'Mineral Name (plain)' column.
# ---------------------------------------------------------------------------
ALIASES: list[tuple[str, str, str, str]] = [
    # Fe-Ni metal
    (
        "kamacite",
        "Iron",
        "variety",
        BUCHWALD + " (kamacite = alpha-(Fe,Ni), Ni < ~7.5 wt%; IMA species iron)",
    ),
    ("plessite", "fe-ni metal", "not_a_mineral", BUCHWALD + " (fine kamacite-taenite intergrowth)"),
    ("Fe-Ni metal", "fe-ni metal", "group", RUBIN_MA),
    ("nickel-iron", "fe-ni metal", "group", RUBIN_MA),
    (
        "metal",
        "fe-ni metal",
        "class",
        RUBIN_MA + " (in meteorite petrography 'metal' means Fe-Ni metal)",
    ),
    ("rhabdite", "Schreibersite", "variety", BUCHWALD + " (rod-shaped schreibersite)"),
    ("cliftonite", "Graphite", "variety", BUCHWALD + " (graphite pseudomorphs in iron meteorites)"),
    # olivine
    ("olivine", "olivine", "group", BACK),
    (
        "Fe-forsterite",
        "Forsterite",
        "variety",
        "CheMin mineral name (NASA PDS MSL CheMin RDR); Fe-bearing forsterite (Mg > Fe)",
    ),
    ("Mg olivine", "Forsterite", "class", VIVIANO + " (class 'olivine (forsterite)')"),
    ("Fe olivine", "Fayalite", "class", VIVIANO + " (class 'olivine (fayalite)')"),
    ("Olivine (forsterite)", "Forsterite", "class", VIVIANO),
    ("Olivine (fayalite)", "Fayalite", "class", VIVIANO),
    ("hyalosiderite", "Forsterite", "discredited", BACK),
    ("chrysolite", "Forsterite", "variety", BACK),
    # pyroxenes (Morimoto 1988 discredited names)
    ("pyroxene", "pyroxene", "group", MORIMOTO),
    ("orthopyroxene", "orthopyroxene", "group", MORIMOTO),
    ("clinopyroxene", "clinopyroxene", "group", MORIMOTO),
    ("Low-Ca pyroxene", "low-ca pyroxene", "class", VIVIANO),
    ("High-Ca pyroxene", "high-ca pyroxene", "class", VIVIANO),
    ("LCP", "low-ca pyroxene", "class", VIVIANO),
    ("HCP", "high-ca pyroxene", "class", VIVIANO),
    ("hypersthene", "orthopyroxene", "discredited", MORIMOTO),
    ("bronzite", "Enstatite", "discredited", MORIMOTO),
    ("ferrohypersthene", "Ferrosilite", "discredited", MORIMOTO),
    ("eulite", "Ferrosilite", "discredited", MORIMOTO),
    (
        "fassaite",
        "Diopside",
        "discredited",
        MORIMOTO + " (Al-Ti-rich diopside; in CAIs now partly davisite/grossmanite)",
    ),
    ("titanaugite", "Augite", "discredited", MORIMOTO),
    ("ferroaugite", "Augite", "discredited", MORIMOTO),
    ("subcalcic augite", "Augite", "discredited", MORIMOTO),
    ("ferropigeonite", "Pigeonite", "discredited", MORIMOTO),
    ("salite", "Diopside", "discredited", MORIMOTO),
    ("ferrosalite", "Hedenbergite", "discredited", MORIMOTO),
    ("endiopside", "Diopside", "discredited", MORIMOTO),
    (
        "iron-rich pyroxmangite",
        "Pyroxferroite",
        "class",
        "Chao E.C.T. et al. (1970) Pyroxferroite, a new calcium-bearing iron silicate from Tranquillity Base. Proc. Apollo 11 Lunar Sci. Conf., GCA Suppl. 1, 65-79",
    ),
    # feldspars
    ("feldspar", "feldspar", "group", DHZ_FELDSPAR),
    ("plagioclase", "plagioclase", "group", DHZ_FELDSPAR),
    ("oligoclase", "plagioclase", "intermediate", DHZ_FELDSPAR + " (An10-30)"),
    ("andesine", "plagioclase", "intermediate", DHZ_FELDSPAR + " (An30-50)"),
    ("labradorite", "plagioclase", "intermediate", DHZ_FELDSPAR + " (An50-70)"),
    ("bytownite", "plagioclase", "intermediate", DHZ_FELDSPAR + " (An70-90)"),
    ("sodic plagioclase", "plagioclase", "class", DHZ_FELDSPAR),
    ("calcic plagioclase", "plagioclase", "class", DHZ_FELDSPAR),
    ("K-feldspar", "alkali feldspar", "class", DHZ_FELDSPAR),
    ("potassium feldspar", "alkali feldspar", "class", DHZ_FELDSPAR),
    (
        "barian K-feldspar",
        "feldspar",
        "class",
        DHZ_FELDSPAR + " (Ba-bearing K-feldspar; celsian-hyalophane-orthoclase series)",
    ),
    (
        "anorthoclase",
        "alkali feldspar",
        "intermediate",
        DHZ_FELDSPAR + " ((Na,K)AlSi3O8 with Na > K; not an IMA species)",
    ),
    (
        "hyalophane",
        "feldspar",
        "intermediate",
        DHZ_FELDSPAR
        + " (K-Ba feldspar between orthoclase and celsian; not an IMA species in the RRUFF export)",
    ),
    ("adularia", "Orthoclase", "variety", DHZ_FELDSPAR),
    (
        "maskelynite",
        "plagioclase",
        "not_a_mineral",
        "Tschermak G. (1872); shock-produced diaplectic plagioclase glass (amorphous), see "
        + RUBIN_MA,
    ),
    (
        "feldspathic glass",
        "plagioclase",
        "not_a_mineral",
        RUBIN_MA + " (shocked plagioclase glass)",
    ),
    # silica
    ("silica", "silica", "group", HEANEY),
    (
        "hydrated silica",
        "Opal",
        "class",
        HEANEY + "; CRISM class 'Opal / hydrated silica' of " + VIVIANO,
    ),
    ("opaline silica", "Opal", "class", HEANEY),
    ("Opal / hydrated silica", "Opal", "class", VIVIANO),
    ("opal-A", "Opal", "variety", HEANEY),
    ("opal-CT", "Opal", "variety", HEANEY),
    ("lechatelierite", "silica", "not_a_mineral", HEANEY + " (natural silica glass)"),
    ("dense silica glass", "silica", "not_a_mineral", HEANEY),
    # oxides
    ("Cr-spinel", "spinel group", "class", BOSI),
    ("chromian spinel", "spinel group", "class", BOSI),
    ("pleonaste", "Spinel", "variety", BOSI + " (Fe-bearing spinel)"),
    ("titanomagnetite", "Magnetite", "variety", BOSI),
    ("Ti-magnetite", "Magnetite", "variety", BOSI),
    (
        "titanochromite",
        "Chromite",
        "variety",
        "Cameron E.N. (1970) / Apollo 11 usage; not an IMA species, " + BOSI,
    ),
    ("Ti-chromite", "Chromite", "variety", BOSI),
    ("Ti-rich chromite", "Chromite", "variety", BOSI),
    ("Mg-spinel", "Spinel", "class", BOSI),
    ("magnesiowüstite", "Periclase", "intermediate", RUBIN_MA + " ((Mg,Fe)O with Mg > Fe)"),
    ("ferropericlase", "Periclase", "intermediate", RUBIN_MA),
    ("dysanalyte", "Perovskite", "variety", BACK + " (Nb-rich perovskite)"),
    ("hafnian baddeleyite", "Baddeleyite", "variety", BACK),
    (
        "silicate perovskite",
        "Bridgmanite",
        "class",
        "Tschauner O. et al. (2014) Discovery of bridgmanite, the most abundant mineral in Earth, in a shocked meteorite. Science 346:1100-1102",
    ),
    (
        "MgSiO3-ilmenite",
        "Akimotoite",
        "class",
        "Tomioka N. & Fujino K. (1999) Akimotoite, (Mg,Fe)SiO3, a new silicate mineral of the ilmenite group in the Tenham chondrite. American Mineralogist 84:267-271",
    ),
    (
        "Fe2SiO4-spinel",
        "Ahrensite",
        "class",
        "Ma C. et al. (2016) Ahrensite, gamma-Fe2SiO4, a new shock-metamorphic mineral from the Tissint meteorite. Geochimica et Cosmochimica Acta 184:240-256",
    ),
    ("majorite-pyrope garnet", "Majorite", "intermediate", GREW),
    (
        "ferropseudobrookite",
        "Armalcolite",
        "class",
        "Anderson A.T. et al. (1970) Armalcolite: a new mineral from the Apollo 11 samples. Proc. Apollo 11 Lunar Sci. Conf., GCA Suppl. 1, 55-63 (FeTi2O5 end of the armalcolite series)",
    ),
    # sulfides, silicides, etc.
    ("Fe-sulfide", "iron sulfide", "class", RUBIN_MA),
    (
        "sulfide",
        "iron sulfide",
        "class",
        RUBIN_MA + " (in planetary basalts unspecified 'sulfide' is Fe sulfide)",
    ),
    (
        "FeSi",
        "Naquite",
        "class",
        "Shi N. et al. (2012) Naquite, FeSi, a new mineral species from Luobusha, Tibet. Acta Geologica Sinica 86:533-538",
    ),
    (
        "FeSi2",
        "Linzhiite",
        "class",
        "Li G. et al. (2012) Linzhiite, FeSi2, a redefined and revalidated new mineral species from Luobusha, Tibet. European Journal of Mineralogy 24:1047-1052",
    ),
    (
        "Fe2Si",
        "Hapkeite",
        "class",
        "Anand M. et al. (2004) Space weathering on airless planetary bodies: clues from the lunar mineral hapkeite. PNAS 101:6847-6851",
    ),
    # carbonates
    (
        "Fe-carbonate",
        "Siderite",
        "class",
        REEDER + " (Fe-dominant calcite-group carbonate); CheMin mineral name",
    ),
    ("Fe-rich carbonate", "Siderite", "class", REEDER),
    ("Mg carbonate", "Magnesite", "class", VIVIANO),
    ("Magnesite (Mg carbonate)", "Magnesite", "class", VIVIANO),
    ("Ca/Fe carbonate", "calcite group", "class", VIVIANO),
    ("Mg-Fe carbonate", "calcite group", "class", REEDER),
    ("breunnerite", "Magnesite", "variety", REEDER),
    # phosphates
    ("apatite", "apatite", "group", PASERO),
    ("Cl-apatite", "Chlorapatite", "class", PASERO),
    ("F-apatite", "Fluorapatite", "class", PASERO),
    ("monazite", "monazite", "group", LEVINSON),
    ("xenotime", "Xenotime-(Y)", "class", LEVINSON),
    ("chevkinite-perrierite group", "chevkinite group", "group", BACK),
    ("beta-Ca3(PO4)2", "Merrillite", "class", BRITVIN),
    # phyllosilicates and sulfates (incl. CRISM spectral classes)
    ("serpentine", "serpentine", "group", GUGGENHEIM),
    ("Mg-serpentine", "serpentine", "class", GUGGENHEIM),
    ("chlorite", "chlorite", "group", GUGGENHEIM),
    ("Fe-chlorite", "Chamosite", "class", GUGGENHEIM),
    ("smectite", "smectite", "group", GUGGENHEIM),
    ("Fe/Mg smectite", "smectite", "class", GUGGENHEIM),
    ("Fe smectite", "Nontronite", "class", VIVIANO),
    ("Mg smectite", "Saponite", "class", VIVIANO),
    ("Al smectite", "smectite", "class", GUGGENHEIM),
    ("Nontronite (Fe smectite)", "Nontronite", "class", VIVIANO),
    ("Saponite (Mg smectite)", "Saponite", "class", VIVIANO),
    ("Beidellite (Al smectite)", "Beidellite", "class", VIVIANO),
    ("Montmorillonite (Al smectite)", "Montmorillonite", "class", VIVIANO),
    (
        "illite",
        "mica",
        "group",
        RIEDER + " (illite: series name for interlayer-deficient micas, not a species)",
    ),
    ("Illite/Muscovite", "mica", "class", VIVIANO),
    ("glauconite", "mica", "group", RIEDER + " (series name)"),
    ("sericite", "Muscovite", "variety", RIEDER),
    ("hornblende", "amphibole", "group", HAWTHORNE),
    ("calcic hornblende", "amphibole", "class", HAWTHORNE),
    ("kaersutitic amphibole", "Kaersutite", "class", HAWTHORNE),
    ("Ti-biotite", "biotite", "class", RIEDER),
    ("halloysite", "Halloysite-7Å", "spelling", GUGGENHEIM),
    ("Rosenite (polyhydrated sulfate)", "Rozenite", "class", VIVIANO),
    ("rosenite", "Rozenite", "spelling", VIVIANO),
    ("Epsomite (polyhydrated sulfate)", "Epsomite", "class", VIVIANO),
    ("Monohydrated sulfate (szomolnokite)", "Szomolnokite", "class", VIVIANO),
    ("H2O ice", "Ice", "class", VIVIANO),
    ("water ice", "Ice", "class", VIVIANO),
    (
        "chloride",
        "Halite",
        "class",
        VIVIANO + " (CRISM chloride class; halite used as representative)",
    ),
    # native elements spelling
    ("sulfur", "Sulphur", "spelling", "IMA/RRUFF species name 'Sulphur' (" + RRUFF_2021 + ")"),
    (
        "aluminum",
        "Aluminium",
        "spelling",
        "IMA/RRUFF species name 'Aluminium' (" + RRUFF_2021 + ")",
    ),
    ("native iron", "Iron", "class", RRUFF_2021),
    ("native copper", "Copper", "class", RRUFF_2021),
    ("native cerium", "Cerium", "class", RRUFF_2021),
    ("graphite-2H", "Graphite", "spelling", RRUFF_2021),
]

# ---------------------------------------------------------------------------
# Species missing from all RRUFF exports used here.
# name -> (formula, crystal_system, space_group, structural_group, ima_number, ima_status, source)
# ---------------------------------------------------------------------------
MANUAL_SPECIES = {
    "Moganite": (
        "SiO2",
        "monoclinic",
        "I2/a",
        "",
        "IMA1999-035",
        "Approved",
        "Miehe G. & Graetsch H. (1992) Crystal structure of moganite: a new structure type for silica. "
        "European Journal of Mineralogy 4:693-706 (IMA 1999-035; not in the RRUFF exports used here)",
    ),
}

# Crystal data the RRUFF exports leave empty, filled by the curator.
# name -> (crystal_system, space_group, reason)
CRYSTAL_FIXES = {
    "Ice": ("hexagonal", "P6_3/mmc", "ice Ih"),
    "Ferromerrillite": (
        "trigonal",
        "R3c",
        "isostructural with merrillite; Britvin et al. (2016) Eur. J. Mineral. 28:125-136",
    ),
    "Saponite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
    "Beidellite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
    "Hectorite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
    "Sauconite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
    "Stevensite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
    "Volkonskoite": ("monoclinic", "", "smectite layer silicate, conventionally C2/m"),
}

# Species dropped from the occurrences with the reason (reported in README).
DROPPED_SPECIES = {
    "Kryzaite": "name, formula and IMA status not verifiable in any export or in a citable source (2025 news item only)",
}

# ---------------------------------------------------------------------------
# Per-row normalisation overrides for the literature files:
# (file key, mineral, setting substring) -> (new mineral, new confidence or None, note)
# ---------------------------------------------------------------------------
ROW_OVERRIDES: list[tuple[str, str, str, str, str | None, str]] = [
    # lunar
    (
        "lunar",
        "Albite",
        "12032,366-19",
        "plagioclase",
        None,
        "original: sodic plagioclase An34-50 (andesine composition)",
    ),
    ("lunar", "Enstatite", "Von K", "low-ca pyroxene", None, "original: Mg-rich low-Ca pyroxene"),
    ("lunar", "Enstatite", "Moscoviense", "orthopyroxene", None, "original: orthopyroxene"),
    ("lunar", "Forsterite", "Von K", "olivine", None, "original: olivine"),
    ("lunar", "Forsterite", "Moscoviense", "olivine", None, "original: olivine"),
    ("lunar", "Fluorapatite", "Apollo 11 basalt", "apatite", None, "original: apatite"),
    ("lunar", "Fluorapatite", "12032,366-19", "apatite", None, "original: apatite"),
    (
        "lunar",
        "Monazite-(Ce)",
        "KREEP-bearing lunar samples",
        "monazite",
        None,
        "original: monazite",
    ),
    ("lunar", "Orthoclase", "12051", "alkali feldspar", None, "original: K-feldspar"),
    ("lunar", "Orthoclase", "12032,366-19", "feldspar", None, "original: barian K-feldspar"),
    ("lunar", "Chromite", "Cr-spinel lamellae", "spinel group", None, "original: Cr-spinel"),
    (
        "lunar",
        "Iron",
        "Fe-Ni metal intergrown",
        "fe-ni metal",
        None,
        "original: Fe-Ni metal with 12-36 wt% Ni",
    ),
    # mars
    ("mars", "Albite", "nakhlites", "plagioclase", None, "original: plagioclase"),
    (
        "mars",
        "Albite",
        "ALH 84001",
        "plagioclase",
        None,
        "original: maskelynite An31Ab63Or6 (shock glass)",
    ),
    ("mars", "Albite", "NWA 7034", "plagioclase", None, "original: andesine"),
    (
        "mars",
        "Anorthite",
        "Dar al Gani 975",
        "plagioclase",
        None,
        "original: maskelynite An66.5-71.4 (shock glass)",
    ),
    (
        "mars",
        "Augite",
        "global CRISM",
        "high-ca pyroxene",
        None,
        "original: CRISM class High-Ca pyroxene",
    ),
    (
        "mars",
        "Calcite",
        "global CRISM",
        "calcite group",
        None,
        "original: CRISM class Ca/Fe carbonate",
    ),
    (
        "mars",
        "Siderite",
        "global CRISM",
        "calcite group",
        None,
        "original: CRISM class Ca/Fe carbonate",
    ),
    (
        "mars",
        "Siderite",
        "Jezero",
        "calcite group",
        "reported",
        "original: magnesium and iron carbonates",
    ),
    (
        "mars",
        "Magnesite",
        "tah olivine cumulate",
        "calcite group",
        None,
        "original: Mg-Fe carbonate",
    ),
    ("mars", "Chamosite", "NWA 1195", "chlorite", None, "original: possibly chamosite or chlorite"),
    ("mars", "Clinochlore", "Noachian crust", "chlorite", None, "original: chlorite"),
    ("mars", "Enstatite", "NWA 1460", "orthopyroxene", None, "original: orthopyroxene cores"),
    (
        "mars",
        "Enstatite",
        "global CRISM",
        "low-ca pyroxene",
        None,
        "original: CRISM class Low-Ca pyroxene",
    ),
    ("mars", "Fluorapatite", "ALH 84001", "apatite", None, "original: apatite"),
    ("mars", "Forsterite", "Gusev plains", "olivine", None, "original: Mossbauer olivine doublet"),
    ("mars", "Forsterite", "tah formation", "olivine", None, "original: olivine (Mg-Fe olivine)"),
    ("mars", "Lizardite", "Claritas", "serpentine", None, "original: serpentine / Mg-serpentine"),
    ("mars", "Muscovite", "Noachian phyllosilicate", "mica", None, "original: illite or muscovite"),
    ("mars", "Sanidine", "nakhlites", "alkali feldspar", None, "original: K-feldspar"),
    # meteorites (Martian NWA 7034 chevkinite-perrierite report)
    (
        "meteorite",
        "Chevkinite-(Ce)",
        "NWA 7034",
        "chevkinite group",
        "reported",
        "original: chevkinite-perrierite group",
    ),
    (
        "meteorite",
        "Perrierite-(Ce)",
        "NWA 7034",
        "chevkinite group",
        "reported",
        "original: chevkinite-perrierite group",
    ),
    ("meteorite", "Monazite-(Ce)", "NWA 7034", "monazite", None, "original: monazite"),
]

# ---------------------------------------------------------------------------
# Curator additions: occurrences missing from the shared compilations.
# (mineral, body, setting, evidence, abundance, confidence, source, note)
# ---------------------------------------------------------------------------
ADDED_ROWS: list[tuple[str, str, str, str, str, str, str, str]] = []

DYMEK_1975 = (
    "Dymek R.F., Albee A.L., Chodos A.A. (1975) Comparative petrology of lunar cumulate rocks of possible "
    "primary origin: dunite 72415, troctolite 76535, norite 78235, and anorthosite 62237. Proceedings of "
    "the 6th Lunar Science Conference, 301-341"
)
CE6_LI_2024 = (
    "Li C., Hu H., Yang M.-F., Liu J., Zhou Q., Ren X., Liu B., Liu D., Zeng X., Zuo W., Zhang G., Zhang H., "
    "Yang S., Wang Q., Deng X., Gao X., Su Y., Wen W., Ouyang Z. (2024) Nature of the lunar far-side samples "
    "returned by the Chang'E-6 mission. National Science Review, doi:10.1093/nsr/nwae328"
)
EHLMANN_2009 = (
    "Ehlmann B.L., Mustard J.F., Swayze G.A., Clark R.N., Bishop J.L., Poulet F., Des Marais D.J., Roach L.H., "
    "Milliken R.E., Wray J.J., Barnouin-Jha O., Murchie S.L. (2009) Identification of hydrated silicate minerals "
    "on Mars using MRO-CRISM: Geologic context near Nili Fossae and implications for aqueous alteration. "
    "Journal of Geophysical Research 114:E00D08"
)
EHLMANN_EDWARDS_2014 = (
    "Ehlmann B.L. & Edwards C.S. (2014) Mineralogy of the Martian surface. Annual Review of Earth and "
    "Planetary Sciences 42:291-315"
)
ADDED_ROWS += [
    # --- Moon ---
    (
        "Forsterite",
        "moon",
        "Mg-suite dunite 72415 (Apollo 17)",
        "returned sample",
        "major",
        "confirmed",
        DYMEK_1975,
        "cumulate olivine (about Fo88); forsterite is missing from the Hazen & Morrison Lunar column",
    ),
    (
        "Forsterite",
        "moon",
        "Mg-suite troctolite 76535 (Apollo 17)",
        "returned sample",
        "major",
        "confirmed",
        DYMEK_1975,
        "magnesian olivine (about Fo87)",
    ),
    (
        "Anorthite",
        "moon",
        "Mg-suite troctolite 76535 and ferroan anorthosite 62237",
        "returned sample",
        "major",
        "confirmed",
        DYMEK_1975,
        "calcic plagioclase (An > 90)",
    ),
    (
        "Enstatite",
        "moon",
        "Mg-suite norite 78235 (Apollo 17)",
        "returned sample",
        "major",
        "confirmed",
        DYMEK_1975,
        "cumulus orthopyroxene (Mg-rich, En > 50)",
    ),
    (
        "Zircon",
        "moon",
        "Apollo 17 impact-melt breccia 72215",
        "returned sample",
        "trace",
        "confirmed",
        "Nemchin A., Timms N., Pidgeon R., Geisler T., Reddy S., Meyer C. (2009) Timing of crystallization of the lunar "
        "magma ocean constrained by the oldest zircon. Nature Geoscience 2:133-136",
        "4.417 Ga zircon",
    ),
    (
        "Merrillite",
        "moon",
        "KREEP basalts and Mg-suite and alkali-suite rocks (Apollo 14, 15, 17)",
        "returned sample",
        "accessory",
        "confirmed",
        "Jolliff B.L., Hughes J.M., Freeman J.J., Zeigler R.A. (2006) Crystal chemistry of lunar merrillite and comparison "
        "to other meteoritic and planetary suites of whitlockite and merrillite. American Mineralogist 91:1583-1595",
        "REE-rich merrillite; lunar 'whitlockite' of older literature is merrillite (no H)",
    ),
    (
        "apatite",
        "moon",
        "mare basalts and highland rocks (Apollo samples)",
        "returned sample",
        "accessory",
        "confirmed",
        "Boyce J.W., Liu Y., Rossman G.R., Guan Y., Eiler J.M., Stolper E.M., Taylor L.A. (2010) Lunar apatite with "
        "terrestrial volatile abundances. Nature 466:466-469",
        "apatite with measurable OH; species per grain not given in this summary",
    ),
    (
        "apatite",
        "moon",
        "mare basalts 12039, 14053, 15058 (Apollo)",
        "returned sample",
        "accessory",
        "confirmed",
        "McCubbin F.M., Steele A., Hauri E.H., Nekvasil H., Yamashita S., Hemley R.J. (2010) Nominally hydrous magmatism "
        "on the Moon. Proceedings of the National Academy of Sciences 107:11223-11228",
        "OH-bearing apatite",
    ),
    (
        "Eskolaite",
        "moon",
        "Apollo 17 regolith (Taurus-Littrow valley); also Luna 24 regolith (Mare Crisium)",
        "returned sample",
        "trace",
        "reported",
        "Mokhov A.V., Rybchuk A.P., Kartashov P.M., Gornostaeva T.A., Bogatikov O.A. (2017) Eskolaite in the regolith of "
        "the Taurus-Littrow Valley. Doklady Earth Sciences 475:923-925",
        "SEM identification; condensate (impact vapour) origin proposed by the authors",
    ),
    (
        "Periclase",
        "moon",
        "Apollo 15 regolith breccia 15299 (shock melt)",
        "returned sample",
        "trace",
        "reported",
        "[authors not shown in copy seen] (2022) Apollo 15 regolith breccia provides first natural evidence for olivine "
        "incongruent melting. American Mineralogist (Mineralogical Society of America)",
        "reported as ferropericlase ((Mg,Fe)O, Mg > Fe), i.e. IMA species periclase; formed from shock melting of olivine",
    ),
    (
        "Novograblenovite",
        "moon",
        "Chang'e-5 regolith (Oceanus Procellarum)",
        "returned sample",
        "trace",
        "tentative",
        "Jin S. et al. (2024) Evidence of a hydrated mineral enriched in water and ammonium molecules in the Chang'e-5 "
        "lunar sample. Nature Astronomy 8:1127-1137",
        "reported as ULM-1, (NH4)MgCl3·6H2O, the composition of novograblenovite; tentative because a lunar origin (versus "
        "terrestrial contamination) has been questioned",
    ),
    (
        "plagioclase",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "major",
        "confirmed",
        CE6_LI_2024,
        "32.6% plagioclase (anorthite and bytownite) by XRD",
    ),
    (
        "Anorthite",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "major",
        "confirmed",
        CE6_LI_2024,
        "reported as anorthite and bytownite",
    ),
    (
        "Augite",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "major",
        "confirmed",
        CE6_LI_2024,
        "19.7%",
    ),
    (
        "Pigeonite",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "minor",
        "confirmed",
        CE6_LI_2024,
        "10%",
    ),
    (
        "orthopyroxene",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "accessory",
        "confirmed",
        CE6_LI_2024,
        "3.6%",
    ),
    (
        "olivine",
        "moon",
        "Chang'e-6 soil, Apollo basin (South Pole-Aitken), lunar far side",
        "returned sample",
        "trace",
        "confirmed",
        CE6_LI_2024,
        "0.5%",
    ),
    (
        "Ice",
        "moon",
        "Cabeus crater permanently shadowed region (LCROSS impact ejecta plume)",
        "orbital",
        "unknown",
        "confirmed",
        "Colaprete A. et al. (2010) Detection of water in the LCROSS ejecta plume. Science 330:463-468",
        "about 5.6 wt% water ice in the ejecta; LCROSS impactor and shepherding spacecraft (remote sensing, counted as orbital)",
    ),
    # --- Mars ---
    (
        "Prehnite",
        "mars",
        "Nili Fossae region, Noachian crust",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_2009,
        "instrument: MRO CRISM; low-grade metamorphic / hydrothermal assemblage",
    ),
    (
        "Analcime",
        "mars",
        "Nili Fossae region, Noachian crust",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_2009,
        "instrument: MRO CRISM; zeolite",
    ),
    (
        "Kaolinite",
        "mars",
        "Nili Fossae region, Noachian crust",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_2009,
        "instrument: MRO CRISM",
    ),
    (
        "chlorite",
        "mars",
        "Nili Fossae region, Noachian crust",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_2009,
        "instrument: MRO CRISM; species not resolved",
    ),
    (
        "serpentine",
        "mars",
        "Nili Fossae region, Noachian crust",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_2009,
        "instrument: MRO CRISM; species not resolved",
    ),
    (
        "Magnesite",
        "mars",
        "Nili Fossae olivine-carbonate unit",
        "orbital",
        "unknown",
        "reported",
        EHLMANN_EDWARDS_2014,
        "instrument: MRO CRISM; Mg-carbonate (review)",
    ),
    (
        "smectite",
        "mars",
        "Noachian Fe/Mg-phyllosilicate-bearing terrains (global)",
        "orbital",
        "unknown",
        "confirmed",
        EHLMANN_EDWARDS_2014,
        "instruments: Mars Express OMEGA, MRO CRISM; the most common Martian phyllosilicates (review)",
    ),
    (
        "Cristobalite",
        "mars",
        "basaltic shergottite NWA 856",
        "meteorite",
        "trace",
        "confirmed",
        "Leroux H. & Cordier P. (2006) Magmatic cristobalite and quartz in the NWA 856 Martian shergottite. "
        "Meteoritics & Planetary Science 41:913-923",
        "late-stage magmatic silica",
    ),
    (
        "Quartz",
        "mars",
        "basaltic shergottite NWA 856",
        "meteorite",
        "trace",
        "confirmed",
        "Leroux H. & Cordier P. (2006) Magmatic cristobalite and quartz in the NWA 856 Martian shergottite. "
        "Meteoritics & Planetary Science 41:913-923",
        "late-stage magmatic silica",
    ),
]


_ANION = re.compile(r"\(((?:[A-Z][a-z]?\d*)+O\d+)\)(?![\d.])")


# Authors of compilation citations marked "[authors not shown in copy seen]" that the curator
# could supply with confidence: title fragment -> authors.
SOURCE_AUTHOR_FIXES = {
    "Opaque minerals of the lunar rocks and dust from Mare Tranquillitatis": "Ramdohr P. & El Goresy A.",
    "Identification of the hydrated iron oxide mineral akagan": "Taylor L.A., Mao H.-K., Bell P.M.",
    "The basaltic shergottite Northwest Africa 856": "Jambon A. et al.",
    "Iron mineralogy and aqueous alteration on Mars from the MER": "Morris R.V. & Klingelhöfer G.",
    "Mineralogy of the Paso Robles soils on Mars": "Lane M.D., Bishop J.L., Dyar M.D., King P.L., Parente M., Hyde B.C.",
    "Coesite and stishovite in a shocked lunar meteorite": "Ohtani E. et al.",
    "Discovery of alunite in Cross crater": "Ehlmann B.L. et al. (American Mineralogist 101:1527-1542)",
    "Ancient hydrothermal seafloor deposits in Eridania basin": "Michalski J.R., Dobrea E.Z.N., Niles P.B., Cuadros J. (Nature Communications 8:15978)",
}


def fix_source(source: str) -> str:
    parts = source.split(" | ")
    for i, part in enumerate(parts):
        if part.startswith("[authors not shown in copy seen]"):
            for title, authors in SOURCE_AUTHOR_FIXES.items():
                if title in part:
                    parts[i] = part.replace(
                        "[authors not shown in copy seen]",
                        authors + " [authors supplied by curator]",
                        1,
                    )
    return " | ".join(parts)


def _clean_formula(text: str) -> str:
    text = html.unescape(text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("[box]", "□")
    # drop trailing free-text ranges such as "(x = 0-0.07)": the formula column holds formulae only
    text = re.sub(r"\s+\([a-z]\s*[=≈<>≤].*\)$", "", text)
    # brackets around one complete oxyanion group with multiplicity 1 are dropped, as in the
    # IMA list of minerals: Mg2(SiO4) -> Mg2SiO4, Ca(Al2Si2O8) -> CaAl2Si2O8
    text = _ANION.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _nonblank(text: str) -> str:
    text = (text or "").replace("\xa0", " ").strip()
    return "" if text.lower() in ("not in a structural group",) else text


SYSTEMS = (
    "cubic",
    "tetragonal",
    "hexagonal",
    "trigonal",
    "orthorhombic",
    "monoclinic",
    "triclinic",
    "amorphous",
)


def _crystal_system(systems: str, space_group: str) -> str:
    first = ""
    for token in re.split(r"[|,]", systems or ""):
        token = token.strip().lower()
        if token in SYSTEMS:
            first = token
            break
    # RRUFF reports the trigonal system as 'hexagonal' (crystal family); the
    # space group decides (R lattice or point group 3/-3/32/3m/-3m).
    if first == "hexagonal" and space_group:
        sg = space_group.replace("_", "")
        if sg.startswith("R") or re.match(r"^P-?3", sg):
            first = "trigonal"
    return first


def load_ima(shared: Path) -> dict[str, dict[str, str]]:
    """Return species records keyed by lowercase name (diacritic and plain)."""
    species: dict[str, dict[str, str]] = {}
    sg_rows = {
        r["Mineral Name"]: r
        for r in csv.DictReader(
            open(
                shared
                / "data/rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_987454f.csv",
                encoding="utf-8-sig",
            )
        )
    }
    for r in csv.DictReader(
        open(
            shared / "data/occurrence/ima_minerals_rruff_export_2021-12-25.csv",
            encoding="utf-8-sig",
        )
    ):
        name = r["Mineral Name"].strip()
        sgr = sg_rows.get(name, {})
        space_group = (sgr.get("Space Groups") or "").split("|")[0].split(",")[0].strip()
        status_tokens = r["IMA Status"].split("|")
        if "Grandfathered" in status_tokens:
            status = "Grandfathered"
        elif "Questionable mineral species" in status_tokens:
            status = "Questionable"
        else:
            status = "Approved"
        rec = {
            "name": name,
            "formula": _clean_formula(r["IMA Chemistry (plain)"]),
            "crystal_system": _crystal_system(
                r["Crystal Systems"] or sgr.get("Crystal Systems", ""), space_group
            ),
            "space_group": space_group,
            "structural_group": _nonblank(r["Structural Groupname"]),
            "ima_number": r["IMA Number"].strip(),
            "ima_status": status,
            "source": RRUFF_2021 + ("; " + RRUFF_SPACE_GROUP if space_group else ""),
            "plain": r["Mineral Name (plain)"].strip(),
            "status_notes": r["Status Notes"],
        }
        species[name.lower()] = rec
        species.setdefault(rec["plain"].lower(), rec)
    for r in csv.DictReader(
        open(
            shared / "data/rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv",
            encoding="utf-8-sig",
        )
    ):
        name = r["Mineral Name"].strip()
        if name.lower() in species:
            continue
        space_group = (r["Space Group"] or "").split("|")[0].split(",")[0].strip()
        species[name.lower()] = {
            "name": name,
            "formula": _clean_formula(r["IMA Chemistry (plain)"]),
            "crystal_system": _crystal_system(r["Crystal System"], space_group),
            "space_group": space_group,
            "structural_group": _nonblank(r["Structural Groupname"]),
            "ima_number": r["IMA Number"].strip(),
            "ima_status": "Approved",
            "source": RRUFF_2025,
            "plain": r["Mineral Name (plain)"].strip(),
            "status_notes": "",
            "newer": "1",
        }
    for name, (system, sg, reason) in CRYSTAL_FIXES.items():
        rec = species[name.lower()]
        if not rec["crystal_system"]:
            rec["crystal_system"] = system
            rec["space_group"] = rec["space_group"] or sg
            rec["source"] += (
                f"; crystal system{' and space group' if sg else ''} added by curator ({reason})"
            )
    for name, (formula, system, sg, group, number, status, source) in MANUAL_SPECIES.items():
        species[name.lower()] = {
            "name": name,
            "formula": formula,
            "crystal_system": system,
            "space_group": sg,
            "structural_group": group,
            "ima_number": number,
            "ima_status": status,
            "source": source,
            "plain": name,
            "status_notes": "",
        }
    return species


# Original-description citations for species newer than the 2021-12-25 export.
NEWER_SPECIES_SOURCES = {
    "Changesite-(Y)": "IMA 2022-023a; described from Chang'e-5 basalt (see Yang J. & Du W. 2024, Matter and Radiation at Extremes 9(2), doi:10.1063/5.0148784)",
    "Elaliite": "Herd C.D.K., Ma C., Locock A.J., Saini R., Walton E.L. (2024) Three new iron-phosphate minerals from the El Ali iron meteorite, Somalia: elaliite, elkinstantonite and olsenite. American Mineralogist 109:2142",
    "Elkinstantonite": "Herd C.D.K., Ma C., Locock A.J., Saini R., Walton E.L. (2024) Three new iron-phosphate minerals from the El Ali iron meteorite, Somalia: elaliite, elkinstantonite and olsenite. American Mineralogist 109:2142",
    "Olsenite": "Herd C.D.K., Ma C., Locock A.J., Saini R., Walton E.L. (2024) Three new iron-phosphate minerals from the El Ali iron meteorite, Somalia: elaliite, elkinstantonite and olsenite. American Mineralogist 109:2142",
    "Colomeraite": "IMA 2021-061; type locality Colomera IIE iron meteorite (RRUFF IMA export 2022-07-31, country of type locality 'Spain (meteorite)')",
}


def map_evidence(text: str) -> tuple[str, str]:
    """Map a compilation evidence string to the enum; return (evidence, note)."""
    t = text.strip()
    low = t.lower()
    if low == "returned sample":
        return "returned sample", ""
    if low in ("lunar meteorite", "martian meteorite", "meteorite"):
        return "meteorite", ""
    if low.startswith("orbital"):
        return "orbital", t.split(":", 1)[1].strip() if ":" in t else ""
    if low.startswith("in-situ") or low.startswith("in situ"):
        instrument = t.split(":", 1)[1].strip() if ":" in t else t
        note = "instrument: " + instrument
        if "lander" in low:
            note += " (lander, counted as in-situ rover: the evidence enum has no lander class)"
        return "in-situ rover", note
    if low.startswith("unspecified"):
        return (
            "returned sample",
            "evidence not stated by the source; 'returned sample' chosen by curator as the default for the Hazen & Morrison Lunar column",
        )
    raise ValueError(f"evidence {text!r}: no mapping; add one to map_evidence")


def body_of_meteorite_class(cls: str) -> str:
    low = cls.lower()
    if low.startswith("martian meteorite") or low.startswith("lunar and martian"):
        return "mars"
    if low.startswith("lunar meteorite"):
        return "moon"
    return "meteorite"


def _override(file_key: str, mineral: str, setting: str):
    for fk, m, sub, new, conf, note in ROW_OVERRIDES:
        if fk == file_key and m == mineral and sub in setting:
            return new, conf, note
    return None


def derive_occurrences(shared: Path, species: dict) -> list[dict[str, str]]:
    occ_dir = shared / "data/occurrence"
    rows: list[dict[str, str]] = []
    used_overrides: set[tuple[str, str, str]] = set()

    def add(mineral, body, setting, evidence, abundance, confidence, source, note, origin):
        rows.append(
            {
                "mineral": mineral,
                "body": body,
                "setting": setting.strip(),
                "evidence": evidence,
                "abundance": abundance,
                "confidence": confidence,
                "source": fix_source(source.strip()),
                "note": note.strip().strip(";").strip(),
                "_origin": origin,
            }
        )

    def join(*parts):
        return "; ".join(p for p in parts if p)

    # 1. lunar and Mars literature compilations
    for key, fname in (
        ("lunar", "lunar_minerals_literature.csv"),
        ("mars", "mars_minerals_literature.csv"),
    ):
        for r in csv.DictReader(open(occ_dir / fname, encoding="utf-8")):
            if key == "mars" and r["source"].startswith(
                "MSL Curiosity CheMin XRD mineral abundance tables"
            ):
                continue  # re-derived from the raw CheMin tables below
            evidence, ev_note = map_evidence(r["evidence"])
            mineral, confidence, note = r["mineral"], r["confidence"], r["note"]
            ov = _override(key, mineral, r["setting"])
            if ov:
                used_overrides.add((key, mineral, ov[0]))
                mineral = ov[0]
                confidence = ov[1] or confidence
                note = join(ov[2], note)
            setting = r["setting"]
            if setting.lower().startswith("unspecified"):
                setting = "unspecified in source (Hazen & Morrison 2022 Lunar column)"
            add(
                mineral,
                r["body"].lower(),
                setting,
                evidence,
                r["abundance"],
                confidence,
                r["source"],
                join(note, ev_note),
                fname,
            )

    # 2. CheMin raw tables, aggregated per normalised name
    chemin_map = {
        "PLAGIOCLASE": "plagioclase",
        "ANDESINE": "plagioclase",
        "FELDSPAR": "feldspar",
        "K-FELDSPAR": "alkali feldspar",
        "OLIVINE": "olivine",
        "FE-FORSTERITE": "Forsterite",
        "ORTHOPYROXENE": "orthopyroxene",
        "PYROXENE": "pyroxene",
        "APATITE": "apatite",
        "FE-CARBONATE": "Siderite",
    }
    agg: dict[str, dict] = defaultdict(lambda: {"sols": set(), "max": 0.0, "names": set(), "n": 0})
    seen = set()
    for fname in (
        "mars_msl_chemin_combined_chemin_data_all_sols.csv",
        "mars_msl_chemin_combined_sol_data.csv",
    ):
        for r in csv.DictReader(open(occ_dir / fname, encoding="utf-8")):
            raw = r["MINERAL"].strip()
            key = (raw.upper(), r["sol"].strip())
            if key in seen:
                continue
            seen.add(key)
            target = chemin_map.get(raw.upper())
            if target is None:
                rec = species.get(raw.lower())
                if rec is None:
                    raise ValueError(f"CheMin mineral {raw!r}: not an IMA species and no mapping")
                target = rec["name"]
            a = agg[target]
            a["sols"].add(int(float(r["sol"])))
            a["max"] = max(a["max"], float(r["PERCENT"]))
            a["names"].add(raw.upper())
            a["n"] += 1
    for target, a in sorted(agg.items()):
        m = a["max"]
        abundance = (
            "major" if m >= 20 else "minor" if m >= 5 else "accessory" if m >= 1 else "trace"
        )
        sols = sorted(a["sols"])
        note = (
            f"CheMin names: {', '.join(sorted(a['names']))}; max {m:.1f} wt% of crystalline fraction; "
            f"{a['n']} sample analyses (sols {sols[0]}-{sols[-1]}); instrument: MSL Curiosity CheMin (XRD)"
        )
        add(
            target,
            "mars",
            "Gale crater, Aeolis Palus and Mount Sharp sedimentary rocks and eolian sediments",
            "in-situ rover",
            abundance,
            "confirmed",
            CHEMIN_SOURCE,
            note,
            "chemin",
        )

    # 3. meteorite literature compilation
    planetary_type = {}  # species -> body, for species whose type locality is a Martian/lunar meteorite
    met_rows = list(
        csv.DictReader(open(occ_dir / "meteorite_minerals_literature.csv", encoding="utf-8"))
    )
    for r in met_rows:
        b = body_of_meteorite_class(r["meteorite_class"])
        if b != "meteorite" and r["type_locality_meteorite"].strip():
            planetary_type[r["mineral"]] = b
    nonproxy_meteorite = {
        r["mineral"]
        for r in met_rows
        if body_of_meteorite_class(r["meteorite_class"]) == "meteorite"
        and not r["source"].startswith("Hazen")
    }
    for r in met_rows:
        mineral = r["mineral"]
        if mineral in DROPPED_SPECIES:
            continue
        body = body_of_meteorite_class(r["meteorite_class"])
        note = r["note"]
        if (
            r["source"].startswith("Hazen")
            and mineral in planetary_type
            and mineral not in nonproxy_meteorite
        ):
            body = planetary_type[mineral]
            note = join(
                note,
                f"Hazen & Morrison meteoritic mode assigned to body {body}: the species is known only from "
                f"{'Martian' if body == 'mars' else 'lunar'} meteorites in this compilation",
            )
        if r["meteorite_class"].lower().startswith("lunar and martian"):
            note = join(
                note,
                "source names lunar and Martian meteorites; kept as Martian (Los Angeles shergottite)",
            )
        if r["type_locality_meteorite"].strip():
            note = join(note, "type locality: " + r["type_locality_meteorite"].strip())
        confidence = r["confidence"]
        ov = _override("meteorite", mineral, r["meteorite_class"] + " " + r["setting"])
        if ov:
            used_overrides.add(("meteorite", mineral, ov[0]))
            mineral = ov[0]
            confidence = ov[1] or confidence
            note = join(ov[2], note)
        setting = r["meteorite_class"].strip()
        if r["setting"].strip():
            setting += ": " + r["setting"].strip()
        add(
            mineral,
            body,
            setting,
            "meteorite",
            r["abundance"],
            confidence,
            r["source"],
            note,
            "meteorite_minerals_literature.csv",
        )

    # 4. curator additions
    for mineral, body, setting, evidence, abundance, confidence, source, note in ADDED_ROWS:
        add(mineral, body, setting, evidence, abundance, confidence, source, note, "curator")

    missing = {(k, m) for k, m, _s, new, _c, _n in ROW_OVERRIDES} - {
        (k, m) for k, m, _ in used_overrides
    }
    if missing:
        raise ValueError(f"ROW_OVERRIDES never applied (stale?): {sorted(missing)}")
    return rows


def canonical(name: str, species: dict) -> str:
    if name in GROUPS:
        return name
    rec = species.get(name.lower())
    if rec is None:
        raise ValueError(
            f"mineral {name!r}: neither an IMA species in the exports nor a group in GROUPS"
        )
    return rec["name"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "src/lithoscope/mindb/curated",
    )
    args = parser.parse_args()
    species = load_ima(args.shared)

    occ = derive_occurrences(args.shared, species)
    for r in occ:
        r["mineral"] = canonical(r["mineral"], species)
    # deduplicate identical (mineral, body, setting, evidence, source)
    seen: set[tuple] = set()
    dedup = []
    for r in occ:
        key = (r["mineral"].lower(), r["body"], r["setting"].lower(), r["evidence"], r["source"])
        if key in seen:
            continue
        seen.add(key)
        dedup.append(r)
    occ = sorted(
        dedup,
        key=lambda r: (
            r["body"],
            r["mineral"].lower(),
            r["evidence"],
            r["setting"].lower(),
            r["source"],
        ),
    )

    # groups
    group_rows = []
    for g, (members, source) in GROUPS.items():
        if g != g.lower():
            raise ValueError(f"group {g!r}: group names must be lowercase")
        for m in members:
            rec = species.get(m.lower())
            if rec is None:
                raise ValueError(f"group {g!r} member {m!r}: not an IMA species in the exports")
            row_source = source
            if (
                rec.get("ima_number", "").startswith("IMA")
                and g in ("pyroxene", "clinopyroxene")
                and m in PYROXENES_LATER
            ):
                row_source = source + f"; {m} approved later ({rec['ima_number']}), " + RRUFF_2021
            group_rows.append({"group": g, "member": rec["name"], "source": row_source})

    # species table: everything used in occurrences or groups
    used = {r["mineral"] for r in occ if r["mineral"] not in GROUPS} | {
        r["member"] for r in group_rows
    }
    mineral_rows = []
    for name in sorted(used, key=str.lower):
        rec = species[name.lower()]
        source = rec["source"]
        if rec.get("newer") and name in NEWER_SPECIES_SOURCES:
            source = NEWER_SPECIES_SOURCES[name] + "; formula and crystal data: " + RRUFF_2025
        mineral_rows.append(
            {
                k: rec[k]
                for k in (
                    "name",
                    "formula",
                    "crystal_system",
                    "space_group",
                    "structural_group",
                    "ima_number",
                    "ima_status",
                )
            }
            | {"source": source}
        )

    # aliases: curated list + automatic diacritic-free spellings
    alias_rows = []
    alias_seen = set()
    names_lower = {n.lower() for n in used}
    for alias, target, kind, source in ALIASES:
        tgt = target if target in GROUPS else species[target.lower()]["name"]
        if tgt not in GROUPS and tgt not in used:
            raise ValueError(f"alias {alias!r}: target {tgt!r} is not in minerals.csv")
        if alias.lower() in names_lower and alias.lower() != tgt.lower():
            raise ValueError(f"alias {alias!r} collides with a species name")
        if name_key(alias) in alias_seen:
            raise ValueError(f"alias {alias!r} listed twice")
        alias_seen.add(name_key(alias))
        alias_rows.append({"alias": alias, "target": tgt, "kind": kind, "source": source})
    # No diacritic-free spelling aliases: the loader matches names accent-insensitively
    # (lithoscope.mindb.names.name_key), so "Ulvospinel" already finds Ulvöspinel.

    check(mineral_rows, group_rows, alias_rows, occ)
    out = args.out
    write(
        out / "minerals.csv",
        [
            "name",
            "formula",
            "crystal_system",
            "space_group",
            "structural_group",
            "ima_number",
            "ima_status",
            "source",
        ],
        mineral_rows,
    )
    write(out / "groups.csv", ["group", "member", "source"], group_rows)
    write(out / "aliases.csv", ["alias", "target", "kind", "source"], alias_rows)
    write(
        out / "occurrences.csv",
        ["mineral", "body", "setting", "evidence", "abundance", "confidence", "source", "note"],
        occ,
    )
    report(mineral_rows, group_rows, alias_rows, occ)


def name_key(name: str) -> str:
    """Same matching key as lithoscope.mindb.names.name_key (case- and accent-insensitive)."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped).strip().casefold()


def check(minerals, groups, aliases, occ) -> None:
    names = [m["name"] for m in minerals]
    keys = Counter(name_key(n) for n in names)
    assert all(v == 1 for v in keys.values()), [n for n, v in keys.items() if v > 1]
    assert not ({name_key(g["group"]) for g in groups} & set(keys)), (
        "group name equals a species name"
    )
    alias_keys = Counter(name_key(a["alias"]) for a in aliases)
    assert all(v == 1 for v in alias_keys.values()), [n for n, v in alias_keys.items() if v > 1]
    assert not (set(alias_keys) & set(keys)), (
        f"alias equals a species name: {set(alias_keys) & set(keys)}"
    )
    lower = Counter(n.lower() for n in names)
    assert all(v == 1 for v in lower.values()), [n for n, v in lower.items() if v > 1]
    group_names = {g["group"] for g in groups}
    assert not (group_names & set(lower)), group_names & set(lower)
    for m in minerals:
        assert m["formula"] and m["source"], m
        assert m["crystal_system"] in (*SYSTEMS, ""), m
        assert not re.search(r"[<>]|&#|\[box\]", m["formula"]), m
    for r in occ:
        assert r["mineral"] in group_names or r["mineral"].lower() in lower, (
            f"occurrence mineral {r['mineral']!r} unknown"
        )
        assert r["body"] in ("moon", "mars", "meteorite"), r
        assert r["evidence"] in ("returned sample", "meteorite", "in-situ rover", "orbital"), r
        assert r["abundance"] in ("major", "minor", "accessory", "trace", "unknown"), r
        assert r["confidence"] in ("confirmed", "reported", "tentative"), r
        assert r["source"], r
        assert r["setting"], r
    for a in aliases:
        assert a["target"] in group_names or a["target"].lower() in lower, a
        assert a["kind"] in (
            "group",
            "variety",
            "discredited",
            "intermediate",
            "spelling",
            "not_a_mineral",
            "class",
        ), a


def write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def report(minerals, groups, aliases, occ) -> None:
    group_names = {g["group"] for g in groups}
    print(
        f"minerals.csv {len(minerals)} rows; groups.csv {len(groups)} rows ({len(group_names)} groups); "
        f"aliases.csv {len(aliases)} rows; occurrences.csv {len(occ)} rows"
    )
    rank = {"confirmed": 0, "reported": 1, "tentative": 2}
    for body in ("moon", "mars", "meteorite"):
        rows = [r for r in occ if r["body"] == body and r["mineral"] not in group_names]
        best: dict[str, str] = {}
        for r in rows:
            if r["mineral"] not in best or rank[r["confidence"]] < rank[best[r["mineral"]]]:
                best[r["mineral"]] = r["confidence"]
        ev = Counter()
        for e in ("returned sample", "meteorite", "in-situ rover", "orbital"):
            ev[e] = len({r["mineral"] for r in rows if r["evidence"] == e})
        print(
            f"{body}: {len(best)} species ({dict(Counter(best.values()))}); rows {sum(r['body'] == body for r in occ)}; "
            f"species by evidence {dict(ev)}"
        )


if __name__ == "__main__":
    main()
