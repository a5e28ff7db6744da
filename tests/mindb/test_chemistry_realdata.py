"""The parser on real formula lists: the RRUFF IMA export and RRUFF Raman file headers.

Reads the shared data mirror at ``<repo>/../shared/data`` (never copied into the repo);
skips when it is not there.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry import Formula, parse_formula

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
IMA_EXPORT = SHARED / "occurrence" / "ima_minerals_rruff_export_2021-12-25.csv"
RAMAN_ZIP = SHARED / "rruff" / "raman" / "excellent_unoriented.zip"

needs_ima = pytest.mark.skipif(
    not IMA_EXPORT.is_file(), reason=f"shared data not found: {IMA_EXPORT}"
)
needs_raman = pytest.mark.skipif(
    not RAMAN_ZIP.is_file(), reason=f"shared data not found: {RAMAN_ZIP}"
)

#: formulas that are wrong in the source itself; they must fail with these messages
#: (Żabińskiite is Ca[Al0.5(Ta,Nb)0.5](SiO4)O; the export has a stray ')')
IMA_SOURCE_TYPOS = {"Żabińskiite": r"unbalanced brackets: '\[' at position 2 is closed by '\)'"}
#: RRUFF's plain column garbles Pošepnýite's Cu^+1^_3+x_ into "Cu+13+x"
RRUFF_PLAIN_GARBLED = {"Pošepnýite"}
RRUFF_SOURCE_TYPOS = {"Huizingite-(Al)", "Jungite", "Rowleyite"}


@cache
def ima_rows() -> list[dict[str, str]]:
    # csv module: several fields hold newlines
    with IMA_EXPORT.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def same_composition(a: Formula, b: Formula) -> bool:
    return a.amounts.keys() == b.amounts.keys() and all(
        abs(a.amounts[k] - b.amounts[k]) <= 1e-9 for k in a.amounts
    )


def same_species(a: Formula, b: Formula) -> bool:
    def key(f: Formula) -> list[tuple[str, float, float]]:
        return sorted((el, round(v, 6), round(n, 6)) for el, v, n in f.species)

    return key(a) == key(b)


# --------------------------------------------------------------------------- IMA export
@needs_ima
def test_every_ima_formula_parses():
    rows = ima_rows()
    assert len(rows) > 5000
    failures = {}
    for row in rows:
        text = row["IMA Chemistry (plain)"]
        try:
            parse_formula(text)
        except FormulaError as exc:
            failures[row["Mineral Name"]] = str(exc)
    unexpected = {k: v for k, v in failures.items() if k not in IMA_SOURCE_TYPOS}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    for name, pattern in IMA_SOURCE_TYPOS.items():
        assert re.search(pattern, failures[name]), failures.get(name)


def _pymatgen_text(text: str) -> str | None:
    """The same formula for pymatgen: only plain element/count/bracket strings, with
    '·kH2O' parts written as '(H2O)k' (pymatgen reads '·' as a decimal point)."""
    if not re.fullmatch(r"[A-Za-z0-9().\[\]{}·]+", text) or re.search(r"[a-z]{2}|[xyznm]", text):
        return None
    if re.search(r"[(\[{][^)\]}]*·", text):  # water inside brackets: leave it out
        return None
    head, *waters = text.split("·")
    out = head
    for part in waters:
        m = re.fullmatch(r"(\d*(?:\.\d+)?)(.+)", part)
        assert m
        out += f"({m.group(2)}){m.group(1)}"
    return out


@needs_ima
def test_ima_formulas_against_pymatgen():
    Composition = pytest.importorskip("pymatgen.core").Composition
    compared = 0
    mismatches = []
    for row in ima_rows():
        text = row["IMA Chemistry (plain)"]
        plain = _pymatgen_text(text)
        if plain is None:
            continue
        try:
            f = parse_formula(text)
        except FormulaError:
            continue
        if f.is_representative:
            continue
        try:
            ref = Composition(plain)
        except Exception:  # pymatgen raises many types; skip what it cannot read
            continue
        compared += 1
        ref_amounts = {str(el): float(n) for el, n in ref.get_el_amt_dict().items()}
        ok = set(ref_amounts) == set(f.amounts) and all(
            abs(f.amounts[el] - n) <= 1e-9 * max(1.0, n) for el, n in ref_amounts.items()
        )
        # atomic weights differ by up to 4.4e-4 (Zn) between the two tables
        ok = ok and abs(f.molar_mass - float(ref.weight)) <= 1e-3 * float(ref.weight)
        if not ok:
            mismatches.append((text, f.amounts, ref_amounts))
    assert compared > 2500
    assert not mismatches, mismatches[:10]


@needs_ima
def test_markup_and_plain_columns_agree():
    """IMA plain vs HTML, and RRUFF plain (valences like Fe3+x resolved by charge balance)
    vs RRUFF concise (valences in ^markup^): the same composition and species."""
    rows = ima_rows()
    differ = []
    for row in rows:
        for plain_col, markup_col, skip in (
            ("IMA Chemistry (plain)", "IMA Chemistry (HTML)", IMA_SOURCE_TYPOS),
            ("RRUFF Chemistry (plain)", "RRUFF Chemistry (concise)", RRUFF_SOURCE_TYPOS),
        ):
            name = row["Mineral Name"]
            if name in skip or name in RRUFF_PLAIN_GARBLED:
                continue
            a = parse_formula(row[plain_col])
            b = parse_formula(row[markup_col])
            if not (same_composition(a, b) and same_species(a, b)):
                differ.append((name, row[plain_col], row[markup_col]))
    assert not differ, differ[:10]


@needs_ima
def test_inferred_valences_match_rruff_written_valences():
    """Valences inferred from the IMA formula (mostly without valences) against those RRUFF
    writes for the same composition. Site splits and unbalanced ideal formulas make a
    perfect match impossible; 96% of the written valences are recovered."""
    agree = total = 0
    for row in ima_rows():
        try:
            inferred = parse_formula(row["IMA Chemistry (plain)"])
            written = parse_formula(row["RRUFF Chemistry (concise)"])
        except FormulaError:
            continue
        if not same_composition(inferred, written):
            continue
        explicit = {sp.sym for sp in written._detail if sp.explicit and sp.sym != "O"}
        for el in explicit:
            total += 1
            agree += abs(inferred.valences[el] - written.valences[el]) < 0.02
    assert total > 7000
    assert agree / total >= 0.95


# --------------------------------------------------------------------------- RRUFF headers
def header_lines(tag: str) -> Iterator[str]:
    prefix = f"##{tag} CHEMISTRY="
    with zipfile.ZipFile(RAMAN_ZIP) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                head = fh.read(4096).decode("utf-8", errors="replace")
            for line in head.splitlines():
                if line.startswith(prefix):
                    yield line[len(prefix) :].strip()


@cache
def headers() -> dict[str, list[str]]:
    return {tag: list(header_lines(tag)) for tag in ("IDEAL", "MEASURED")}


@needs_raman
def test_rruff_ideal_chemistry_headers_all_parse():
    lines = headers()["IDEAL"]
    assert len(lines) > 4500
    failures = []
    for text in set(lines):
        try:
            parse_formula(text)
        except FormulaError as exc:
            failures.append(str(exc))
    assert not failures, failures[:10]


# Measured-chemistry headers that are not a formula: several phases described in words,
# oxide lists, typos in the source (unbalanced brackets, "A1" for Al). These must fail.
_NOT_A_FORMULA = re.compile(
    r"unexpected '[a-z]' at position \d+|unexpected character '%'|unbalanced brackets|"
    r"unknown element 'A'|unexpected character ';'"
)


@needs_raman
def test_rruff_measured_chemistry_headers():
    lines = headers()["MEASURED"]
    assert len(lines) > 2500
    parsed = 0
    for text in lines:
        try:
            parse_formula(text)
            parsed += 1
        except FormulaError as exc:
            assert _NOT_A_FORMULA.search(str(exc)), str(exc)
    # measured on the 2019 snapshot: 2740 of 2871 lines (95.4 %)
    assert parsed / len(lines) >= 0.95
