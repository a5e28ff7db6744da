"""name_rock / name_rocks: JSON shape, registries, errors, batch."""

from __future__ import annotations

import json

import pytest

from lithoscope.errors import InputError
from lithoscope.rocks import BODIES, SCHEMES, RockName, name_rock, name_rocks


def test_json_shape_is_exactly_four_keys():
    doc = name_rock({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3}).to_json()
    assert set(doc) == {"name", "scheme", "field", "reasoning"}
    assert doc["name"] == "anorthosite"
    assert isinstance(doc["reasoning"], list) and all(isinstance(s, str) for s in doc["reasoning"])
    assert json.loads(json.dumps(doc)) == doc


def test_result_is_frozen():
    rock = name_rock({"olivine": 100})
    with pytest.raises(AttributeError):
        rock.name = "x"  # type: ignore[misc]


def test_normalisation_is_in_the_reasoning():
    rock = name_rock({"olivine": 30, "orthopyroxene": 10, "augite": 5})
    assert rock.name == "lherzolite"
    assert rock.reasoning[0] == "modes sum to 45 vol %, not 100: normalised to 100"


def test_normalised_and_unnormalised_modes_give_the_same_name():
    a = name_rock({"quartz": 3, "orthoclase": 3, "plagioclase": 3, "biotite": 1})
    b = name_rock({"quartz": 30, "orthoclase": 30, "plagioclase": 30, "biotite": 10})
    assert (a.name, a.field) == (b.name, b.field)


def test_every_body_maps_to_a_scheme():
    assert set(BODIES.values()) <= set(SCHEMES)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_answers_a_rock_name(scheme):
    rock = name_rock({"plagioclase": 60, "augite": 40}, scheme=scheme)
    assert isinstance(rock, RockName) and rock.name


def test_body_is_case_insensitive():
    assert name_rock({"olivine": 95, "chromite": 5}, body="Mars").name == "chassignite"


def test_unknown_body_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"^--body 'venus': expected one of moon, mars, meteorite"):
        name_rock({"olivine": 100}, body="venus")


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"^--scheme 'tas': expected one of iugs, iugs-qapf"):
        name_rock({"olivine": 100}, scheme="tas")


@pytest.mark.parametrize("an", [-1, 101, float("nan")])
def test_an_out_of_range(an):
    with pytest.raises(InputError, match=r"^--an .*: expected plagioclase An in mol % between 0"):
        name_rock({"plagioclase": 60, "augite": 40}, plagioclase_an=an)


def test_unknown_mineral_is_one_line():
    with pytest.raises(InputError, match=r"^--mode 'xyz': not a mineral lithoscope knows"):
        name_rock({"xyz": 10, "olivine": 90})


def test_batch_is_the_row_case_repeated():
    modes = [{"olivine": 95, "chromite": 5}, {"plagioclase": 60, "augite": 40}, {"quartz": 100}]
    assert name_rocks(modes, plagioclase_an=[None, 30, None]) == [
        name_rock(modes[0]),
        name_rock(modes[1], plagioclase_an=30),
        name_rock(modes[2]),
    ]


def test_batch_an_length_must_match():
    with pytest.raises(InputError, match="got 1 values for 2 modes"):
        name_rocks([{"olivine": 1}, {"olivine": 1}], plagioclase_an=[50])


def test_unclassified_is_never_silent():
    rock = name_rock({"ilmenite": 60, "magnetite": 40})
    assert rock.name == "unclassified"
    assert any("no olivine or pyroxene" in s for s in rock.reasoning)


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [({"olivine_fa": 101}, "--fa"), ({"pyroxene_fs": -1}, "--fs"), ({"olivine_fa": "x"}, "--fa")],
)
def test_fa_fs_out_of_range(kwargs, flag):
    with pytest.raises(InputError, match=rf"^{flag} .*: expected .* in mol % between 0 and 100$"):
        name_rock({"olivine": 60, "orthopyroxene": 40}, body="meteorite", **kwargs)


def test_batch_takes_fa_and_fs_per_mode():
    oc = {"olivine": 50, "orthopyroxene": 28, "clinopyroxene": 8, "plagioclase": 14}
    rocks = name_rocks([oc, oc, oc], body="meteorite", olivine_fa=[18, 24, None], pyroxene_fs=24)
    assert [r.name for r in rocks] == ["H chondrite", "L chondrite", "LL chondrite"]
    assert rocks[1] == name_rock(oc, body="meteorite", olivine_fa=24, pyroxene_fs=24)


def test_batch_fa_length_must_match():
    with pytest.raises(InputError, match="^olivine_fa: got 1 values for 2 modes"):
        name_rocks([{"olivine": 1}, {"olivine": 1}], olivine_fa=[10])


def test_iugs_says_fa_fs_are_not_used():
    rock = name_rock({"olivine": 60, "orthopyroxene": 25, "augite": 15}, olivine_fa=10)
    assert rock.name == "lherzolite"
    assert "not used: the IUGS modal schemes do not use them" in rock.reasoning[-1]


def test_mars_says_fa_fs_are_not_used():
    rock = name_rock({"olivine": 90, "augite": 5, "chromite": 5}, body="mars", olivine_fa=32)
    assert rock.name == "chassignite"
    assert "the Martian classes here are modal" in rock.reasoning[-1]
