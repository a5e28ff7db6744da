"""Reading MinDB: cards, name resolution and search, on both backends."""

from __future__ import annotations

import pytest

from lithoscope.errors import InputError
from lithoscope.mindb import MineralNotFound, connect
from lithoscope.mindb.chemistry import parse_formula


@pytest.fixture
def db(built_db_url):
    with connect(built_db_url) as handle:
        yield handle


def test_forsterite_card(db):
    card = db.mineral("Forsterite")
    assert card["name"] == "Forsterite"
    assert card["formula"] == "Mg2SiO4"
    assert card["elements"] == ["Mg", "O", "Si"]
    assert card["crystal_system"] == "orthorhombic"
    # independent arithmetic from standard atomic weights
    mg, si, o = 24.305, 28.0855, 15.999
    molar = 2 * mg + si + 4 * o
    assert card["molar_mass"] == pytest.approx(molar, rel=2e-4)
    assert card["oxide_wt_percent"]["SiO2"] == pytest.approx(100 * (si + 2 * o) / molar, abs=0.02)
    assert card["oxide_wt_percent"]["MgO"] == pytest.approx(200 * (mg + o) / molar, abs=0.02)
    bodies = {o["body"] for o in card["occurrences"]}
    assert bodies == {"moon", "mars", "meteorite"}
    assert all(o["source"] for o in card["occurrences"])
    assert set(card["detectability"]) == {"raman", "ir", "vnir", "libs", "xrd"}
    assert "olivine" in card["groups"]


@pytest.mark.parametrize("name", ["forsterite", "FORSTERITE", "  Forsterite "])
def test_names_match_case_insensitively(db, name):
    assert db.mineral(name)["name"] == "Forsterite"


def test_accents_do_not_matter(db):
    assert db.mineral("ulvospinel")["name"] == "Ulvöspinel"


def test_alias_resolves_to_species(db):
    assert db.resolve("kamacite") == ("mineral", "Iron")


def test_group_card_lists_members(db):
    card = db.mineral("olivine")
    assert card["kind"] == "group"
    names = {m["name"] for m in card["members"]}
    assert {"Forsterite", "Fayalite"} <= names


def test_summaries_agree_with_the_cards(db):
    names = ["Forsterite", "Enstatite", "olivine", "kamacite", "Nosuchite"]
    summaries = db.summaries([*names, "Forsterite"])
    assert list(summaries) == ["Forsterite", "Enstatite", "olivine", "kamacite"]
    for name, summary in summaries.items():
        card = db.mineral(name)
        assert summary == {k: card.get(k) for k in ("formula", "bodies", "occurrences")}
    assert summaries["Forsterite"]["bodies"] == ["moon", "mars", "meteorite"]
    assert db.summaries([]) == {}


def test_unknown_name_suggests_close_matches(db):
    with pytest.raises(MineralNotFound, match="did you mean forsterite"):
        db.mineral("forsterit")


def test_search_by_body_and_element(db):
    rows = db.search(body="moon", elements=["Ti"])
    names = {r["name"] for r in rows}
    assert {"Ilmenite", "Armalcolite", "Ulvöspinel"} <= names
    for r in rows:
        assert "Ti" in r["elements"]
        assert "moon" in r["bodies"]
        assert "Ti" in parse_formula(r["formula"]).amounts


def test_search_needs_every_element(db):
    both = {r["name"] for r in db.search(elements=["Fe", "S"])}
    fe = {r["name"] for r in db.search(elements=["fe"])}
    assert "Troilite" in both and both <= fe


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"body": "venus"}, "--body 'venus'"),
        ({"elements": ["Xx"]}, "--element 'Xx'"),
        ({"evidence": "rumour"}, "--evidence 'rumour'"),
    ],
)
def test_search_rejects_bad_arguments(db, kwargs, match):
    with pytest.raises(InputError, match=match):
        db.search(**kwargs)


def test_every_stored_mineral_has_a_cited_occurrence_or_group(db):
    with db.session() as s:
        from sqlalchemy import select

        from lithoscope.mindb.models import GroupMember, Mineral, Occurrence

        orphan = s.scalars(
            select(Mineral.name).where(
                ~Mineral.id.in_(
                    select(Occurrence.mineral_id).where(Occurrence.mineral_id.is_not(None))
                ),
                ~Mineral.id.in_(select(GroupMember.mineral_id)),
            )
        ).all()
    assert orphan == []


def test_species_reported_are_species_with_an_occurrence_on_each_body(db):
    reported = db.species_reported()
    assert set(reported) == {"moon", "mars", "meteorite"}
    assert {"Forsterite", "Ilmenite", "Armalcolite", "Tranquillityite"} <= set(reported["moon"])
    assert "Jarosite" in reported["mars"] and "Jarosite" not in reported["moon"]
    # group occurrences ('plagioclase' on the Moon) do not make names of their own
    assert "plagioclase" not in reported["moon"]
    assert reported["moon"] == sorted(reported["moon"])
    counts = db.species_by_body()
    assert {body: len(names) for body, names in reported.items()} == counts


def test_species_groups_prefer_the_smallest_curated_group(db):
    groups = db.species_groups(["Forsterite", "Albite", "Almandine", "Dravite", "Nosuchite"])
    assert groups["Forsterite"] == "olivine"
    assert groups["Albite"] == "plagioclase"  # not 'feldspar' nor 'alkali feldspar'
    assert groups["Almandine"] == "garnet"
    assert "Nosuchite" not in groups
    assert db.species_groups([]) == {}
