"""Rock naming from modal mineralogy and mineral chemistry: textbook modes, RELAB rocks.

Usage: python benchmarks/rocks.py [--mirror ../shared/data]

1. Textbook modes (LM02 field examples, the ROCKS.md planetary examples, and meteorites named
   with Fa/Fs/An as in lithoscope.rocks.meteorites): expected vs got.
2. Korda & Kohout (2024) RELAB rocks: each rock-typed spectrum is named from its labels (modal
   OL, OPX, CPX, PLG normalised to the silicates; olivine Fa, OPX Fs and plagioclase An, scaled
   0-1 and given in mol % only for a mineral the mode has) with the body taken from the metadata
   Source (Moon-Ret -> moon, Mars-Met -> mars, Other-Met -> meteorite). The name is compared with
   the class the metadata SubType gives (H4 -> H chondrite, "Basaltic HED Olivine-Diogenite" ->
   diogenite, ...; ``EXPECTED`` below): exactly, at clan level (OC, HED, primitive achondrite),
   and with the same modes named without Fa and Fs. Spectra of one meteorite (chips, powders,
   size fractions) share its labels, so agreement is also given per distinct label set
   ("samples"). Every bound comes from the
   literature cited in lithoscope.rocks.meteorites; none was fitted to this set.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
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
    # meteorites named with mineral chemistry (lithoscope.rocks.meteorites for the sources)
    (
        {"olivine": 50, "orthopyroxene": 28, "clinopyroxene": 8, "plagioclase": 14},
        {"body": "meteorite", "olivine_fa": 24.5, "pyroxene_fs": 20.5, "plagioclase_an": 10},
        "L chondrite",
    ),
    (
        {"olivine": 30, "orthopyroxene": 48, "clinopyroxene": 4, "plagioclase": 18},
        {"body": "meteorite", "olivine_fa": 11, "pyroxene_fs": 10.5},
        "acapulcoite/lodranite",
    ),
    (
        {"olivine": 60, "pigeonite": 30, "graphite": 5, "kamacite": 3, "troilite": 2},
        {"body": "meteorite", "olivine_fa": 23},
        "ureilite",
    ),
    (
        {"olivine": 84, "augite": 6, "plagioclase": 10},
        {"body": "meteorite", "olivine_fa": 32},
        "brachinite",
    ),
    (
        {"orthopyroxene": 93, "olivine": 2, "plagioclase": 2, "augite": 3},
        {"body": "meteorite", "pyroxene_fs": 24},
        "diogenite",
    ),
    (
        {"orthopyroxene": 55, "pigeonite": 20, "augite": 5, "plagioclase": 20},
        {"body": "meteorite", "plagioclase_an": 90},
        "howardite",
    ),
    (
        {"pigeonite": 52, "augite": 6, "plagioclase": 40, "silica": 2},
        {"body": "meteorite", "plagioclase_an": 88, "pyroxene_fs": 60},
        "eucrite",
    ),
    (
        {"plagioclase": 50, "orthopyroxene": 50},
        {"body": "moon", "plagioclase_an": 95, "pyroxene_fs": 19},
        "Mg-suite norite",
    ),
]

BODY = {"Moon-Ret": "moon", "Mars-Met": "mars", "Other-Met": "meteorite", "Earth": None}

_OC = ("H chondrite", "L chondrite", "LL chondrite")
_HED = ("diogenite", "howardite", "eucrite")
_PRIMITIVE = ("acapulcoite", "lodranite", "winonaite", "primitive achondrite")

#: metadata class -> (accepted names, accepted names at clan level). A name agrees with a root
#: when it is the root, ends with " " + root, or has it as a word ("acapulcoite/lodranite").
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "H chondrite": (("H chondrite",), _OC),
    "L chondrite": (("L chondrite",), _OC),
    "LL chondrite": (("LL chondrite",), _OC),
    "ordinary chondrite (HH, ungrouped)": (_OC, _OC),
    "diogenite": (("diogenite",), _HED),
    "eucrite": (("eucrite",), _HED),
    "brachinite": (("brachinite",), ("brachinite",)),
    "acapulcoite": (("acapulcoite",), _PRIMITIVE),
    "lodranite": (("lodranite",), _PRIMITIVE),
    "acapulcoite/lodranite": (("acapulcoite", "lodranite"), _PRIMITIVE),
    "winonaite": (("winonaite",), _PRIMITIVE),
    "lunar anorthosite": (("anorthosite",), ("anorthosite",)),
    "ferroan anorthosite": (("ferroan anorthosite",), ("anorthosite",)),
    "norite (Mg-suite)": (("Mg-suite norite",), ("norite",)),
    "nakhlite": (("nakhlite",), ("nakhlite",)),
    "shergottite": (("shergottite",), ("shergottite",)),
}


def _agrees(name: str, roots: tuple[str, ...]) -> bool:
    words = re.split(r"[ /]", name)
    return any(name == r or name.endswith(" " + r) or r in words for r in roots)


def _metadata_class(type1: str, subtype: str) -> str | None:
    t, s = type1.strip().casefold(), subtype.strip().casefold()
    if t == "ordinary chondrite":
        group = re.match(r"(ll|l|h)(\d|\b)", s)
        if group and s != "hh":
            return f"{group.group(1).upper()} chondrite"
        return "ordinary chondrite (HH, ungrouped)"
    if "anorthosite" in s:
        return "ferroan anorthosite" if "fan" in s.split() else "lunar anorthosite"
    if "acapulc" in s and "lodranite" in s:
        return "acapulcoite/lodranite"
    if "acapulc" in s:
        return "acapulcoite"
    if "norite" in s:
        return "norite (Mg-suite)"
    keys = ("diogenite", "eucrite", "brachinite", "lodranite", "winonaite", "nakhlite")
    return next((key for key in (*keys, "shergottite") if key in s), None)


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
    samples: dict[str, dict[tuple, tuple[bool, bool]]] = defaultdict(dict)
    disagreements: Counter = Counter()
    not_compared: Counter = Counter()
    for row in meta:
        cls = _metadata_class(row["Type1"], row["SubType"])
        if cls is None:
            not_compared[f"{row['Type1'].strip()} {row['SubType'].strip()}"] += 1
            continue
        lab = labels[row["SpectrumID"]]
        modes = {m: 100 * (_number(lab[c]) or 0.0) for m, c in cols.items()}
        if sum(modes.values()) <= 0:
            not_compared["no modal labels"] += 1
            continue
        # chemistry (scaled 0-1) only for a mineral the mode has
        chem = {}
        for arg, col, mineral in (
            ("plagioclase_an", "An", "plagioclase"),
            ("olivine_fa", "Fa", "olivine"),
            ("pyroxene_fs", "Fs (OPX)", "orthopyroxene"),
        ):
            value = _number(lab[col])
            if value is not None and modes[mineral] > 0:
                chem[arg] = 100 * value
        body = BODY.get(row["Source"].strip())
        rock = name_rock(modes, body=body, **chem)
        bare = name_rock(modes, body=body, plagioclase_an=chem.get("plagioclase_an"))
        exact, clan = EXPECTED[cls]
        ok, ok_clan, ok_bare = (
            _agrees(rock.name, exact),
            _agrees(rock.name, clan),
            _agrees(bare.name, exact),
        )
        c = per_class[cls]
        c.update({"n": 1, "ok": ok, "clan": ok_clan, "bare": ok_bare})
        # Korda's labels are per meteorite: one label set ~ one meteorite (chips, powders...)
        key = (tuple(sorted(modes.items())), *sorted(chem.items()))
        samples[cls][key] = (ok, ok_clan)
        if not ok:
            disagreements[(cls, rock.name)] += 1
    print("Korda & Kohout 2024 RELAB rocks: silicate-normalised modes with Fa, Fs (OPX) and An")
    print(
        f"{'metadata class':36s} {'spectra':>7s} {'agree':>6s} {'clan':>5s} {'no Fa/Fs':>9s} "
        f"{'samples':>8s} {'agree':>6s}"
    )
    tot: Counter = Counter()

    def line(label: str, c: Counter, ns: int, hs: int) -> None:
        print(f"{label:36s} {c['n']:7d} {c['ok']:6d} {c['clan']:5d} {c['bare']:9d} {ns:8d} {hs:6d}")

    for label in EXPECTED:
        if label not in per_class:
            continue
        c = per_class[label]
        ns = len(samples[label])
        hs = sum(ok for ok, _ in samples[label].values())
        tot.update(c)
        tot.update({"ns": ns, "hs": hs})
        line(label, c, ns, hs)
    line("all compared", tot, tot["ns"], tot["hs"])
    print(
        f"agreement: {tot['ok']}/{tot['n']} spectra ({100 * tot['ok'] / tot['n']:.0f} %), "
        f"{tot['hs']}/{tot['ns']} distinct label sets; at clan level {tot['clan']}/{tot['n']}; "
        f"from the modes and An alone (no Fa/Fs) {tot['bare']}/{tot['n']}"
    )
    print(
        "agree: the name is the metadata class (H/L/LL exactly; acapulcoite/lodranite counts for "
        "either); clan: OC group, HED or primitive achondrite right; no Fa/Fs: the same modes "
        "named without olivine Fa and pyroxene Fs"
    )
    print("\nDisagreements (metadata class -> lithoscope name: spectra)")
    for (label, got), n in disagreements.most_common():
        print(f"  {label} -> {got}: {n}")
    print(
        "\nNot compared (no class in the metadata): "
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
