"""Mixtures of real rock types: the assemblage table and `make_mixtures`."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.data.mixtures import (
    assemblage_species,
    load_assemblages,
    make_mixtures,
)
from lithoscope.errors import InputError

CLEAN = {
    "shift": 0.0,
    "stretch": 0.0,
    "band_amount": 0.0,
    "baseline": 0.0,
    "shot": (0.0, 0.0),
    "read": (0.0, 0.0),
}
ROCKS = (
    "ferroan anorthosite",
    "norite",
    "troctolite",
    "low-Ti mare basalt",
    "high-Ti mare basalt",
    "KREEP basalt",
    "Martian basalt",
    "shergottite",
    "nakhlite",
    "chassignite",
    "sulfate-bearing sediment",
    "clay-bearing sediment",
    "ordinary chondrite",
    "carbonaceous chondrite (CM/CI)",
)


def _pure(species, n=300, per=1):
    """One (or ``per``) distinct Gaussian band(s) per species: a mixture is invertible by eye."""
    x = np.linspace(100.0, 1400.0, n)
    out = {}
    for i, name in enumerate(species):
        centre = 120.0 + 1250.0 * (i + 0.5) / len(species)
        band = np.exp(-0.5 * ((x - centre) / 2.0) ** 2)
        out[name] = np.repeat(band[None, :], per, axis=0)
    return out, x


def test_table_covers_the_rock_types_with_sources():
    table = load_assemblages()
    for rock in ROCKS:
        assert rock in table, rock
        for slot in table[rock].slots:
            assert slot.source.strip()
            assert 0 <= slot.min_vol <= slot.max_vol <= 100
    assert {a.body for a in table.values()} == {"Moon", "Mars", "meteorite"}


def test_make_mixtures_truth_is_consistent():
    species = assemblage_species()
    pure, x = _pure(species)
    mix = make_mixtures(pure, n=300, rng=np.random.default_rng(0), x=x)
    assert mix.X.shape == (300, x.size)
    assert mix.Y.shape == mix.A.shape == (300, len(species))
    np.testing.assert_allclose(mix.A.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(mix.Y, (mix.A > 0).astype(np.int8))
    assert set(np.unique(mix.n_components)) <= {2, 3, 4}
    assert np.unique(mix.n_components).size == 3
    assert mix.A[mix.Y == 1].min() >= 0.05 - 1e-12
    assert set(mix.rocks) <= set(load_assemblages())


def test_clean_mixture_is_the_efficiency_weighted_sum():
    species = assemblage_species()
    pure, x = _pure(species)
    eff = {s: (0.2 if i % 2 else 1.0) for i, s in enumerate(species)}
    mix = make_mixtures(
        pure, n=50, rng=np.random.default_rng(1), x=x, efficiencies=eff, instrument=CLEAN
    )
    S = np.stack([pure[s][0] for s in mix.classes])
    e = np.array([eff[s] for s in mix.classes])
    expected = (mix.A * e) @ S
    expected /= expected.max(axis=1, keepdims=True)
    np.testing.assert_allclose(mix.X, expected, atol=1e-12)


def test_only_given_species_are_drawn():
    pure, x = _pure(["Anorthite", "Forsterite", "Enstatite", "Augite"])
    mix = make_mixtures(pure, n=100, rng=np.random.default_rng(2), x=x)
    assert set(mix.classes) == {"Anorthite", "Forsterite", "Enstatite", "Augite"}
    assert mix.n_components.min() >= 2


def test_seeded():
    pure, x = _pure(assemblage_species())
    a = make_mixtures(pure, n=20, rng=np.random.default_rng(5), x=x)
    b = make_mixtures(pure, n=20, rng=np.random.default_rng(5), x=x)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.A, b.A)


def test_custom_table(tmp_path):
    path = tmp_path / "rocks.csv"
    path.write_text(
        "rock,body,slot,species,min_vol,max_vol,source\nr,Moon,a,A,50,60,x\nr,Moon,b,B|C,40,50,x\n",
        encoding="utf-8",
    )
    table = load_assemblages(path)
    pure, x = _pure(["A", "B"])
    mix = make_mixtures(pure, table, n=10, rng=np.random.default_rng(0), x=x)
    assert mix.Y.sum(axis=1).tolist() == [2] * 10


def test_bad_table_row(tmp_path):
    path = tmp_path / "rocks.csv"
    path.write_text(
        "rock,body,slot,species,min_vol,max_vol,source\nr,Moon,a,A,70,60,x\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"rocks.csv:2: expected 0 <= min_vol <= max_vol"):
        load_assemblages(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": (3, 2)}, "n_components"),
        ({"min_fraction": 0.3}, "min_fraction"),
        ({"classes": ["Anorthite"]}, "classes lack species"),
        ({"n": 0}, "n must be a positive"),
    ],
)
def test_errors(kwargs, match):
    pure, x = _pure(["Anorthite", "Forsterite", "Enstatite"])
    with pytest.raises(InputError, match=match):
        make_mixtures(pure, rng=np.random.default_rng(0), x=x, **kwargs)


def test_no_usable_rock_and_bad_spectra():
    with pytest.raises(InputError, match="no rock type"):
        make_mixtures({"Quartz": np.ones((1, 10))}, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="has 5 points"):
        make_mixtures(
            {"Anorthite": np.ones((1, 10)), "Forsterite": np.ones((1, 5))},
            rng=np.random.default_rng(0),
        )
    with pytest.raises(InputError, match="empty"):
        make_mixtures({}, rng=np.random.default_rng(0))
