"""Rock naming from modal mineralogy: textbook modes, and RELAB rocks with known names.

Usage: python benchmarks/rocks.py [--mirror ../shared/data]

1. Textbook modes (LM02 field examples and the ROCKS.md planetary examples): expected vs got.
2. Korda & Kohout (2024) RELAB rocks: each rock-typed spectrum is named from its modal labels
   (OL, OPX, CPX, PLG, scaled 0-1 and normalised to the silicates; An) with the body taken from
   the metadata Source (Moon-Ret -> moon, Mars-Met -> mars, Other-Met -> meteorite), and the name
   is compared with the class its metadata gives (mapping ``EXPECTED`` below). Spectra of the
   same sample share labels, so agreement is given per spectrum and per distinct sample+labels.
   Primitive achondrites (acapulcoite, lodranite, winonaite, "Unique") have no igneous or
   planetary class in lithoscope and are not compared.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

from lithoscope.rocks import name_rock

REPO = Path(__file__).resolve().parents[1]

TEXTBOOK: list[tuple[dict[str, float], dict, str]] = [
    ({"olivine": 95, "chromite": 5}, {}, "dunite"),
    ({"olivine": 80, "enstatite": 18, "diopside": 2}, {}, "harzburgite"),
    ({"olivine": 60, "orthopyroxene": 25, "clinopyroxene": 15}, {}, "lherzolite"),
    ({"olivine": 70, "augite": 28, "enstatite": 2}, {}, "wehrlite"),
    ({"orthopyroxene": 50, "clinopyroxene": 45, "olivine": 5}, {}, "websterite"),
    ({"orthopyroxene": 96, "clinopyroxene": 4}, {}, "orthopyroxenite"),
    ({"plagioclase": 92, "clinopyroxene": 5, "olivine": 3}, {}, "anorthosite"),
    ({"plagioclase": 60, "olivine": 38, "augite": 2}, {"plagioclase_an": 70}, "troctolite"),
    ({"plagioclase": 60, "hypersthene": 40}, {"plagioclase_an": 70}, "norite"),
    ({"plagioclase": 60, "augite": 40}, {"plagioclase_an": 70}, "gabbro"),
    ({"plagioclase": 80, "augite": 20}, {"plagioclase_an": 70}, "leucogabbro"),
    ({"plagioclase": 55, "olivine": 15, "augite": 30}, {"plagioclase_an": 70}, "olivine gabbro"),
    ({"plagioclase": 60, "hornblende": 40}, {"plagioclase_an": 30}, "diorite"),
    ({"quartz": 30, "orthoclase": 30, "plagioclase": 30, "biotite": 10}, {}, "granite"),
    ({"quartz": 30, "orthoclase": 15, "plagioclase": 45, "hornblende": 10}, {}, "granodiorite"),
    ({"quartz": 30, "orthoclase": 3, "plagioclase": 57, "hornblende": 10}, {}, "tonalite"),
    ({"orthoclase": 60, "plagioclase": 20, "hornblende": 20}, {}, "syenite"),
    ({"orthoclase": 40, "plagioclase": 40, "hornblende": 20}, {}, "monzonite"),
    ({"nepheline": 30, "microcline": 55, "aegirine": 15}, {}, "nepheline syenite"),
    ({"plagioclase": 50, "augite": 40, "olivine": 10}, {"volcanic": True}, "basalt"),
    (
        {"quartz": 30, "sanidine": 30, "plagioclase": 30, "biotite": 10},
        {"volcanic": True},
        "rhyolite",
    ),
    ({"nepheline": 30, "sanidine": 60, "aegirine": 10}, {"volcanic": True}, "phonolite"),
    (
        {"plagioclase": 96, "orthopyroxene": 3, "augite": 1},
        {"body": "moon", "plagioclase_an": 96},
        "ferroan anorthosite",
    ),
    (
        {
            "plagioclase": 45,
            "pigeonite": 25,
            "orthopyroxene": 15,
            "augite": 8,
            "merrillite": 2,
            "orthoclase": 2,
            "ilmenite": 2,
            "cristobalite": 1,
        },
        {"body": "moon"},
        "KREEP basalt",
    ),
    (
        {"augite": 40, "pigeonite": 10, "plagioclase": 25, "ilmenite": 18, "olivine": 7},
        {"body": "moon"},
        "high-Ti mare basalt",
    ),
    (
        {"augite": 45, "pigeonite": 10, "plagioclase": 30, "ilmenite": 5, "olivine": 10},
        {"body": "moon"},
        "low-Ti mare basalt",
    ),
    (
        {"plagioclase": 60, "olivine": 38, "spinel": 2},
        {"body": "moon"},
        "Mg-suite spinel troctolite",
    ),
    (
        {"augite": 75, "olivine": 12, "plagioclase": 8, "titanomagnetite": 3, "apatite": 2},
        {"body": "mars"},
        "nakhlite",
    ),
    (
        {"olivine": 90, "augite": 4, "chromite": 3, "maskelynite": 3},
        {"body": "mars"},
        "chassignite",
    ),
    (
        {"orthopyroxene": 97, "chromite": 2, "maskelynite": 1},
        {"body": "mars"},
        "orthopyroxenite (ALH 84001-like)",
    ),
    (
        {
            "pigeonite": 35,
            "augite": 25,
            "maskelynite": 30,
            "ilmenite": 5,
            "merrillite": 3,
            "pyrrhotite": 2,
        },
        {"body": "mars"},
        "basaltic shergottite",
    ),
    (
        {"olivine": 50, "pigeonite": 25, "augite": 10, "maskelynite": 12, "chromite": 3},
        {"body": "mars"},
        "poikilitic shergottite",
    ),
    (
        {
            "olivine": 40,
            "orthopyroxene": 25,
            "clinopyroxene": 5,
            "plagioclase": 10,
            "kamacite": 9,
            "troilite": 6,
            "chromite": 5,
        },
        {"body": "meteorite"},
        "H chondrite",
    ),
    (
        {"serpentine": 60, "magnetite": 10, "olivine": 20, "calcite": 5, "troilite": 5},
        {"body": "meteorite"},
        "carbonaceous chondrite",
    ),
]

BODY = {"Moon-Ret": "moon", "Mars-Met": "mars", "Other-Met": "meteorite", "Earth": None}

#: metadata class -> (label for the table, accepted name roots). A name agrees when it contains
#: one of the roots; None = not compared (no lithoscope class for it).
EXPECTED: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "ordinary chondrite": ("ordinary chondrite", ("H chondrite", "L chondrite", "LL chondrite")),
    "anorthosite": ("lunar anorthosite", ("anorthosite",)),
    "anorthosite fan": ("ferroan anorthosite", ("ferroan anorthosite",)),
    "norite": ("norite", ("norite",)),
    "nakhlite": ("nakhlite", ("nakhlite",)),
    "shergottite": ("shergottite", ("shergottite",)),
    "diogenite": ("diogenite = orthopyroxenite", ("orthopyroxenite", "harzburgite")),
    "eucrite": ("eucrite = basalt/gabbro", ("gabbro", "norite", "basalt")),
    "brachinite": ("brachinite = dunite/wehrlite", ("dunite", "wehrlite")),
}


def _metadata_class(type1: str, subtype: str) -> str | None:
    t, s = type1.strip().casefold(), subtype.strip().casefold()
    if t == "ordinary chondrite":
        return "ordinary chondrite"
    if "anorthosite" in s:
        return "anorthosite fan" if "fan" in s.split() else "anorthosite"
    keys = ("diogenite", "eucrite", "brachinite", "norite", "nakhlite", "shergottite")
    return next((key for key in keys if key in s), None)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def textbook() -> tuple[int, int]:
    print("Textbook modes (LM02 fields, ROCKS.md planetary examples)")
    print(f"{'expected':34s} {'got':34s} {'scheme':16s} ok")
    hits = 0
    for modes, kwargs, expected in TEXTBOOK:
        rock = name_rock(modes, **kwargs)
        ok = rock.name == expected
        hits += ok
        print(f"{expected:34s} {rock.name:34s} {rock.scheme:16s} {'yes' if ok else 'NO'}")
    print(f"agreement: {hits}/{len(TEXTBOOK)}\n")
    return hits, len(TEXTBOOK)


def relab(mirror: Path) -> None:
    vnir = mirror / "vnir"
    with (vnir / "korda2024_relab_silicates_labels.csv").open(newline="") as fh:
        labels = {row["SpectrumID"]: row for row in csv.DictReader(fh)}
    with (vnir / "korda2024_relab_silicates_metadata.csv").open(newline="") as fh:
        meta = [row for row in csv.DictReader(fh) if row["GeneralType1"].strip() == "Rock"]
    cols = {
        "olivine": "OL modal abundances normalised to silicates (vol%)",
        "orthopyroxene": "OPX modal abundances normalised to silicates (vol%)",
        "clinopyroxene": "CPX modal abundances normalised to silicates (vol%)",
        "plagioclase": "PLG modal abundances normalised to silicates (vol%)",
    }
    per_class: dict[str, Counter] = defaultdict(Counter)
    samples: dict[str, set] = defaultdict(set)
    sample_hits: dict[str, set] = defaultdict(set)
    disagreements: Counter = Counter()
    not_compared: Counter = Counter()
    for row in meta:
        cls = _metadata_class(row["Type1"], row["SubType"])
        expected = EXPECTED.get(cls) if cls else None
        if expected is None:
            not_compared[f"{row['Type1'].strip()} {row['SubType'].strip()}"] += 1
            continue
        lab = labels[row["SpectrumID"]]
        modes = {m: 100 * (_number(lab[c]) or 0.0) for m, c in cols.items()}
        if sum(modes.values()) <= 0:
            not_compared["no modal labels"] += 1
            continue
        an = _number(lab["An"])
        an = 100 * an if an is not None and modes["plagioclase"] > 0 else None
        rock = name_rock(modes, body=BODY.get(row["Source"].strip()), plagioclase_an=an)
        ok = any(root in rock.name for root in expected[1])
        label = expected[0]
        per_class[label]["n"] += 1
        per_class[label]["ok"] += ok
        key = (row["SampleName"].split(" ")[0], tuple(sorted(modes.items())), an)
        samples[label].add(key)
        if ok:
            sample_hits[label].add(key)
        else:
            disagreements[(label, rock.name)] += 1
    print("Korda & Kohout 2024 RELAB rocks (silicate-normalised modal labels)")
    print(f"{'metadata class':30s} {'spectra':>8s} {'agree':>6s} {'samples':>8s} {'agree':>6s}")
    tot = Counter()
    for label, c in sorted(per_class.items()):
        ns, hs = len(samples[label]), len(sample_hits[label])
        tot.update({"n": c["n"], "ok": c["ok"], "ns": ns, "hs": hs})
        print(f"{label:30s} {c['n']:8d} {c['ok']:6d} {ns:8d} {hs:6d}")
    print(f"{'all compared':30s} {tot['n']:8d} {tot['ok']:6d} {tot['ns']:8d} {tot['hs']:6d}")
    print(
        f"agreement: {tot['ok']}/{tot['n']} spectra ({100 * tot['ok'] / tot['n']:.0f} %), "
        f"{tot['hs']}/{tot['ns']} distinct samples"
    )
    oc = per_class.get("ordinary chondrite", Counter())
    n_rest, ok_rest = tot["n"] - oc["n"], tot["ok"] - oc["ok"]
    print(
        f"without ordinary chondrites (labels carry no metal or troilite, which the chondrite "
        f"rule needs): {ok_rest}/{n_rest} spectra ({100 * ok_rest / max(n_rest, 1):.0f} %)"
    )
    print("\nDisagreements (metadata class -> lithoscope name: spectra)")
    for (label, got), n in disagreements.most_common():
        print(f"  {label} -> {got}: {n}")
    print(
        "\nNot compared (no lithoscope class): "
        + ", ".join(f"{k} ({v})" for k, v in not_compared.most_common())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    textbook()
    relab(Path(args.mirror))


if __name__ == "__main__":
    main()
