"""Meteorite classes from modes and mineral chemistry (lithoscope.rocks.meteorites).

Textbook cases are cited where they are built; the bounds they probe are those documented in
the module (ranges of Brearley & Jones 1998 [BJ98], Mittlefehldt et al. 1998 [Mi98], Beck &
McSween 2010 [BM10], Delaney et al. 1983 [De83], Nehru et al. 1992 [Ne92], Keil 2014 [Ke14],
Grady et al. 2014 [Gr14]).
"""

from __future__ import annotations

import pytest

from lithoscope.rocks import name_rock
from lithoscope.rocks.meteorites import meteorite
from lithoscope.rocks.minerals import parse_modes


def _met(modes, **chem):
    return name_rock(modes, body="meteorite", **chem)


def _says(rock, text: str) -> bool:
    return any(text in step for step in rock.reasoning)


# Silicates of an equilibrated ordinary chondrite, as Korda & Kohout give them (olivine,
# low-Ca and Ca-pyroxene, feldspar recalculated to 100): olivine + low-Ca pyroxene ~80 %,
# Ca-pyroxene ~5-10 %, feldspar ~12 % (McSween et al. 1991; Dunn et al. 2010).
OC = {"olivine": 50.0, "orthopyroxene": 28.0, "clinopyroxene": 8.0, "plagioclase": 14.0}

# --- ordinary chondrites ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fa", "group"),
    [(18.0, "H"), (24.0, "L"), (29.0, "LL")],  # mid-range Fa of each group [VSW67, BJ98]
)
def test_oc_group_from_olivine_fa_without_metal(fa, group):
    rock = _met(OC, olivine_fa=fa)
    assert (rock.name, rock.scheme, rock.field) == (f"{group} chondrite", "meteorite", group)
    assert _says(rock, "recognised from the silicates alone")
    assert _says(rock, f"olivine Fa decides: {group}")


@pytest.mark.parametrize(
    ("fa", "group", "typical"),
    [
        (15.01, "H", False),  # just above the reduced bound (midpoint of Fa 14 and 16)
        (16.0, "H", True),
        (20.0, "H", True),
        (21.0, "H", False),  # H/L gap 20-22: midpoint 21 goes to the lower group
        (21.01, "L", False),
        (26.0, "L", True),  # L/LL share Fa 26: the lower group
        (26.01, "LL", True),
        (32.0, "LL", True),
    ],
)
def test_oc_fa_boundaries(fa, group, typical):
    rock = _met(OC, olivine_fa=fa)
    assert rock.name == f"{group} chondrite"
    assert _says(rock, "within" if typical else "outside the typical")


@pytest.mark.parametrize(
    ("fs", "group"),
    [(16.0, "H"), (18.75, "H"), (18.76, "L"), (20.5, "L"), (22.0, "L"), (24.0, "LL")],
)
def test_oc_group_from_pyroxene_fs_alone(fs, group):
    rock = _met(OC, pyroxene_fs=fs)
    assert rock.name == f"{group} chondrite"
    assert _says(rock, f"pyroxene Fs decides: {group}")


def test_fa_and_fs_that_disagree_fa_decides_and_the_conflict_is_said():
    rock = _met(OC, olivine_fa=24.0, pyroxene_fs=16.5)
    assert rock.name == "L chondrite"
    assert _says(rock, "olivine Fa decides: L; conflict: pyroxene Fs says H")


def test_fs_outside_the_oc_ranges_with_fa_inside_is_a_conflict_not_a_veto():
    rock = _met(OC, olivine_fa=18.0, pyroxene_fs=13.0)
    assert rock.name == "H chondrite"
    assert _says(rock, "conflict: low-Ca pyroxene Fs 13 <= 14.25: more reduced than H")


@pytest.mark.parametrize(
    ("modes", "group"),
    [
        ({"olivine": 40, "orthopyroxene": 42, "clinopyroxene": 6, "plagioclase": 12}, "H"),
        ({"olivine": 48, "orthopyroxene": 32, "clinopyroxene": 5, "plagioclase": 15}, "L"),
        ({"olivine": 58, "orthopyroxene": 25, "clinopyroxene": 5, "plagioclase": 12}, "LL"),
    ],
)
def test_oc_group_from_the_silicate_ratio_when_nothing_else_is_given(modes, group):
    # ol/(ol+px) 0.45, 0.56, 0.66: inside Dunn et al.'s H, L and LL ranges
    rock = _met(modes)
    assert rock.name == f"{group} chondrite"
    assert _says(rock, f"ol/(ol+px) decides: {group}")
    assert _says(rock, "acapulcoites have the same minerals")


def test_metal_goes_before_the_ratio_and_their_conflict_is_said():
    modes = {
        "olivine": 40,
        "orthopyroxene": 25,
        "clinopyroxene": 5,
        "plagioclase": 10,
        "kamacite": 9,
        "troilite": 6,
        "chromite": 5,
    }
    rock = _met(modes)
    assert rock.name == "H chondrite"
    assert _says(rock, "Fe-Ni metal decides: H; conflict: ol/(ol+px) says L")


def test_fa_goes_before_metal():
    modes = {**OC, "kamacite": 1.8, "troilite": 5.0}
    rock = _met(modes, olivine_fa=18.0)
    assert rock.name == "H chondrite"
    assert _says(rock, "conflict: Fe-Ni metal says LL")


def test_calcic_plagioclase_is_not_an_ordinary_chondrite():
    rock = _met(OC, plagioclase_an=85)
    assert not rock.name.endswith("chondrite")
    assert _says(rock, "more calcic than the oligoclase (An ~10-12)")


def test_oxidised_olivine_is_not_an_ordinary_chondrite():
    rock = _met(OC, olivine_fa=32.01)
    assert not rock.name.endswith("chondrite")
    assert _says(rock, "more oxidised than LL")


def test_silicates_outside_the_oc_windows_are_not_a_chondrite():
    modes = {"olivine": 52, "orthopyroxene": 30, "clinopyroxene": 15, "plagioclase": 3}
    rock = _met(modes, olivine_fa=25)
    assert not rock.name.endswith("chondrite")
    assert _says(rock, "outside the ordinary-chondrite windows")


# --- primitive achondrites ---------------------------------------------------------------------


def test_acapulcoite_is_an_oc_like_mode_with_reduced_olivine():
    # Acapulco: chondritic mineralogy, olivine Fa ~11 (Mi98 range Fa 3-14)
    modes = {"olivine": 30, "orthopyroxene": 48, "clinopyroxene": 4, "plagioclase": 18}
    rock = _met(modes, olivine_fa=11.0, pyroxene_fs=10.5)
    assert (rock.name, rock.field) == ("acapulcoite/lodranite", "acapulcoite-like")
    assert _says(rock, "grain size decides")
    assert _says(rock, "not ordinary chondrite: olivine Fa 11 <= 15: more reduced than H")


def test_plagioclase_depleted_reduced_rock_is_lodranite_like():
    # lodranites: depleted in plagioclase and troilite [Mi98, McC97]
    modes = {"olivine": 55, "orthopyroxene": 42, "clinopyroxene": 3}
    rock = _met(modes, olivine_fa=12.0)
    assert (rock.name, rock.field) == ("acapulcoite/lodranite", "lodranite-like")


@pytest.mark.parametrize(
    ("fa", "name"),
    [
        (2.0, "winonaite"),  # below acapulcoites (Fa >= 3), within winonaites (~1-8) [Be98]
        (6.0, "primitive achondrite"),  # overlap: oxygen isotopes decide
        (8.0, "primitive achondrite"),
        (8.01, "acapulcoite/lodranite"),
        (15.0, "acapulcoite/lodranite"),  # reduced bound: the lower class
    ],
)
def test_primitive_achondrites_by_fa(fa, name):
    modes = {"olivine": 35, "orthopyroxene": 45, "clinopyroxene": 8, "plagioclase": 12}
    rock = _met(modes, olivine_fa=fa)
    assert rock.name == name
    if name == "primitive achondrite":
        assert rock.field == "acapulcoite/lodranite or winonaite"
        assert _says(rock, "oxygen isotopes (Delta17O) decide")


def test_enstatite_fs_is_left_to_aubrites_and_said():
    rock = _met({"orthopyroxene": 90, "olivine": 5, "plagioclase": 5}, pyroxene_fs=0.5)
    assert "aubrite" not in rock.name
    assert _says(rock, "enstatite, as in aubrites and E chondrites (not named here)")


# --- ureilites ---------------------------------------------------------------------------------


def test_ureilite_alh_a78019():
    # ALH A78019: Fo77 olivine (Fa 23) and En72 pigeonite, with graphite and metal; ureilites
    # ~60 % olivine, ~30 % pyroxene, <= 10 % carbon, metal, sulfide [Gr14]
    modes = {"olivine": 60, "pigeonite": 30, "graphite": 5, "kamacite": 3, "troilite": 2}
    rock = _met(modes, olivine_fa=23.0)
    assert (rock.name, rock.field) == ("ureilite", "olivine-pigeonite")
    assert _says(rock, "with graphite")


def test_ureilite_olivine_outside_fa_5_24_is_not_a_ureilite():
    modes = {"olivine": 60, "pigeonite": 30, "graphite": 5, "kamacite": 5}
    rock = _met(modes, olivine_fa=30.0)
    assert rock.name != "ureilite"
    assert _says(rock, "outside the ureilite olivine cores Fa 5-24")


def test_plagioclase_bearing_olivine_pigeonite_rock_is_not_a_ureilite():
    rock = _met({"olivine": 55, "pigeonite": 35, "plagioclase": 10}, olivine_fa=20)
    assert rock.name != "ureilite"


# --- brachinites -------------------------------------------------------------------------------


def test_brachina():
    # Brachinites: 74-98 vol % olivine, augite 1.5-8.2, plagioclase [Ne92]; Fa 30-35 [Ke14]
    modes = {"olivine": 84, "augite": 6, "plagioclase": 10}
    rock = _met(modes, olivine_fa=32.0)
    assert rock.name == "brachinite"
    assert _says(rock, "chassignites")


@pytest.mark.parametrize(("ol", "named"), [(73.9, False), (74.0, True)])
def test_brachinite_olivine_bound(ol, named):
    rest = 100 - ol
    modes = {"olivine": ol, "augite": rest / 2, "plagioclase": rest / 2}
    assert (_met(modes, olivine_fa=32.0).name == "brachinite") is named


def test_olivine_rock_with_diogenitic_fa_is_not_a_brachinite():
    rock = _met({"olivine": 94, "orthopyroxene": 5, "augite": 1}, olivine_fa=26.0)
    assert rock.name == "dunitic diogenite"
    assert _says(rock, "not brachinite: olivine 94.0 % but Fa 26 outside the brachinite Fa 30-35")


def test_brachinite_without_fa_needs_augite_over_orthopyroxene():
    assert _met({"olivine": 85, "augite": 7, "plagioclase": 8}).name == "brachinite"
    rock = _met({"olivine": 85, "orthopyroxene": 13, "plagioclase": 2})
    assert rock.name == "harzburgitic diogenite"


# --- HED -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ol", "name"),
    [
        (5.0, "diogenite"),
        (10.0, "diogenite"),  # on the BM10 boundary: the lower class
        (20.0, "olivine-orthopyroxenitic diogenite"),
        (40.0, "olivine-orthopyroxenitic diogenite"),
        (60.0, "harzburgitic diogenite"),
        (90.0, "harzburgitic diogenite"),
        (95.0, "dunitic diogenite"),
    ],
)
def test_diogenite_subtypes_by_olivine(ol, name):
    # Beck & McSween 2010, adopted by the Nomenclature Committee (2011)
    rest = 100.0 - ol
    modes = {"olivine": ol, "orthopyroxene": 0.98 * rest, "clinopyroxene": 0.02 * rest}
    rock = _met(modes, olivine_fa=27.0, pyroxene_fs=24.0)
    assert rock.name == name


def test_johnstown_like_orthopyroxenitic_diogenite():
    # diogenites: ~90 % or more orthopyroxene En67-77 [Mi98]
    rock = _met({"orthopyroxene": 93, "olivine": 2, "plagioclase": 2, "augite": 3}, pyroxene_fs=24)
    assert (rock.name, rock.field) == ("diogenite", "orthopyroxenitic (olivine <= 10)")
    assert not _says(rock, "conflict")


def test_diogenite_with_ferroan_pyroxene_reports_the_conflict():
    rock = _met({"orthopyroxene": 95, "plagioclase": 5}, pyroxene_fs=45)
    assert rock.name == "diogenite"
    assert _says(rock, "conflict: Fs 45 outside diogenite orthopyroxene")
    assert _says(rock, "also a diogenite-rich howardite")


def test_peridotite_with_much_augite_is_not_a_harzburgitic_diogenite():
    rock = _met({"olivine": 55, "orthopyroxene": 33, "augite": 12})
    assert "diogenite" not in rock.name
    assert _says(rock, "a lherzolite, not the harzburgite")


@pytest.mark.parametrize(
    ("plag", "name"),
    [
        (10.0, "diogenite"),
        (10.5, "howardite"),
        (20.0, "howardite"),
        (36.0, "howardite"),  # the 90 % eucritic mixture [De83]: the lower class
        (36.5, "eucrite"),
        (70.0, "eucrite"),
    ],
)
def test_hed_by_plagioclase(plag, name):
    rest = 100.0 - plag
    modes = {"plagioclase": plag, "orthopyroxene": 0.9 * rest, "augite": 0.1 * rest}
    rock = _met(modes, plagioclase_an=90)
    assert rock.name == name


def test_howardite_carries_the_one_bulk_mode_caveat():
    # Kapoeta-like regolith breccia: diogenitic orthopyroxene + eucritic pigeonite/plagioclase
    modes = {"orthopyroxene": 55, "pigeonite": 20, "augite": 5, "plagioclase": 20}
    rock = _met(modes, plagioclase_an=90)
    assert rock.name == "howardite"
    assert _says(rock, "one bulk mode cannot show the two components")
    assert _says(rock, "~ 50.0 % eucritic component")


def test_juvinas_like_basaltic_eucrite():
    # basaltic eucrite: ~40 vol % plagioclase, ~60 % pigeonite [Gr14]; An ~75-95, pigeonite
    # Fs ~60 [Mi98]
    modes = {"pigeonite": 52, "augite": 6, "plagioclase": 40, "silica": 2}
    rock = _met(modes, plagioclase_an=88, pyroxene_fs=60)
    assert (rock.name, rock.field) == ("eucrite", "eucrite")
    assert _says(rock, "An 88 within the typical eucrite An ~75-95")
    assert not _says(rock, "conflict")


def test_eucrite_with_magnesian_pyroxene_reports_the_conflict():
    rock = _met({"pigeonite": 55, "plagioclase": 45}, pyroxene_fs=25)
    assert rock.name == "eucrite"
    assert _says(rock, "conflict: Fs 25 is diogenitic")


def test_sodic_plagioclase_is_not_hed():
    rock = _met({"pigeonite": 55, "plagioclase": 45}, plagioclase_an=50)
    assert rock.name != "eucrite"
    assert _says(rock, "more sodic than HED plagioclase")


def test_plagioclase_richer_than_eucrites_is_not_hed():
    rock = _met({"plagioclase": 80, "pigeonite": 20}, plagioclase_an=90)
    assert rock.name != "eucrite"
    assert _says(rock, "more feldspathic than eucrites")


# --- shared behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modes", "chem"),
    [
        (OC, {"olivine_fa": 24.0}),
        ({"pigeonite": 55, "plagioclase": 45}, {"plagioclase_an": 90}),
        ({"olivine": 84, "augite": 6, "plagioclase": 10}, {"olivine_fa": 32.0}),
    ],
)
def test_every_answer_quotes_the_iugs_name_and_does_not_mutate_the_modes(modes, chem):
    before = dict(modes)
    rock = _met(modes, **chem)
    assert rock.reasoning[0].startswith("IUGS name: ")
    assert modes == before


def test_scheme_function_equals_name_rock():
    direct = meteorite(parse_modes(OC), fa=24.0, fs=20.5, an=12.0)
    via = _met(OC, olivine_fa=24.0, pyroxene_fs=20.5, plagioclase_an=12.0)
    assert direct == via


def test_no_meteorite_class_keeps_the_iugs_name():
    rock = _met({"quartz": 30, "orthoclase": 40, "plagioclase": 20, "hornblende": 10})
    assert (rock.name, rock.scheme) == ("granite", "iugs-qapf")
    assert _says(rock, "not ordinary chondrite")
    assert rock.reasoning[-1] == "IUGS name kept: granite"
