"""Rock names from modal mineralogy and mineral chemistry: IUGS schemes and planetary classes.

``name_rock({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3})`` gives ``anorthosite``;
``body="moon"``, ``"mars"`` or ``"meteorite"`` switches to the planetary classes, which also use
olivine Fa, low-Ca pyroxene Fs and plagioclase An where given (``olivine_fa=``,
``pyroxene_fs=``, ``plagioclase_an=``). Schemes and their boundaries are documented in
`lithoscope.rocks.iugs`, `lithoscope.rocks.planetary` (Moon, Mars) and
`lithoscope.rocks.meteorites` (chondrites, primitive achondrites, HED); the mineral-name table
(``minerals.csv``) in `lithoscope.rocks.minerals`; Mg# from Fa/Fs in
`lithoscope.rocks.chemistry`.
"""

from lithoscope.rocks.minerals import Assemblage, mineral_info, parse_modes
from lithoscope.rocks.naming import BODIES, SCHEMES, name_rock, name_rocks
from lithoscope.rocks.result import UNCLASSIFIED, RockName

__all__ = [
    "BODIES",
    "SCHEMES",
    "UNCLASSIFIED",
    "Assemblage",
    "RockName",
    "mineral_info",
    "name_rock",
    "name_rocks",
    "parse_modes",
]
