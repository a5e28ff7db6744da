"""Planetary classes: the examples of ROCKS.md and the documented proxies."""

from __future__ import annotations

import pytest

from lithoscope.rocks import name_rock
from lithoscope.rocks.minerals import parse_modes
from lithoscope.rocks.planetary import lunar, martian, meteorite, tio2_proxy

# --- Moon ---


def test_fan_96_plagioclase_with_an():
    rock = name_rock(
        {"plagioclase": 96, "orthopyroxene": 3, "augite": 1}, body="moon", plagioclase_an=96
    )
    assert (rock.name, rock.scheme, rock.field) == ("ferroan anorthosite", "lunar", "FAN (An96)")
    assert any("IUGS name: anorthosite" in s for s in rock.reasoning)


def test_fan_without_an_is_assumed_and_said():
    rock = name_rock({"plagioclase": 96, "orthopyroxene": 4}, body="moon")
    assert rock.name == "ferroan anorthosite"
    assert any("An not given" in s for s in rock.reasoning)


def test_fan_boundary_plagioclase_exactly_90_is_anorthosite():
    assert name_rock({"plagioclase": 90, "orthopyroxene": 10}, body="moon").name == (
        "ferroan anorthosite"
    )


def test_sodic_lunar_anorthosite_is_alkali_suite():
    rock = name_rock({"plagioclase": 93, "augite": 7}, body="moon", plagioclase_an=80)
    assert rock.name == "alkali anorthosite"


def test_apollo15_kreep_basalt():
    modes = {
        "plagioclase": 45,
        "pigeonite": 25,
        "orthopyroxene": 15,
        "augite": 8,
        "merrillite": 2,
        "orthoclase": 2,
        "ilmenite": 2,
        "cristobalite": 1,
    }
    rock = name_rock(modes, body="moon", plagioclase_an=85)
    assert rock.name == "KREEP basalt"
    assert any("chemical signature" in s for s in rock.reasoning)


@pytest.mark.parametrize(("ilmenite", "cls"), [(18, "high-Ti"), (5, "low-Ti"), (1, "very-low-Ti")])
def test_mare_basalt_ti_class_by_ilmenite_proxy(ilmenite, cls):
    modes = {
        "augite": 45,
        "pigeonite": 10,
        "plagioclase": 30,
        "olivine": 15 - ilmenite + 15,
        "ilmenite": ilmenite,
    }
    rock = name_rock(modes, body="moon")
    assert (rock.name, rock.field) == (f"{cls} mare basalt", cls)
    assert any("TiO2 proxy" in s for s in rock.reasoning)


def test_tio2_proxy_against_hand_calculation():
    asm = parse_modes({"clinopyroxene": 50, "plagioclase": 30, "ilmenite": 20})
    ilm_wt = 20 * 4.72 / (50 * 3.40 + 30 * 2.69 + 20 * 4.72)
    assert tio2_proxy(asm)[0] == pytest.approx(100 * ilm_wt * 0.5265, rel=1e-12)


@pytest.mark.parametrize(
    ("modes", "name"),
    [
        ({"plagioclase": 55, "orthopyroxene": 45}, "Mg-suite norite"),
        ({"plagioclase": 60, "olivine": 38, "spinel": 2}, "Mg-suite spinel troctolite"),
        ({"plagioclase": 50, "orthopyroxene": 25, "augite": 25}, "Mg-suite gabbronorite"),
        ({"olivine": 95, "chromite": 5}, "Mg-suite dunite"),
    ],
)
def test_mg_suite(modes, name):
    assert name_rock(modes, body="moon", plagioclase_an=95).name == name


def test_fan_60025_like_pyroxene_mg_number_confirms_ferroan():
    # FAN 60025: plagioclase An96-97, low-Ca pyroxene Mg# ~60-65 [Pa98]; FAN mafics Mg# < ~70
    rock = name_rock(
        {"plagioclase": 97, "orthopyroxene": 3}, body="moon", plagioclase_an=96, pyroxene_fs=37
    )
    assert (rock.name, rock.field) == ("ferroan anorthosite", "FAN (An96)")
    assert any("Mg# ~63" in s for s in rock.reasoning)
    assert any("ferroan, as FAN mafics are" in s for s in rock.reasoning)


def test_magnesian_mafics_make_a_lunar_anorthosite_mg_suite():
    rock = name_rock({"plagioclase": 95, "olivine": 5}, body="moon", olivine_fa=15)
    assert (rock.name, rock.field) == ("magnesian anorthosite", "Mg-suite (Mg# 85)")


@pytest.mark.parametrize(("fs", "mg_suite"), [(19.0, True), (29.9, True), (30.0, False)])
def test_norite_mg_suite_by_mafic_mg_number_boundary_goes_ferroan(fs, mg_suite):
    # 78235: Mg-suite norite, orthopyroxene ~En80 [Pa98]; Mg# = 70 lies on the boundary
    rock = name_rock({"plagioclase": 50, "orthopyroxene": 50}, body="moon", pyroxene_fs=fs)
    assert (rock.name == "Mg-suite norite") is mg_suite
    if not mg_suite:
        assert (rock.name, rock.scheme) == ("norite", "iugs-gabbroic")
        assert any("ferroan, not Mg-suite" in s for s in rock.reasoning)


def test_mg_numbers_on_both_sides_of_70_the_more_abundant_mineral_decides():
    modes = {"plagioclase": 60, "olivine": 30, "orthopyroxene": 10}
    rock = name_rock(modes, body="moon", olivine_fa=20, pyroxene_fs=40)
    assert rock.name == "Mg-suite olivine norite"
    assert any("conflict" in s and "(olivine) decides" in s for s in rock.reasoning)


def test_lunar_rock_no_class_fits_keeps_iugs_name_and_says_so():
    rock = name_rock(
        {"quartz": 30, "orthoclase": 40, "plagioclase": 20, "hornblende": 10}, body="moon"
    )
    assert (rock.name, rock.scheme) == ("granite", "iugs-qapf")
    assert any("not ferroan anorthosite" in s for s in rock.reasoning)
    assert rock.reasoning[-1] == "IUGS name kept: granite"


def test_lunar_scheme_alone_reports_unclassified():
    rock = lunar(parse_modes({"quartz": 30, "orthoclase": 70}))
    assert rock.name == "unclassified"
    assert rock.reasoning[-1] == "no lunar class fits"


# --- Mars ---


def test_nakhlite_75_augite_12_olivine():
    modes = {"augite": 75, "olivine": 12, "plagioclase": 8, "titanomagnetite": 3, "apatite": 2}
    assert name_rock(modes, body="mars").name == "nakhlite"


def test_chassignite_90_olivine():
    modes = {"olivine": 90, "augite": 4, "chromite": 3, "maskelynite": 3}
    rock = name_rock(modes, body="mars")
    assert rock.name == "chassignite"
    assert any("IUGS name: plagioclase-bearing dunite" in s for s in rock.reasoning)


def test_alh84001_97_orthopyroxene():
    modes = {"orthopyroxene": 97, "chromite": 2, "maskelynite": 1}
    assert name_rock(modes, body="mars").name == "orthopyroxenite (ALH 84001-like)"


@pytest.mark.parametrize(
    ("olivine", "sub"),
    [
        (0, "basaltic"),
        (5, "basaltic"),
        (20, "olivine-phyric"),
        (35, "olivine-phyric"),
        (50, "poikilitic"),
    ],
)
def test_shergottites_by_olivine_proxy_boundaries_go_low(olivine, sub):
    rest = 100 - olivine
    modes = {
        "olivine": olivine,
        "pigeonite": 0.45 * rest,
        "augite": 0.2 * rest,
        "maskelynite": 0.3 * rest,
        "ilmenite": 0.05 * rest,
    }
    rock = name_rock(modes, body="mars")
    assert (rock.name, rock.field) == (f"{sub} shergottite", sub)


@pytest.mark.parametrize(
    ("modes", "name"),
    [
        (
            {"jarosite": 30, "kieserite": 15, "saponite": 10, "augite": 25, "olivine": 20},
            "sulfate-bearing sediment",
        ),
        (
            {"nontronite": 40, "saponite": 20, "plagioclase": 25, "augite": 15},
            "clay-bearing sediment",
        ),
    ],
)
def test_martian_sediments(modes, name):
    assert name_rock(modes, body="mars").name == name


def test_martian_scheme_direct():
    assert martian(parse_modes({"olivine": 95, "chromite": 5})).name == "chassignite"


# --- meteorites ---


def _oc(metal_vol: float) -> dict[str, float]:
    return {
        "olivine": 40,
        "orthopyroxene": 25,
        "clinopyroxene": 5,
        "plagioclase": 10,
        "troilite": 5,
        "chromite": 1,
        "kamacite": metal_vol,
    }


@pytest.mark.parametrize(("metal", "group"), [(9.0, "H"), (4.0, "L"), (1.8, "LL")])
def test_ordinary_chondrite_groups_by_metal(metal, group):
    rock = name_rock(_oc(metal), body="meteorite")
    assert (rock.name, rock.field) == (f"{group} chondrite", group)


def test_ordinary_chondrite_group_boundary_is_computed_in_weight_percent():
    # metal wt % = v * 7.9 / (v * 7.9 + silicate and troilite mass); solve for 11.5 wt % exactly
    others = {k: v for k, v in _oc(0).items() if k != "kamacite"}
    asm = parse_modes({**others, "kamacite": 1e-9})
    rest = sum(info.density * v for _, info, v in asm.minerals if info.role != "metal")
    rest *= sum(others.values()) / 100
    v = 11.5 * rest / (7.9 * (100 - 11.5))
    assert name_rock({**others, "kamacite": v}, body="meteorite").name == "L chondrite"
    assert name_rock({**others, "kamacite": v * 1.001}, body="meteorite").name == "H chondrite"


def test_chondrite_without_metal_is_recognised_from_the_silicates_and_says_so():
    modes = {"olivine": 50, "orthopyroxene": 30, "clinopyroxene": 8, "plagioclase": 12}
    rock = name_rock(modes, body="meteorite", plagioclase_an=10)
    assert rock.scheme == "meteorite" and rock.name.endswith("chondrite")
    assert any("recognised from the silicates alone" in s for s in rock.reasoning)
    assert any("acapulcoites have the same minerals" in s for s in rock.reasoning)


def test_carbonaceous_chondrite():
    modes = {
        "serpentine": 55,
        "magnetite": 10,
        "olivine": 20,
        "calcite": 5,
        "troilite": 5,
        "pentlandite": 5,
    }
    rock = meteorite(parse_modes(modes))
    assert (rock.name, rock.field) == ("carbonaceous chondrite", "CI/CM-like")
