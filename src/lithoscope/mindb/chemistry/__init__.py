"""Chemistry engine of MinDB: formulas, valences, stoichiometry and oxide recalculation.

`parse_formula` reads mineral formulas in IMA, RRUFF (markup, plain valences, measured
chemistry) and HTML form into a `Formula` with a representative composition, valences,
molar mass, element and oxide weight percents and the charge balance; `mineral_class`
assigns a Strunz-like chemical class; `oxides_to_formula` recalculates microprobe oxide
analyses on an oxygen basis (`OXYGEN_BASES`) with end members and Droop's Fe3+ estimate.
"""

from lithoscope.mindb.chemistry._text import normalize_formula
from lithoscope.mindb.chemistry.classify import MINERAL_CLASSES, mineral_class
from lithoscope.mindb.chemistry.formula import Formula, oxide_name, parse_formula
from lithoscope.mindb.chemistry.recalc import (
    IDEAL_CATIONS,
    OXYGEN_BASES,
    AnalysisTotalWarning,
    Recalculation,
    oxides_to_formula,
    parse_oxide_list,
)

__all__ = [
    "IDEAL_CATIONS",
    "MINERAL_CLASSES",
    "OXYGEN_BASES",
    "AnalysisTotalWarning",
    "Formula",
    "Recalculation",
    "mineral_class",
    "normalize_formula",
    "oxide_name",
    "oxides_to_formula",
    "parse_formula",
    "parse_oxide_list",
]
