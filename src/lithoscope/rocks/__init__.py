"""Rock names from modal mineralogy: IUGS schemes and planetary classes, with the reasoning.

``name_rock({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3})`` gives ``anorthosite``;
``body="moon"``, ``"mars"`` or ``"meteorite"`` switches to the planetary classes. Schemes and
their boundaries are documented in `lithoscope.rocks.iugs` and `lithoscope.rocks.planetary`; the
mineral-name table (``minerals.csv``) in `lithoscope.rocks.minerals`.
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
