"""Hostile formulas: deep nesting, huge inputs; always a one-line FormulaError, never a crash."""

from __future__ import annotations

import sys

import pytest

from lithoscope.cli import main
from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry._parser import MAX_NESTING
from lithoscope.mindb.chemistry.formula import parse_formula


@pytest.mark.parametrize(
    "text",
    [
        "(" * 300 + "Fe" + ")" * 300,
        "([{" * 100 + "Fe" + "}])" * 100,
        "(" * 5000,
        "(" * (MAX_NESTING + 1) + "Mg2SiO4" + ")" * (MAX_NESTING + 1),
    ],
    ids=["round-300", "mixed-300", "unclosed-5000", "one-too-deep"],
)
def test_deep_bracket_nesting_is_a_formula_error(text):
    with pytest.raises(FormulaError, match=f"nested deeper than {MAX_NESTING} levels") as info:
        parse_formula(text)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400  # the huge input is clipped


@pytest.mark.parametrize(
    "text", ["Fe" + "(" * 300 + "2" + ")" * 300, "Fe(" + "(" * 300 + "1-x" + ")" * 300 + ")"]
)
def test_deeply_nested_counts_are_a_formula_error(text):
    with pytest.raises(FormulaError, match="nested deeper than"):
        parse_formula(text)


def test_nesting_up_to_the_limit_still_parses_to_the_flat_formula():
    deep = "(" * MAX_NESTING + "Mg2SiO4" + ")" * MAX_NESTING
    assert parse_formula(deep).amounts == pytest.approx(parse_formula("Mg2SiO4").amounts)
    counts = "Fe" + "(" * MAX_NESTING + "1-x" + ")" * MAX_NESTING + "S"
    assert parse_formula(counts, variables={"x": 0.25}).amounts == pytest.approx(
        {"Fe": 0.75, "S": 1.0}
    )


def test_long_flat_formula_is_read_in_linear_time():
    # not deep, only long: must be read (no recursion per element), not refused
    assert parse_formula("H2O·" * 3000 + "H2O").amounts == pytest.approx({"H": 6002.0, "O": 3001.0})


def test_cli_chem_with_300_nested_parentheses_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["lithoscope", "chem", "(" * 300 + "Fe" + ")" * 300])
    with pytest.raises(SystemExit) as info:
        main()
    _, err = capsys.readouterr()
    assert info.value.code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: formula ")
    assert "nested deeper than" in lines[0] and "Traceback" not in err
