"""IUGS schemes: textbook modes for every field, and values exactly on the boundaries."""

from __future__ import annotations

import pytest

from lithoscope.rocks import name_rock
from lithoscope.rocks.iugs import gabbroic, iugs_name, qapf, ultramafic
from lithoscope.rocks.minerals import parse_modes

# Ol-Opx-Cpx triangle [LM02 Fig. 2.9]
ULTRAMAFIC = [
    ({"olivine": 95, "chromite": 5}, "dunite", "dunite"),
    ({"forsterite": 80, "enstatite": 17, "diopside": 3}, "harzburgite", "peridotite"),
    ({"olivine": 60, "orthopyroxene": 25, "clinopyroxene": 15}, "lherzolite", "peridotite"),
    ({"olivine": 70, "augite": 28, "bronzite": 2}, "wehrlite", "peridotite"),
    (
        {"olivine": 25, "orthopyroxene": 74, "clinopyroxene": 1},
        "olivine orthopyroxenite",
        "olivine pyroxenite",
    ),
    (
        {"olivine": 25, "orthopyroxene": 40, "clinopyroxene": 35},
        "olivine websterite",
        "olivine pyroxenite",
    ),
    (
        {"olivine": 25, "orthopyroxene": 3, "clinopyroxene": 72},
        "olivine clinopyroxenite",
        "olivine pyroxenite",
    ),
    ({"orthopyroxene": 96, "clinopyroxene": 4}, "orthopyroxenite", "pyroxenite"),
    ({"orthopyroxene": 50, "clinopyroxene": 45, "olivine": 5}, "websterite", "pyroxenite"),
    ({"diopside": 95, "enstatite": 5}, "clinopyroxenite", "pyroxenite"),
    ({"olivine": 60, "pyroxene": 40}, "peridotite", "peridotite"),
    ({"olivine": 5, "pyroxene": 95}, "pyroxenite", "pyroxenite"),
]


@pytest.mark.parametrize(("modes", "name", "band"), ULTRAMAFIC)
def test_ultramafic_textbook_modes(modes, name, band):
    rock = name_rock(modes)
    assert (rock.name, rock.scheme, rock.field) == (name, "iugs-ultramafic", band)


# Plag-Px-Ol and Plag-Opx-Cpx triangles [LM02 Fig. 2.8]; An 70 makes them gabbroic
GABBROIC = [
    ({"plagioclase": 60, "augite": 40}, "gabbro"),
    ({"plagioclase": 60, "hypersthene": 40}, "norite"),
    ({"plagioclase": 55, "orthopyroxene": 20, "clinopyroxene": 25}, "gabbronorite"),
    ({"plagioclase": 60, "olivine": 38, "augite": 2}, "troctolite"),
    ({"plagioclase": 55, "olivine": 15, "augite": 30}, "olivine gabbro"),
    ({"plagioclase": 55, "olivine": 15, "enstatite": 30}, "olivine norite"),
    ({"plagioclase": 50, "olivine": 10, "enstatite": 20, "augite": 20}, "olivine gabbronorite"),
    ({"plagioclase": 80, "augite": 20}, "leucogabbro"),
    ({"plagioclase": 75, "enstatite": 25}, "leuconorite"),
    ({"plagioclase": 75, "olivine": 25}, "leucotroctolite"),
    ({"plagioclase": 25, "augite": 75}, "melagabbro"),
    ({"plagioclase": 30, "olivine": 20, "augite": 50}, "olivine melagabbro"),
    ({"plagioclase": 95, "augite": 5}, "anorthosite"),
    ({"plagioclase": 60, "pyroxene": 40}, "gabbro"),
]


@pytest.mark.parametrize(("modes", "name"), GABBROIC)
def test_gabbroic_textbook_modes(modes, name):
    assert name_rock(modes, plagioclase_an=70).name == name


# QAPF [S76, LM02 Fig. 2.4]; mafic 10 % biotite/hornblende unless said
QAPF = [
    ({"quartz": 95, "muscovite": 5}, "quartzolite", "1a"),
    (
        {"quartz": 70, "orthoclase": 15, "plagioclase": 10, "biotite": 5},
        "quartz-rich granitoid",
        "1b",
    ),
    ({"quartz": 30, "microcline": 57, "albite": 3, "biotite": 10}, "alkali-feldspar granite", "2"),
    ({"quartz": 30, "orthoclase": 45, "plagioclase": 15, "biotite": 10}, "granite", "3a"),
    ({"quartz": 30, "orthoclase": 30, "plagioclase": 30, "biotite": 10}, "granite", "3b"),
    ({"quartz": 30, "orthoclase": 15, "plagioclase": 45, "hornblende": 10}, "granodiorite", "4"),
    ({"quartz": 30, "orthoclase": 3, "plagioclase": 57, "hornblende": 10}, "tonalite", "5"),
    ({"quartz": 10, "orthoclase": 75, "hornblende": 15}, "quartz alkali-feldspar syenite", "6*"),
    ({"quartz": 10, "orthoclase": 55, "plagioclase": 20, "hornblende": 15}, "quartz syenite", "7*"),
    (
        {"quartz": 10, "orthoclase": 40, "plagioclase": 40, "hornblende": 10},
        "quartz monzonite",
        "8*",
    ),
    ({"sanidine": 85, "aegirine": 15}, "alkali-feldspar syenite", "6"),
    ({"orthoclase": 60, "plagioclase": 20, "hornblende": 20}, "syenite", "7"),
    ({"orthoclase": 40, "plagioclase": 40, "hornblende": 20}, "monzonite", "8"),
    (
        {"nepheline": 5, "orthoclase": 70, "aegirine": 25},
        "nepheline-bearing alkali-feldspar syenite",
        "6'",
    ),
    ({"nepheline": 30, "microcline": 55, "aegirine": 15}, "nepheline syenite", "11"),
    (
        {"leucite": 30, "orthoclase": 35, "plagioclase": 20, "augite": 15},
        "leucite monzosyenite",
        "12",
    ),
    ({"feldspathoid": 80, "augite": 20}, "foidolite", "15"),
    ({"nepheline": 10, "sodalite": 10, "orthoclase": 70, "augite": 10}, "foid syenite", "11"),
]


@pytest.mark.parametrize(("modes", "name", "field"), QAPF)
def test_qapf_plutonic_textbook_modes(modes, name, field):
    rock = name_rock(modes)
    assert (rock.name, rock.scheme, rock.field) == (name, "iugs-qapf", field)


VOLCANIC = [
    ({"quartz": 30, "sanidine": 60, "biotite": 10}, "alkali-feldspar rhyolite"),
    ({"quartz": 30, "sanidine": 30, "plagioclase": 30, "biotite": 10}, "rhyolite"),
    ({"quartz": 30, "sanidine": 10, "plagioclase": 50, "hornblende": 10}, "dacite"),
    ({"sanidine": 70, "plagioclase": 15, "augite": 15}, "trachyte"),
    ({"sanidine": 40, "plagioclase": 40, "augite": 20}, "latite"),
    ({"plagioclase": 50, "augite": 40, "olivine": 10}, "basalt"),
    ({"plagioclase": 75, "augite": 20, "magnetite": 5}, "andesite"),
    ({"nepheline": 30, "sanidine": 60, "aegirine": 10}, "phonolite"),
    ({"nepheline": 25, "sanidine": 35, "plagioclase": 20, "augite": 20}, "tephritic phonolite"),
    ({"nepheline": 20, "plagioclase": 40, "augite": 25, "olivine": 15}, "basanite"),
    ({"nepheline": 20, "plagioclase": 40, "augite": 35, "olivine": 5}, "tephrite"),
    (
        {"nepheline": 20, "sanidine": 10, "plagioclase": 40, "augite": 25, "olivine": 5},
        "phonolitic tephrite",
    ),
    ({"leucite": 70, "augite": 30}, "leucitite"),
    ({"nepheline": 40, "leucite": 30, "augite": 30}, "foidite"),
]


@pytest.mark.parametrize(("modes", "name"), VOLCANIC)
def test_qapf_volcanic_textbook_modes(modes, name):
    assert name_rock(modes, volcanic=True).name == name


@pytest.mark.parametrize(
    ("an", "name"), [(70, "gabbro"), (30, "diorite"), (50, "diorite"), (50.5, "gabbro")]
)
def test_diorite_or_gabbro_by_an_boundary_50_goes_to_diorite(an, name):
    assert (
        name_rock({"plagioclase": 60, "hornblende": 2, "augite": 38}, plagioclase_an=an).name
        == name
    )


@pytest.mark.parametrize(
    ("modes", "name"),
    [
        ({"labradorite": 60, "augite": 40}, "gabbro"),
        ({"andesine": 60, "hornblende": 40}, "diorite"),
    ],
)
def test_an_implied_by_plagioclase_name(modes, name):
    assert name_rock(modes).name == name


def test_unknown_an_assumes_gabbro_and_says_so():
    rock = name_rock({"plagioclase": 60, "augite": 40})
    assert rock.name == "gabbro"
    assert any("An unknown" in s and "diorite" in s for s in rock.reasoning)


@pytest.mark.parametrize(
    ("modes", "an", "name"),
    [
        ({"quartz": 10, "plagioclase": 70, "hornblende": 20}, 30, "quartz diorite"),
        ({"quartz": 10, "plagioclase": 70, "augite": 20}, 70, "quartz gabbro"),
        ({"quartz": 10, "plagioclase": 85, "augite": 5}, 70, "quartz anorthosite"),
        ({"orthoclase": 20, "plagioclase": 50, "augite": 30}, 70, "monzogabbro"),
        ({"orthoclase": 20, "plagioclase": 50, "hornblende": 30}, 30, "monzodiorite"),
        (
            {"quartz": 10, "orthoclase": 20, "plagioclase": 50, "hornblende": 20},
            30,
            "quartz monzodiorite",
        ),
        (
            {"nepheline": 30, "orthoclase": 10, "plagioclase": 40, "augite": 20},
            70,
            "nepheline monzogabbro",
        ),
        ({"nepheline": 30, "plagioclase": 50, "augite": 20}, 30, "nepheline diorite"),
        ({"nepheline": 5, "plagioclase": 60, "augite": 35}, 70, "nepheline-bearing gabbro"),
    ],
)
def test_qapf_fields_9_10_with_an(modes, an, name):
    assert name_rock(modes, plagioclase_an=an).name == name


# --- exactly on a boundary: the value goes to the field on the lower side of its coordinate ---


@pytest.mark.parametrize(
    ("modes", "name"),
    [
        ({"olivine": 90, "orthopyroxene": 10}, "harzburgite"),  # Ol = 90 -> peridotite
        ({"olivine": 40, "orthopyroxene": 60}, "olivine orthopyroxenite"),  # Ol = 40 -> pyroxenite
        ({"olivine": 10, "orthopyroxene": 90}, "orthopyroxenite"),  # Ol = 10 -> no olivine prefix
        ({"olivine": 60, "orthopyroxene": 35, "clinopyroxene": 5}, "harzburgite"),  # Cpx = 5
        ({"olivine": 60, "orthopyroxene": 5, "clinopyroxene": 35}, "wehrlite"),  # Opx = 5
        ({"orthopyroxene": 90, "clinopyroxene": 10}, "websterite"),  # Opx = 90 % of Px
    ],
)
def test_ultramafic_boundaries(modes, name):
    assert name_rock(modes).name == name


@pytest.mark.parametrize(
    ("modes", "name"),
    [
        ({"plagioclase": 90, "augite": 10}, "leucogabbro"),  # Plag = 90: not anorthosite
        ({"plagioclase": 65, "augite": 35}, "gabbro"),  # Plag = 65: not leuco
        ({"plagioclase": 35, "augite": 65}, "melagabbro"),  # Plag = 35: mela
        ({"plagioclase": 60, "augite": 35, "olivine": 5}, "gabbro"),  # Ol = 5: no olivine
        ({"plagioclase": 60, "olivine": 35, "augite": 5}, "troctolite"),  # Px = 5: troctolite
        ({"plagioclase": 60, "augite": 38, "enstatite": 2}, "gabbro"),  # Opx = 5 % of Px
        ({"plagioclase": 60, "augite": 2, "enstatite": 38}, "norite"),  # Cpx = 5 % of Px
    ],
)
def test_gabbroic_boundaries(modes, name):
    assert name_rock(modes, plagioclase_an=70).name == name


@pytest.mark.parametrize(
    ("modes", "field"),
    [
        ({"quartz": 60, "orthoclase": 20, "plagioclase": 20}, "3b"),  # Q = 60 -> 20-60 band
        ({"quartz": 20, "orthoclase": 40, "plagioclase": 40}, "8*"),  # Q = 20 -> 5-20 band
        ({"quartz": 5, "orthoclase": 47.5, "plagioclase": 47.5}, "8"),  # Q = 5 -> no quartz
        ({"quartz": 30, "orthoclase": 63, "plagioclase": 7}, "2"),  # P/(A+P) = 10
        ({"quartz": 30, "orthoclase": 45.5, "plagioclase": 24.5}, "3a"),  # P/(A+P) = 35
        ({"quartz": 30, "orthoclase": 24.5, "plagioclase": 45.5}, "3b"),  # P/(A+P) = 65
        ({"quartz": 30, "orthoclase": 7, "plagioclase": 63}, "4"),  # P/(A+P) = 90
        ({"nepheline": 10, "orthoclase": 90}, "6'"),  # F = 10 -> foid-bearing
        ({"nepheline": 60, "orthoclase": 40}, "11"),  # F = 60 -> not foidolite
        ({"nepheline": 30, "orthoclase": 35, "plagioclase": 35}, "12"),  # P/(A+P) = 50
    ],
)
def test_qapf_boundaries(modes, field):
    assert name_rock(modes).field == field


def test_m_exactly_90_is_ultramafic_as_lm02_words_it():
    rock = name_rock({"plagioclase": 10, "olivine": 60, "orthopyroxene": 30})
    assert rock.scheme == "iugs-ultramafic"
    assert rock.name == "plagioclase-bearing harzburgite"


def test_m_just_below_90_is_qapf():
    assert name_rock({"plagioclase": 10.5, "olivine": 59.5, "orthopyroxene": 30}).scheme != (
        "iugs-ultramafic"
    )


def test_reasoning_names_diagram_coordinates_and_boundaries():
    steps = " | ".join(name_rock({"olivine": 60, "orthopyroxene": 25, "augite": 15}).reasoning)
    assert "M = 100.0" in steps and "Ol-Opx-Cpx recalculated to 100" in steps
    assert "Opx 25.0 and Cpx 15.0 > 5: lherzolite" in steps


def test_pigeonite_counts_with_orthopyroxene_and_is_said():
    rock = name_rock({"plagioclase": 50, "pigeonite": 50}, plagioclase_an=80)
    assert rock.name == "norite"
    assert any("pigeonite counted with orthopyroxene" in s for s in rock.reasoning)


def test_maskelynite_counts_as_plagioclase():
    assert name_rock({"maskelynite": 60, "augite": 40}, plagioclase_an=60).name == "gabbro"


def test_plagioclase_below_an5_counts_as_alkali_feldspar():
    rock = name_rock({"quartz": 30, "plagioclase": 60, "biotite": 10}, plagioclase_an=3)
    assert rock.name == "alkali-feldspar granite"


def test_hornblende_rich_ultramafic_is_unclassified_with_reason():
    rock = name_rock({"olivine": 50, "hornblende": 30, "orthopyroxene": 20})
    assert rock.name == "unclassified"
    assert any("Ol-Px-Hbl" in s for s in rock.reasoning)


def test_quartz_with_foid_is_unclassified_with_reason():
    rock = name_rock({"quartz": 10, "nepheline": 10, "orthoclase": 80})
    assert rock.name == "unclassified"
    assert any("do not coexist" in s for s in rock.reasoning)


def test_volcanic_quartzolite_has_no_name():
    assert name_rock({"quartz": 95, "sanidine": 5}, volcanic=True).name == "unclassified"


def test_mostly_secondary_phases_are_unclassified():
    rock = name_rock({"montmorillonite": 70, "olivine": 30})
    assert rock.name == "unclassified"
    assert any("non-igneous" in s for s in rock.reasoning)


def test_secondary_phases_are_left_out_and_said():
    rock = name_rock({"serpentine": 20, "olivine": 76, "chromite": 4})
    assert rock.name == "dunite"
    assert any("left out" in s for s in rock.reasoning)


def test_carbonatite():
    assert name_rock({"calcite": 70, "apatite": 10, "magnetite": 20}).name == "carbonatite"


def test_scheme_functions_directly():
    asm = parse_modes({"plagioclase": 70, "olivine": 30})
    assert gabbroic(asm).name == "leucotroctolite"
    assert ultramafic(parse_modes({"olivine": 100})).name == "dunite"
    assert qapf(parse_modes({"quartz": 25, "orthoclase": 75}), volcanic=True).name == (
        "alkali-feldspar rhyolite"
    )
    assert iugs_name(asm, an=70).name == "leucotroctolite"
