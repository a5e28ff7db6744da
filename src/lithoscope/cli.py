"""The ``lithoscope`` command: thin typer commands over the library.

Every command that takes ``--json`` prints machine-readable JSON on stdout (a contract other tools
rely on) and otherwise a readable rich rendering. Errors are one line on stderr, exit code 1 for
bad input and 2 for usage errors; never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from lithoscope import __version__
from lithoscope.errors import InputError, LithoscopeError

app = typer.Typer(
    name="lithoscope",
    help="Recognise minerals on the Moon, Mars and in meteorites, and keep MinDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="MinDB, the curated mineral database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
data_app = typer.Typer(
    help="Public data: fetch (URL or mirror) and ingest into MinDB.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
spectra_app = typer.Typer(help="Spectrum files: inspect and convert.", no_args_is_help=True)
app.add_typer(spectra_app, name="spectra")
libs_app = typer.Typer(
    help="LIBS: simulate an LTE plasma's emission, detect elements in a spectrum.",
    no_args_is_help=True,
)
app.add_typer(libs_app, name="libs")
rock_app = typer.Typer(help="Rocks: name a rock from its mineral modes.", no_args_is_help=True)
app.add_typer(rock_app, name="rock")

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SpectrumFiles = Annotated[list[Path], typer.Argument(help="Spectrum files.")]
FileMethod = Annotated[str | None, typer.Option(help="Method for files that do not record it.")]
ModelRef = Annotated[
    str | None, typer.Option(help="NAME or NAME@VERSION (default: the method's default).")
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="LITHOSCOPE_DATABASE_URL",
        help="SQLAlchemy URL of MinDB (default: SQLite in the data folder).",
        show_envvar=True,
    ),
]


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _connect(url: str | None):
    from lithoscope.mindb import connect

    return connect(url)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lithoscope {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """lithoscope command line."""


# ---------------------------------------------------------------------------------- db
@db_app.command("build")
def db_build(
    curated: Annotated[
        Path | None,
        typer.Option(
            help="Folder of curated CSV files (default: the ones shipped with lithoscope)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the files are unchanged.")] = False,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Load MinDB's curated tables (minerals, groups, aliases, occurrences) into the database."""
    with _connect(database_url) as db:
        with err_console.status("Building MinDB from the curated files...", spinner="dots"):
            report = db.build(curated, force=force)
        info = db.info()
    if as_json:
        _print_json({**report.to_dict(), "by_body": info["by_body"]})
        return
    if report.unchanged:
        console.print("MinDB is up to date with the curated files (nothing to do).")
    else:
        console.print(
            f"Built MinDB: {report.minerals} minerals ({report.minerals_added} new, "
            f"{report.minerals_updated} updated), {report.groups} groups, {report.aliases} "
            f"aliases, {report.occurrences} occurrences, {report.references} references."
        )
    by_body = info["by_body"]
    console.print(
        f"Species by body: Moon {by_body['moon']}, Mars {by_body['mars']}, "
        f"meteorites {by_body['meteorite']}."
    )


@db_app.command("info")
def db_info(database_url: DbUrl = None, as_json: JsonFlag = False) -> None:
    """Counts of minerals, species per body and spectra per method."""
    with _connect(database_url) as db:
        info = db.info()
    if as_json:
        _print_json(info)
        return
    table = Table(title=f"MinDB ({info['database']})", show_header=False)
    table.add_row("schema version", info["schema_version"])
    table.add_row("minerals", str(info["minerals"]))
    for body, n in info["by_body"].items():
        conf = info["species_by_body_and_confidence"][body]
        detail = ", ".join(f"{k} {v}" for k, v in sorted(conf.items()))
        table.add_row(f"species on {body}", f"{n}" + (f" ({detail})" if detail else ""))
    table.add_row("groups", str(info["groups"]))
    table.add_row("occurrences", str(info["occurrences"]))
    table.add_row("references", str(info["references"]))
    for method, n in info["spectra"].items():
        table.add_row(f"{method} spectra", str(n))
    console.print(table)
    if not info["built"]:
        console.print("MinDB is empty: run 'lithoscope db build'.")


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None) -> None:
    """Migrate MinDB's schema to this version of lithoscope (done on every open as well)."""
    from lithoscope.config import get_settings
    from lithoscope.mindb.db import upgrade

    before, after = upgrade(database_url or get_settings().resolved_database_url())
    if before == after:
        console.print(f"MinDB schema is at {after}; nothing to do.")
    else:
        console.print(f"MinDB schema migrated from {before or 'empty'} to {after}.")


def _mineral_card(card: dict[str, Any]) -> None:
    if card["kind"] == "group":
        table = Table(title=f"{card['name']} (group)")
        table.add_column("member")
        table.add_column("formula")
        for m in card["members"]:
            table.add_row(m["name"], m["formula"])
        console.print(table)
    else:
        lines = [
            f"[bold]{card['name']}[/bold]  {card['formula']}",
            f"class: {card['mineral_class']}   crystal system: {card['crystal_system'] or '?'}"
            f"   space group: {card['space_group'] or '?'}",
            f"molar mass: {card['molar_mass']:.3f} g/mol   elements: {' '.join(card['elements'])}",
        ]
        if card["groups"]:
            lines.append(f"groups: {', '.join(card['groups'])}")
        if card["oxide_wt_percent"]:
            oxides = "  ".join(f"{k} {v:.2f}" for k, v in card["oxide_wt_percent"].items())
            lines.append(f"oxide wt%: {oxides}")
        detect = "  ".join(f"{k}: {v['level']}" for k, v in card["detectability"].items())
        lines.append(f"detectability: {detect}")
        console.print(Panel("\n".join(lines), expand=False))
    if card["occurrences"]:
        table = Table(title="Occurrences")
        for col in ("body", "setting", "evidence", "abundance", "confidence", "source"):
            table.add_column(col, overflow="fold", max_width=60 if col == "source" else None)
        for o in card["occurrences"]:
            table.add_row(
                o["body"], o["setting"], o["evidence"], o["abundance"], o["confidence"], o["source"]
            )
        console.print(table)


@db_app.command("show")
def db_show(
    name: Annotated[str, typer.Argument(help="Mineral, group or alias name (any case).")],
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one mineral (or group): formula, chemistry, structure and where it occurs."""
    with _connect(database_url) as db:
        card = db.mineral(name)
    if as_json:
        _print_json(card)
    else:
        _mineral_card(card)


@db_app.command("search")
def db_search(
    body: Annotated[str | None, typer.Option(help="moon, mars or meteorite.")] = None,
    element: Annotated[
        list[str] | None, typer.Option("--element", "-e", help="Element it must contain (repeat).")
    ] = None,
    evidence: Annotated[
        str | None, typer.Option(help="returned sample, meteorite, in-situ rover or orbital.")
    ] = None,
    mineral_class: Annotated[
        str | None, typer.Option("--class", help="Mineral class, e.g. silicate, oxide, sulfide.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List minerals by body, elements, evidence, class or name."""
    with _connect(database_url) as db:
        rows = db.search(
            body=body,
            elements=element or (),
            evidence=evidence,
            mineral_class=mineral_class,
            name_contains=name,
            limit=limit,
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} minerals")
    for col in ("name", "formula", "class", "bodies"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["formula"], r["mineral_class"], ", ".join(r["bodies"]))
    console.print(table)


# ---------------------------------------------------------------------------------- data
Mirror = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        envvar="LITHOSCOPE_MIRROR",
        help="Local folder or URL laid out like the data mirror (default: official source).",
        show_envvar=True,
    ),
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Hide progress bars.")]


@data_app.command("fetch")
def data_fetch(
    source: Annotated[str, typer.Argument(help="Data set name, e.g. rruff-raman, rruff-ir.")],
    mirror: Mirror = None,
    no_progress: NoProgress = False,
    as_json: JsonFlag = False,
) -> None:
    """Download a public data set (checksums verified, resumable, idempotent)."""
    import logging

    from lithoscope.data.fetch import fetch

    logging.getLogger("lithoscope.data.fetch").setLevel(logging.ERROR)
    result = fetch(source, mirror=mirror, progress=not no_progress and not as_json)
    data = result.to_dict()
    if as_json:
        _print_json(data)
        return
    for f in data["files"]:
        console.print(f"{f['status']:>10}  {f['path']}  ({f['size'] / 1e6:.1f} MB, {f['origin']})")
    for warning in data.get("warnings", []):
        err_console.print(f"warning: {warning}", markup=False)


@data_app.command("ingest")
def data_ingest(
    source: Annotated[
        str,
        typer.Argument(
            help="rruff-ima, rruff-raman, rruff-ir, korda2024 (VNIR, mirror only), "
            "usgs-splib07 (VNIR, mirror only), or a zip/folder/file path."
        ),
    ],
    mirror: Mirror = None,
    database_url: DbUrl = None,
    no_progress: NoProgress = False,
    as_json: JsonFlag = False,
) -> None:
    """Parse a data set into MinDB (deduplicated, linked to minerals, one transaction)."""
    from lithoscope.data.ingest import ingest

    with _connect(database_url) as db:
        report = ingest(db, source, mirror=mirror, progress=not no_progress and not as_json)
    data = report.to_dict()
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"Ingested {source}", show_header=False)
    table.add_row("files read", str(data["files"]))
    table.add_row("ingested", str(data["ingested"]))
    if data["minerals_added"]:
        table.add_row("minerals added", str(data["minerals_added"]))
    table.add_row("duplicates (same content)", str(data["duplicates"]))
    table.add_row("already in MinDB", str(data["already_present"]))
    table.add_row("failed", str(len(data["failed"])))
    unmatched = data["unmatched_names"]
    table.add_row("unmatched names", f"{len(unmatched)} ({sum(unmatched.values())} spectra)")
    table.add_row("label conflicts (one id, several names)", str(len(data["conflicts"])))
    chem_data = data["measured_chemistry"]
    table.add_row(
        "measured chemistry parsed", f"{chem_data['parsed']} (unparsed {chem_data['unparsed']})"
    )
    links = data["links"]
    if links:
        table.add_row(
            "MinDB spectra linked to species / groups / unlinked",
            f"{links['spectra_linked_to_species']} / {links['spectra_linked_to_groups']}"
            f" / {links['spectra_unlinked']}",
        )
    console.print(table)
    for line in report.unlinked_lines():
        console.print(line, markup=False, soft_wrap=True)
    for failure in data["failed"][:10]:
        err_console.print(f"failed: {failure['reason']}", markup=False)


@data_app.command("simulate-libs")
def data_simulate_libs(
    minerals: Annotated[
        list[str] | None,
        typer.Option("--minerals", help="Species or groups, comma-separated (repeatable)."),
    ] = None,
    all_species: Annotated[
        bool, typer.Option("--all", help="Every species in MinDB (~6,000: minutes).")
    ] = False,
    with_spectra: Annotated[
        str | None,
        typer.Option(help="Only species with spectra of this method in MinDB, e.g. raman."),
    ] = None,
    per_mineral: Annotated[int, typer.Option(help="Spectra per species.")] = 4,
    preset: Annotated[str, typer.Option(help="Instrument: handheld or supercam.")] = "handheld",
    seed: Annotated[int, typer.Option(help="Seed of the random plasma conditions.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes simulating in parallel.")] = 1,
    mirror: Mirror = None,
    database_url: DbUrl = None,
    no_progress: NoProgress = False,
    as_json: JsonFlag = False,
) -> None:
    """Store simulated LIBS reference spectra of MinDB's species (LTE plasma, random conditions;
    re-running adds only what is missing)."""
    from lithoscope.data.simulated import simulate_libs_references

    names = None
    if minerals is not None:
        names = [n.strip() for value in minerals for n in value.split(",") if n.strip()]
    with _connect(database_url) as db:
        report = simulate_libs_references(
            db,
            names,
            all_species=all_species,
            with_spectra=with_spectra,
            per_mineral=per_mineral,
            preset=preset,
            seed=seed,
            workers=workers,
            mirror=mirror,
            progress=not no_progress and not as_json,
        )
    data = report.to_dict()
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"Simulated LIBS references ({data['preset']}, seed {data['seed']})")
    table.add_column("", justify="left")
    table.add_column("", justify="right")
    table.show_header = False
    table.add_row("species selected", str(data["minerals"]))
    table.add_row("spectra added", f"{data['added']} ({data['simulated_minerals']} species)")
    table.add_row("already in MinDB", str(data["already_present"]))
    table.add_row("skipped species (formula not simulable)", str(data["skipped"]))
    if data["without_lines"]:
        missing = ", ".join(data["elements_without_lines"])
        table.add_row(
            f"species with elements without lines ({missing})", str(data["without_lines"])
        )
    table.add_row("seconds", f"{data['seconds']:.1f}")
    console.print(table)
    for line in report.skipped_lines():
        console.print(line, markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------------- spectra
@spectra_app.command("info")
def spectra_info(
    files: SpectrumFiles,
    method: Annotated[
        str | None, typer.Option(help="Method for files that do not record it (plain text).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Format, method, mineral, RRUFF id, laser and axis of spectrum files."""
    import warnings

    from lithoscope.spectra.io import SpectrumWarning, read_spectra

    failed = 0
    table = Table()
    columns = (
        "file",
        "format",
        "method",
        "mineral",
        "rruff_id",
        "laser_nm",
        "unit",
        "n_points",
        "axis_min",
        "axis_max",
    )
    for col in columns:
        table.add_column(col)
    for path in files:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SpectrumWarning)
                spectra = read_spectra(path, method=method)
        except LithoscopeError as exc:
            failed += 1
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            continue
        for w in caught:
            err_console.print(f"warning: {w.message}", markup=False, soft_wrap=True)
        for i, spectrum in enumerate(spectra):  # a table, multifile SPC or map: a row each
            meta = spectrum.metadata
            row = {
                "file": f"{path} [{i}]" if len(spectra) > 1 else str(path),
                "format": meta.get("format"),
                "method": spectrum.method.value,
                "mineral": meta.get("mineral"),
                "rruff_id": meta.get("sample_id"),
                "laser_nm": meta.get("laser_nm"),
                "unit": spectrum.unit.value,
                "n_points": spectrum.n_points,
                "axis_min": float(spectrum.axis[0]),
                "axis_max": float(spectrum.axis[-1]),
            }
            if as_json:
                _print_json(row)
            else:
                table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    if not as_json and table.row_count:
        console.print(table)
    if failed:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------- models
@app.command("train")
def train_command(
    method: Annotated[str, typer.Option(help="raman or ir (any method with spectra in MinDB).")],
    model: Annotated[str, typer.Option(help="cnn, kan, library, svm, logreg or rf.")] = "library",
    name: Annotated[str | None, typer.Option(help="Registry name (default METHOD-MODEL).")] = None,
    min_spectra: Annotated[
        int, typer.Option(min=1, help="Only minerals with at least this many spectra.")
    ] = 1,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default model of the method.")
    ] = False,
    mixture: Annotated[
        bool,
        typer.Option(
            "--mixture",
            help="Also fit a mixture model (unmixing of rock-forming minerals) for "
            "identify --mixture.",
        ),
    ] = False,
    mixture_network: Annotated[
        bool,
        typer.Option(
            "--mixture-network/--no-mixture-network",
            help="With --mixture: also train the multi-label network (better; minutes).",
        ),
    ] = True,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Train a model on the spectra in MinDB and register it (a new version)."""
    from lithoscope.pipeline.train import train

    with _connect(database_url) as db:
        with err_console.status(f"Training {model} on {method} spectra...", spinner="dots"):
            result = train(
                db,
                method,
                model,
                name=name,
                min_spectra_per_mineral=min_spectra,
                make_default=default,
                mixture=mixture,
                mixture_network=mixture_network,
            )
    data = result.to_dict()
    if as_json:
        _print_json(data)
        return
    console.print(
        f"Registered {data['model']}: {data['n_spectra']} spectra of {data['n_minerals']} "
        f"minerals (dataset {data['dataset_version']}), trained in {data['seconds']:.1f} s."
    )


_SAMPLE_FILE = "spectrum of the sample; with other --METHOD files: one fused answer."


class GroupBy(StrEnum):
    """How `identify` forms measurements from the files it is given."""

    file = "file"
    sample = "sample"


@app.command("identify")
def identify_command(
    files: Annotated[list[Path] | None, typer.Argument(help="Spectrum files.")] = None,
    raman: Annotated[Path | None, typer.Option(help=f"A raman {_SAMPLE_FILE}")] = None,
    ir: Annotated[Path | None, typer.Option(help=f"An ir {_SAMPLE_FILE}")] = None,
    libs: Annotated[Path | None, typer.Option(help=f"A libs {_SAMPLE_FILE}")] = None,
    vnir: Annotated[Path | None, typer.Option(help=f"A vnir {_SAMPLE_FILE}")] = None,
    xrd: Annotated[Path | None, typer.Option(help=f"A xrd {_SAMPLE_FILE}")] = None,
    model: ModelRef = None,
    top: Annotated[int, typer.Option(min=1, help="Number of candidates.")] = 5,
    method: FileMethod = None,
    group_by: Annotated[
        GroupBy,
        typer.Option(
            "--group-by",
            help="file: each spectrum is a measurement; sample: the spectra of one sample "
            "(same sample ID, e.g. the RRUFF ID of the header) form one measurement, one "
            "fused answer.",
        ),
    ] = GroupBy.file,
    plot: Annotated[
        Path | None, typer.Option(help="Draw the spectrum over the best references (PNG).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --plot file.")
    ] = False,
    explain: Annotated[
        bool | None,
        typer.Option(
            "--explain/--no-explain",
            help="Add the explanation (default: with --json or --plot).",
        ),
    ] = None,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Confidence level of the prediction set.")
    ] = 0.9,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Spectra identified per model call.")
    ] = 256,
    body: Annotated[
        str | None,
        typer.Option(
            help="Where the sample is from (moon, mars, meteorite): minerals reported there "
            "rank higher, others are marked (never excluded)."
        ),
    ] = None,
    mixture: Annotated[
        list[Path] | None,
        typer.Option(
            help="A spectrum of a rock or mixture (repeatable): the minerals present with "
            "probability and vol %, and the rock name (needs a model trained with --mixture)."
        ),
    ] = None,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Which mineral is it? Candidates with probabilities, a conformal prediction set, an
    unknown verdict, an explanation (--json) and MinDB facts; with --mixture, the minerals of a
    rock, their abundances and the rock name."""
    import warnings

    from lithoscope.pipeline.identify import IdentifyCache, identify_batch
    from lithoscope.pipeline.registry import Registry
    from lithoscope.spectra.io import read_spectra
    from lithoscope.spectra.measurement import Context, Measurement, group_measurements

    if plot is not None and plot.exists() and not overwrite:
        raise LithoscopeError(f"--plot {plot} exists; choose another name or pass --overwrite")
    explain = (as_json or plot is not None) if explain is None else explain
    try:
        context = Context(body=body)
    except LithoscopeError as exc:
        raise LithoscopeError(f"--body: {exc}") from None
    if mixture:
        if files or raman or ir or libs or vnir or xrd:
            raise LithoscopeError(
                "--mixture takes the rock's spectra itself; give the other files in another call"
            )
        _identify_mixtures(mixture, method, model, context, plot, overwrite, database_url, as_json)
        return
    failed = 0
    measurements: list[Measurement] = []
    given = {"raman": raman, "ir": ir, "libs": libs, "vnir": vnir, "xrd": xrd}
    per_method = {name: path for name, path in given.items() if path is not None}
    files = list(files or [])
    if not files and not per_method:
        raise LithoscopeError(
            "give spectrum files, or one file per method with --raman/--ir/--libs/--vnir/--xrd"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if per_method:
            sample = _read_sample(per_method, context)
            if sample is None:
                failed += 1
            else:
                measurements.append(sample)
        grouped = []
        for path in _expand_folders(files):
            try:
                spectra = read_spectra(path, method=method)
            except LithoscopeError as exc:
                failed += 1
                _error(exc)
                continue
            if group_by is GroupBy.sample:
                grouped.extend(spectra)  # files of one sample (Raman, IR, ...) join up below
            else:
                for i, spectrum in enumerate(spectra):
                    label = str(path) if len(spectra) == 1 else f"{path}#{i + 1}"
                    measurements.append(Measurement.of(spectrum, name=label, context=context))
        if grouped:
            measurements.extend(group_measurements(grouped, context=context))
        _warn(caught)
    registry = Registry()
    bundles: dict[str, Any] = {}
    missing: dict[str, str] = {}
    usable = []
    for m in measurements:
        try:
            for meth in m.methods:
                if meth in missing and len(m) > 1 and meth == "libs":
                    continue
                if meth not in bundles:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        try:
                            bundles[meth] = registry.load(model, method=meth)[0]
                        except LithoscopeError as exc:
                            # LIBS beside other methods serves as chemistry evidence
                            if meth != "libs" or len(m) == 1:
                                raise
                            missing[meth] = str(exc)
                    _warn(caught)
        except LithoscopeError as exc:
            failed += 1
            _error(f"{m.name}: {exc}")
            continue
        usable.append(m)

    def bundle_of(meth: str) -> Any:
        if meth not in bundles:
            raise InputError(missing.get(meth) or f"no {meth} model")
        return bundles[meth]

    n_done = 0
    with _connect(database_url) as db:
        cache = IdentifyCache(db)
        for start in range(0, len(usable), batch_size):
            results = identify_batch(
                usable[start : start + batch_size],
                bundle_of,
                top=top,
                confidence=confidence,
                explain=explain,
                cache=cache,
            )
            for result in results:
                failed += _render_identification(result, as_json)
                if plot is not None and result.refused is None and not result.by_method:
                    n_done += 1
                    out = (
                        plot
                        if n_done == 1
                        else plot.with_name(f"{plot.stem}-{n_done}{plot.suffix}")
                    )
                    _plot(result, bundles, out, db, overwrite)
    if failed:
        raise typer.Exit(1)


def _identify_mixtures(
    paths: list[Path],
    method: Any,
    model: str | None,
    context: Any,
    plot: Path | None,
    overwrite: bool,
    database_url: str | None,
    as_json: bool,
) -> None:
    """``identify --mixture``: read, unmix, render (and plot) each spectrum."""
    import warnings

    from lithoscope.pipeline.mixture import identify_mixtures
    from lithoscope.pipeline.registry import Registry
    from lithoscope.spectra.io import read_spectra
    from lithoscope.spectra.measurement import Measurement

    failed = 0
    measurements = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in _expand_folders(paths):
            try:
                spectra = read_spectra(path, method=method)
            except LithoscopeError as exc:
                failed += 1
                _error(exc)
                continue
            for i, spectrum in enumerate(spectra):
                label = str(path) if len(spectra) == 1 else f"{path}#{i + 1}"
                measurements.append(Measurement.of(spectrum, name=label, context=context))
        registry = Registry()
        loaded: dict[str, Any] = {}

        def bundle_of(meth: str) -> Any:
            if meth not in loaded:
                loaded[meth] = registry.load(model, method=meth)[0]
            return loaded[meth]

        with _connect(database_url) as db:
            results = identify_mixtures(measurements, bundle_of, facts=db.summaries)
        _warn(caught)
    n_plots = 0
    for result in results:
        for text in result.warnings:
            err_console.print(f"warning: {result.input}: {text}", markup=False, soft_wrap=True)
        if result.refused is not None:
            failed += 1
            _error(f"{result.input}: not unmixed: {result.refused}")
        if as_json:
            _print_json(result.to_json())
        elif result.refused is None:
            _render_mixture(result.to_json())
        if plot is not None and result.refused is None:
            from lithoscope.pipeline.plots import plot_mixture

            n_plots += 1
            out = plot if n_plots == 1 else plot.with_name(f"{plot.stem}-{n_plots}{plot.suffix}")
            plot_mixture(result, out, overwrite=overwrite)
    if failed:
        raise typer.Exit(1)


def _render_mixture(data: dict[str, Any]) -> None:
    table = Table(title=f"{data['input']} ({data['method']} mixture, {data['model']})")
    chemistry = any(m.get("chemistry") for m in data["minerals"])
    columns = ("mineral", "present", "probability", "vol %", "+-", "formula")
    for col in (*columns, "chemistry mol %") if chemistry else columns:
        table.add_column(col)
    for m in data["minerals"]:
        row = [
            m["mineral"],
            "yes" if m["present"] else "possible",
            f"{m['present_probability']:.2f}",
            f"{m['abundance']:.1f}" if m["present"] else "-",
            f"{m['abundance_sd']:.1f}" if m["present"] else "-",
            m.get("formula") or "",
        ]
        if chemistry:
            sd = m.get("chemistry_sd") or {}
            row.append(
                ", ".join(
                    f"{k} {v:.0f}" + (f" +- {sd[k]:.0f}" if k in sd else "")
                    for k, v in (m.get("chemistry") or {}).items()
                )
            )
        table.add_row(*row)
    console.print(table)
    if data.get("prediction_set") is not None:
        console.print(
            f"{data['confidence_level']:.0%} set (minerals not ruled out): "
            + (", ".join(data["prediction_set"]) or "none")
        )
    rock = data.get("rock")
    if rock:
        console.print(f"[bold]{rock['name']}[/bold] ({rock['scheme']}, field {rock['field']})")
        for step in rock["reasoning"]:
            console.print(f"  - {step}", markup=False)


def _expand_folders(paths: list[Path]) -> list[Path]:
    """The files given, with each folder replaced by the files directly inside it (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = (p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            out.extend(sorted(inside))
        else:
            out.append(path)
    return out


def _read_sample(paths: dict[str, Path], context: Any) -> Any:
    """One measurement from one file per method (--raman a.txt --libs b.csv), or None."""
    from lithoscope.spectra.io import read_spectrum
    from lithoscope.spectra.measurement import Measurement

    spectra = {}
    for method, path in paths.items():
        try:
            spectra[method] = read_spectrum(path, method=method)
        except LithoscopeError as exc:
            _error(f"--{method}: {exc}")
            return None
    try:
        return Measurement(spectra, context)
    except LithoscopeError as exc:
        _error(exc)
        return None


def _error(message: object) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def _warn(caught: list[Any]) -> None:
    for w in caught:
        err_console.print(f"warning: {w.message}", markup=False, soft_wrap=True)


def _plot(result: Any, bundles: dict[str, Any], out: Path, db: Any, overwrite: bool) -> None:
    from lithoscope.pipeline.plots import plot_identification

    pipeline = bundles[result.method].part(result.method).pipeline
    plot_identification(
        result.spectrum,
        result.to_dict(),
        pipeline,
        out,
        db=db,
        attribution=result.attribution,
        overwrite=overwrite,
    )


def _render_identification(result: Any, as_json: bool) -> int:
    """Print one answer; 1 if it was refused (the command then exits 1), else 0."""
    data = result.to_dict()
    if result.refused is not None:
        _error(f"{result.input}: not identified: {result.refused}")
        if as_json:
            _print_json(data)
        return 1
    for parts in [result, *result.by_method.values()]:
        for text in parts.warnings:
            err_console.print(f"warning: {parts.input}: {text}", markup=False, soft_wrap=True)
    if as_json:
        _print_json(data)
        return 0
    if result.by_method:
        _render_answer(data)  # the fused answer first, then each method's
    for part in result.by_method.values() or [result]:
        _render_answer(part.to_dict())
    return 0


def _score_cell(candidate: dict[str, Any]) -> str:
    """The model's score, or for a fused answer each method's probability."""
    if "score" in candidate:
        return f"{candidate['score']:.3f}"
    per = candidate.get("by_method") or {}
    return ", ".join(f"{m} {p:.2f}" if p is not None else f"{m} -" for m, p in per.items())


def _render_answer(data: dict[str, Any]) -> None:
    table = Table(title=f"{data['input']} ({data['method']}, {data['model']})")
    for col in ("#", "mineral", "probability", "score", "formula", "found on", "note"):
        table.add_column(col)
    for rank, c in enumerate(data["candidates"], start=1):
        table.add_row(
            str(rank),
            c["mineral"],
            f"{c['probability']:.3f}",
            _score_cell(c),
            c.get("formula") or "",
            ", ".join(c.get("bodies") or []) or "-",
            c.get("note", ""),
        )
    console.print(table)
    group = data.get("group")
    if group is not None and group["level"] == "group":
        console.print(
            f"[bold]{group['name']}[/bold] ({group['probability']:.0%}): the spectrum does not "
            "separate its species; most likely " + ", ".join(group["species"][:4])
        )
    if data.get("prediction_set") is not None:
        console.print(
            f"{data['confidence_level']:.0%} prediction set: " + ", ".join(data["prediction_set"])
        )
    comp = data.get("composition")
    if comp:
        parts = [
            f"{k} {v:.0f} +- {comp[k + '_sd']:.0f}"
            for k, v in comp.items()
            if k != "method" and not k.endswith("_sd") and k + "_sd" in comp
        ]
        console.print(f"composition: {', '.join(parts)} ({comp['method']})")
    if data.get("unknown"):
        score = data["unknown_score"]
        because = f"score {score:.3f}" if score is not None else "too little of the range covered"
        console.print(
            f"[bold red]unknown[/bold red]: unlike every mineral in the library ({because}); "
            "the candidates are only the closest matches"
        )


@app.command("learn")
def learn_command(
    files: Annotated[list[Path], typer.Argument(help="1-5 spectrum files of the mineral.")],
    mineral: Annotated[str, typer.Option(help="Mineral name (IMA species).")],
    model: ModelRef = None,
    formula: Annotated[
        str | None, typer.Option(help="Formula, to add a mineral MinDB does not hold yet.")
    ] = None,
    method: FileMethod = None,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Teach a model a new mineral from a few spectra, in seconds, as a new model version."""
    import warnings

    from lithoscope.pipeline.learn import learn
    from lithoscope.spectra.io import SpectrumWarning, read_spectra

    spectra = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpectrumWarning)
        for path in files:
            spectra.extend(read_spectra(path, method=method))
    with _connect(database_url) as db:
        result = learn(db, mineral, spectra, model=model, formula=formula)
    data = result.to_dict()
    if as_json:
        _print_json(data)
        return
    console.print(
        f"{data['model']} now knows {data['mineral']} ({data['n_spectra']} spectra, "
        f"{data['seconds'] * 1000:.0f} ms); {data['parent']} stays loadable."
    )


# ---------------------------------------------------------------------------------- serve
@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each loads MinDB and the models once).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve identification, MinDB and the web page over HTTP (FastAPI + uvicorn).

    Writes (adding spectra, learn) need LITHOSCOPE_API_TOKEN; bodies are limited to
    LITHOSCOPE_MAX_UPLOAD_BYTES; other origins may call it only if LITHOSCOPE_CORS_ORIGINS
    lists them. OpenAPI document: /openapi.json, interactive: /docs.
    """
    from lithoscope.config import get_settings

    try:
        import uvicorn
    except ImportError:
        raise InputError(
            "serve needs the 'service' extra: pip install 'lithoscope[service]'"
        ) from None
    settings = get_settings()
    uvicorn.run(
        "lithoscope.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        ws_max_size=settings.max_upload_bytes,
    )


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Option("--data", help="Zip or folder of labelled spectra.")],
    model: Annotated[str | None, typer.Option(help="NAME or NAME@VERSION.")] = None,
    method: FileMethod = None,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Top-1, top-3 and macro-F1 of a model on labelled files (RRUFF ##NAMES)."""
    from lithoscope.pipeline.evaluate import evaluate

    with _connect(database_url) as db:
        result = evaluate(data, model=model, db=db, method=method)
    if as_json:
        _print_json(result)
        return
    if not result["n"]:
        console.print(f"No spectrum could be evaluated ({len(result['skipped'])} skipped).")
    else:
        console.print(
            f"{result['model']} on {result['n']} spectra: top-1 {result['top1']:.3f}, "
            f"top-3 {result['top3']:.3f}, macro-F1 {result['macro_f1']:.3f}"
        )
    if result["confused"]:
        table = Table(title="Most confused")
        for col in ("true", "predicted", "count"):
            table.add_column(col)
        for row in result["confused"][:10]:
            table.add_row(row["true"], row["predicted"], str(row["count"]))
        console.print(table)
    reasons = Counter(
        s["reason"].split(":")[0]
        if "not in the model" not in s["reason"]
        else "mineral not in the model's library"
        for s in result["skipped"]
    )
    for reason, count in reasons.most_common(5):
        console.print(f"skipped {count}: {reason}")


# ---------------------------------------------------------------------------------- chem
@app.command("chem")
def chem(
    formula: Annotated[str | None, typer.Argument(help="Formula, e.g. '(Mg,Fe)2SiO4'.")] = None,
    oxides: Annotated[
        str | None,
        typer.Option(help="Oxide wt%, e.g. 'SiO2=40.87,MgO=49.35,FeO=9.78' (instead of FORMULA)."),
    ] = None,
    basis: Annotated[
        str | None,
        typer.Option(
            help="Oxygen basis for --oxides: olivine, pyroxene, feldspar, ... or a number."
        ),
    ] = None,
    fe3: Annotated[
        str | None, typer.Option(help="Fe3+ estimation for --oxides: 'droop' (Droop 1987).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Stoichiometry of a formula, or a formula recalculated from oxide wt%."""
    from lithoscope.errors import InputError
    from lithoscope.mindb.chemistry import oxides_to_formula, parse_formula, parse_oxide_list

    if (formula is None) == (oxides is None):
        raise InputError("give either FORMULA or --oxides (not both, not neither)")
    if oxides is not None:
        if basis is None:
            raise InputError("--oxides needs --basis (e.g. olivine, pyroxene, feldspar, 8)")
        basis_value: str | float = basis
        try:
            basis_value = float(basis)
        except ValueError:
            pass
        kwargs = {"fe3_method": fe3} if fe3 else {}
        result = oxides_to_formula(parse_oxide_list(oxides), basis=basis_value, **kwargs)
        data = result.to_dict()
        if as_json:
            _print_json(data)
            return
        console.print(f"[bold]{data['formula_text']}[/bold]  (per {data['oxygens']:g} O)")
        table = Table(show_header=True)
        table.add_column("cation")
        table.add_column("apfu", justify="right")
        for el, n in data["cations"].items():
            table.add_row(el, f"{n:.4f}")
        console.print(table)
        if data.get("endmembers"):
            console.print(
                "end-members: " + ", ".join(f"{k} {v:.1f}" for k, v in data["endmembers"].items())
            )
        return
    if basis is not None or fe3 is not None:
        raise InputError("--basis and --fe3 go with --oxides, not with FORMULA")
    parsed = parse_formula(formula)  # type: ignore[arg-type]
    data = {
        "formula": parsed.text,
        "normalized": parsed.normalized,
        "composition": parsed.amounts,
        "molar_mass": parsed.molar_mass,
        "element_wt_percent": parsed.element_wt_percent(),
        "oxide_wt_percent": parsed.oxide_wt_percent(),
        "charge_residual": parsed.charge_residual,
        "valences": parsed.valences,
        "notes": parsed.notes,
    }
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]{parsed.normalized}[/bold]   molar mass {parsed.molar_mass:.3f} g/mol")
    table = Table()
    for col in ("element", "apfu", "wt%"):
        table.add_column(col, justify="right" if col != "element" else "left")
    wt = data["element_wt_percent"]
    for el, n in parsed.amounts.items():
        table.add_row(el, f"{n:g}", f"{wt[el]:.3f}")
    console.print(table)
    if data["oxide_wt_percent"]:
        console.print(
            "oxide wt%: " + "  ".join(f"{k} {v:.2f}" for k, v in data["oxide_wt_percent"].items())
        )
    console.print(f"charge residual: {parsed.charge_residual:+.3f}")
    for note in parsed.notes:
        console.print(f"note: {note}")


# ---------------------------------------------------------------------------------- libs
@libs_app.command("simulate")
def libs_simulate(
    formula: Annotated[str, typer.Argument(help="Formula, e.g. 'CuFeS2' or '(Mg,Fe)2SiO4'.")],
    temperature: Annotated[float, typer.Option(help="Plasma temperature, K.")] = 10000.0,
    ne: Annotated[float, typer.Option("--ne", help="Electron density, cm^-3.")] = 1e17,
    preset: Annotated[str, typer.Option(help="Instrument: handheld or supercam.")] = "handheld",
    self_absorption: Annotated[
        bool, typer.Option("--self-absorption", help="Correct optically thick lines.")
    ] = False,
    top: Annotated[int, typer.Option(help="Lines to list, strongest first (0: all).")] = 30,
    out: Annotated[
        Path | None, typer.Option(help="Write the spectrum to this .csv or .jdx file.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out.")] = False,
    mirror: Mirror = None,
    as_json: JsonFlag = False,
) -> None:
    """Simulate the LIBS spectrum of a formula (LTE plasma, Saha-Boltzmann, NIST lines)."""
    from lithoscope.errors import InputError
    from lithoscope.physics.libs import load_atomic_data, simulate

    if top < 0:
        raise InputError(f"--top {top}: expected a number of lines >= 0 (0: all)")
    if out is not None and out.exists() and not overwrite:
        raise InputError(
            f"--out {out}: already exists; pass --overwrite to replace it or choose another path"
        )
    result = simulate(
        formula,
        temperature=temperature,
        ne=ne,
        preset=preset,
        self_absorption=self_absorption,
        atomic=load_atomic_data(mirror=mirror),
    )
    data = result.to_dict(max_lines=top or None)
    if out is not None:
        from lithoscope.spectra.io.writers import write_spectrum

        try:
            data["out"] = str(write_spectrum(result.spectrum, out, overwrite=overwrite))
        except ValueError as exc:  # an unknown suffix; InputError is a ValueError too
            raise InputError(f"--out {out}: {exc}") from None
    if as_json:
        _print_json(data)
        return
    plasma = result.plasma
    console.print(
        f"[bold]{formula}[/bold]  T = {plasma.temperature:g} K, ne = {plasma.ne:.3g} cm^-3, "
        f"preset {data['preset']}"
    )
    table = Table()
    for col in ("element", "ion", "wavelength nm", "intensity"):
        table.add_column(col, justify="left" if col == "element" else "right")
    for line in data["lines"]:
        stage = "I" * line["ion"]
        table.add_row(
            line["element"], stage, f"{line['wavelength_nm']:.3f}", f"{line['intensity']:.4g}"
        )
    console.print(table)
    if data["elements_without_lines"]:
        console.print("no line data for: " + ", ".join(data["elements_without_lines"]))
    if out is not None:
        console.print(f"spectrum written to {data['out']}")


@libs_app.command("elements")
def libs_elements(
    file: Annotated[Path, typer.Argument(help="LIBS spectrum (CSV, TXT or JCAMP; nm axis).")],
    temperature: Annotated[
        float | None, typer.Option(help="Plasma temperature, K (default: fitted).")
    ] = None,
    min_confidence: Annotated[
        float, typer.Option(help="Confidence from which an element counts as detected.")
    ] = 0.5,
    mirror: Mirror = None,
    as_json: JsonFlag = False,
) -> None:
    """Detect the elements of a LIBS spectrum by line matching, with confidences and ratios."""
    import warnings

    from lithoscope.physics.libs import detect_elements, load_atomic_data
    from lithoscope.spectra.io import SpectrumWarning, read_spectrum

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpectrumWarning)
        spectrum = read_spectrum(file, method="libs")
    for w in caught:
        err_console.print(f"warning: {w.message}", markup=False, soft_wrap=True)
    result = detect_elements(
        spectrum,
        temperature=temperature,
        min_confidence=min_confidence,
        atomic=load_atomic_data(mirror=mirror),
    )
    data = {"file": str(file), **result.to_dict()}
    if as_json:
        _print_json(data)
        return
    console.print(
        f"[bold]{file}[/bold]  {data['n_peaks']} peaks, T = {data['temperature_k']:g} K, "
        f"line width {data['fwhm_nm']:.3g} nm"
    )
    table = Table()
    for col in ("element", "confidence", "ratio", "matched lines"):
        table.add_column(col, justify="right" if col in ("confidence", "ratio") else "left")
    for el in data["elements"]:
        ratio = "ambient" if el["ratio"] is None else f"{el['ratio']:.3f}"
        table.add_row(
            el["element"], f"{el['confidence']:.2f}", ratio, ", ".join(el["matched_lines"][:4])
        )
    console.print(table)


_OS_ERROR_FIXES = {
    errno.EACCES: "make it writable or set LITHOSCOPE_DATA_DIR to a folder you can write to",
    errno.EPERM: "make it writable or set LITHOSCOPE_DATA_DIR to a folder you can write to",
    errno.EROFS: "the file system is read-only; set LITHOSCOPE_DATA_DIR to a writable folder",
    errno.ENOSPC: "free some disk space or set LITHOSCOPE_DATA_DIR to another disk",
    errno.EDQUOT: "free some space (quota) or set LITHOSCOPE_DATA_DIR to another disk",
    errno.ENOTDIR: "a file stands where a folder is needed; move it away or choose another path",
    errno.EEXIST: "a file stands where a folder is needed; move it away or choose another path",
    errno.EISDIR: "a folder stands where a file is needed; choose another path",
}


def _rock_modes(pairs: list[str]) -> dict[str, float]:
    """``["olivine=60", ...]`` -> ``{"olivine": 60.0}``; bad syntax is a one-line error."""
    modes: dict[str, float] = {}
    for pair in pairs:
        mineral, sep, percent = pair.rpartition("=")
        try:
            value = float(percent.strip().removesuffix("%"))
        except ValueError:
            value = None
        if not sep or not mineral.strip() or value is None:
            raise InputError(f"--mode {pair!r}: expected MINERAL=PERCENT, e.g. --mode olivine=60")
        if mineral.strip() in modes:
            raise InputError(f"--mode {pair!r}: {mineral.strip()} is given twice; give it once")
        modes[mineral.strip()] = value
    return modes


@rock_app.command("name")
def rock_name(
    mode: Annotated[
        list[str],
        typer.Option("--mode", help="MINERAL=PERCENT (vol %); repeat for each mineral."),
    ],
    body: Annotated[
        str | None, typer.Option(help="moon, mars or meteorite: name by planetary classes.")
    ] = None,
    an: Annotated[float | None, typer.Option("--an", help="Plagioclase An, mol %.")] = None,
    fa: Annotated[float | None, typer.Option("--fa", help="Olivine Fa, mol %.")] = None,
    fs: Annotated[float | None, typer.Option("--fs", help="Low-Ca pyroxene Fs, mol %.")] = None,
    volcanic: Annotated[
        bool, typer.Option("--volcanic", help="Volcanic QAPF names (basalt, rhyolite ...).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Name a rock from its mode and mineral chemistry (IUGS, lunar, Martian, meteorite)."""
    from rich.markup import escape

    from lithoscope.rocks import name_rock

    rock = name_rock(
        _rock_modes(mode),
        body=body,
        plagioclase_an=an,
        olivine_fa=fa,
        pyroxene_fs=fs,
        volcanic=volcanic,
    )
    if as_json:
        _print_json(rock.to_json())
        return
    field = f", field {rock.field}" if rock.field else ""
    console.print(f"[bold]{escape(rock.name)}[/bold]  ({escape(rock.scheme)}{escape(field)})")
    for i, step in enumerate(rock.reasoning, start=1):
        console.print(f"  {i}. {step}", markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------- pipeline
pipeline_app = typer.Typer(
    help="Config-driven runs: fetch, ingest, dataset, train, calibrate, evaluate, register, "
    "report; each step cached by the hash of its inputs.",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("run")
def pipeline_run_command(
    config: Annotated[Path, typer.Argument(help="A YAML config (see configs/).")],
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Run this step even if cached (repeat; 'all' for every)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop after this step.")] = None,
    database_url: DbUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a pipeline config; unchanged steps are reused, and it says which."""
    from lithoscope.pipeline.runner import run_pipeline

    def progress(step: str, status: str, detail: str) -> None:
        if status == "start":
            err_console.print(f"{step:<10} running...", markup=False, highlight=False)
        elif status == "cached":
            err_console.print(f"{step:<10} cached (inputs unchanged, {detail})", markup=False)
        elif status == "promoted":
            err_console.print(f"{step:<10} promoted {detail}", markup=False)
        else:
            err_console.print(f"{step:<10} done in {detail}", markup=False, highlight=False)

    result = run_pipeline(
        config, force=force or (), until=until, database_url=database_url, progress=progress
    )
    data = result.to_dict()
    if as_json:
        _print_json(data)
        return
    if not result.ran:
        console.print(f"Nothing to do: every step of {data['name']} is cached.", markup=False)
    else:
        console.print(f"Ran {', '.join(result.ran)}.", markup=False)
    if data.get("model"):
        console.print(f"Model: {data['model']}", markup=False)
    metrics = data.get("metrics") or {}
    if metrics:
        table = Table("metric", "value")
        for key, value in metrics.items():
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
        console.print(table)
    if data.get("report"):
        console.print(f"Report: {data['report']}", markup=False, soft_wrap=True)
    # paths are printed whole, for copying, however narrow the terminal
    console.print(f"Run summary: {data['run_dir']}/summary.json", markup=False, soft_wrap=True)


@pipeline_app.command("check")
def pipeline_check_command(
    config: Annotated[Path, typer.Argument(help="A YAML config (see configs/).")],
    as_json: JsonFlag = False,
) -> None:
    """Check a config against the schema and print it with every default filled in."""
    from lithoscope.pipeline.run_config import load_config

    loaded = load_config(config)
    if as_json:
        _print_json({**loaded.to_dict(), "config_sha256": loaded.sha256()})
        return
    import yaml

    console.print(yaml.safe_dump(loaded.to_dict(), sort_keys=False).rstrip(), markup=False)
    console.print(f"# config sha256 {loaded.sha256()}", markup=False)


# ---------------------------------------------------------------------------------- map
map_app = typer.Typer(
    help="Spectral maps (rows x cols x channels): identify every pixel on Dask.",
    no_args_is_help=True,
)
app.add_typer(map_app, name="map")


@map_app.command("identify")
def map_identify(
    cube: Annotated[Path, typer.Argument(help="A map: .h5/.hdf5, .zarr or Renishaw .wdf.")],
    model: ModelRef = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a Dask scheduler (tcp://HOST:8786); default: a local cluster of "
            "--workers processes; 'synchronous': no cluster, in this process."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Workers of the local cluster.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for CUBE.zarr (labelled maps) and CUBE.png (default: CUBE-map)."),
    ] = None,
    method: FileMethod = None,
    mixture: Annotated[
        bool, typer.Option("--mixture", help="Also the abundance (vol %) of each mineral.")
    ] = False,
    chunk_pixels: Annotated[int, typer.Option(min=1, help="Pixels per Dask task.")] = 4096,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing outputs.")
    ] = False,
) -> None:
    """Identify every pixel of a spectral map: mineral, probability, unknown (and with --mixture
    abundances) written to Zarr, and a PNG mineral map with a legend."""
    import contextlib

    from rich.progress import Progress

    from lithoscope.pipeline.maps import identify_map, open_cube, plot_map

    arr = open_cube(cube, method=method, chunk_pixels=chunk_pixels)
    folder = out or Path(f"{cube.stem}-map")
    store, png = folder / f"{cube.stem}.zarr", folder / f"{cube.stem}.png"
    for path in (store, png):
        if path.exists() and not overwrite:
            raise LithoscopeError(f"{path} exists; choose another --out or pass --overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        client = None
        if scheduler == "synchronous":
            import dask

            stack.enter_context(dask.config.set(scheduler="synchronous"))
        else:
            from distributed import Client, LocalCluster

            if scheduler is None:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address="127.0.0.1:0",
                    )
                )
                client = stack.enter_context(Client(cluster))
                err_console.print(f"Dask dashboard: {client.dashboard_link}", markup=False)
            else:
                try:
                    client = stack.enter_context(Client(scheduler, timeout=10))
                except OSError as exc:
                    raise LithoscopeError(
                        f"--scheduler {scheduler}: cannot connect ({exc}); check the address"
                    ) from None
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task(f"{cube.name}: {arr.shape[0]} x {arr.shape[1]} pixels", total=None)
            ds = identify_map(
                arr,
                model,
                client=client,
                chunk_pixels=chunk_pixels,
                mixture=mixture,
                out=store,
                overwrite=overwrite,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    plot_map(store, png, overwrite=overwrite)
    classes = ds.attrs["classes"]
    mineral = ds["mineral"].values
    unknown = ds["unknown"].values
    counts = Counter(
        "unknown / refused" if u or m < 0 else classes[m]
        for m, u in zip(mineral.ravel(), unknown.ravel(), strict=True)
    )
    table = Table(title=f"{cube.name} ({ds.attrs['model']})")
    table.add_column("mineral")
    table.add_column("pixels", justify="right")
    table.add_column("share", justify="right")
    for name, n in counts.most_common():
        table.add_row(name, str(n), f"{n / mineral.size:.1%}")
    console.print(table)
    console.print(f"labelled maps: {store}\nmineral map: {png}", markup=False, highlight=False)


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system error that escaped the library: path, reason, fix."""
    path = exc.filename if exc.filename is not None else exc.filename2
    target = f" {path}" if path is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _OS_ERROR_FIXES:
        return f"cannot write{target}: {reason}; {_OS_ERROR_FIXES[exc.errno]}"
    return f"cannot access{target}: {reason}; check the path and its permissions"


def _database_error_line(exc: Exception) -> str | None:
    """One line for a database error that escaped the library, or None if it is not one.

    sqlalchemy is looked up, not imported: commands that never opened MinDB stay fast.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig if exc.orig is not None else exc
    detail = (str(orig).strip().splitlines() or [""])[0]
    return (
        f"MinDB refused the operation ({type(orig).__name__}: {detail}); retry (another "
        "lithoscope may have been writing), and if it persists check the database with "
        "'lithoscope db info'"
    )


def _fail(line: str, code: int = 1) -> NoReturn:
    err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)


# ---------------------------------------------------------------------------------- models group
models_app = typer.Typer(
    help="Registered models: list, show (lineage), promote, export for instrument computers.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list_command(as_json: JsonFlag = False) -> None:
    """Registered model names, their complete versions and the default of each method
    (a name follows its newest version; a promoted default is pinned to one version)."""
    from lithoscope.pipeline.registry import Registry

    registry = Registry()
    defaults = registry.defaults()
    default_models = registry.default_models()
    rows = [
        {
            "name": name,
            "versions": registry.versions(name),
            "default_for": sorted(m for m, spec in defaults.items() if spec.split("@")[0] == name),
        }
        for name in registry.names()
    ]
    if as_json:
        _print_json({"models": rows, "defaults": defaults, "default_models": default_models})
        return
    if not rows:
        console.print("No models yet; train one with 'lithoscope train --method raman'.")
        return
    table = Table("name", "versions", "default for")
    for row in rows:
        table.add_row(
            row["name"],
            ", ".join(map(str, row["versions"])),
            ", ".join(
                f"{m} (pinned @{default_models[m]['spec'].split('@')[1]})"
                if default_models[m]["pinned"]
                else m
                for m in row["default_for"]
            ),
        )
    console.print(table, markup=False)


@models_app.command("show")
def models_show_command(
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION]", help="The model.")],
    as_json: JsonFlag = False,
) -> None:
    """A model's methods, classes, estimator, provenance and lineage (dataset, config, code
    version, metrics, and its MLflow run, version and aliases when tracked)."""
    from lithoscope._files import jsonable
    from lithoscope.pipeline.registry import Registry
    from lithoscope.pipeline.tracking import lineage

    registry = Registry()
    bundle, ref = registry.load(spec)
    data = {
        "model": str(ref),
        "path": str(ref.path),
        "methods": {
            m: {
                "kind": type(p.estimator).__name__,
                "classes": len(p.classes),
                "grid_points": int(p.grid.size),
                "calibrated": p.calibrated,
            }
            for m, p in bundle.parts.items()
        },
        "provenance": bundle.provenance,
        "lineage": lineage(ref, registry=registry),
    }
    if as_json:
        _print_json(jsonable(data))
        return
    console.print(f"{data['model']}  ({data['path']})", markup=False)
    for m, info in data["methods"].items():
        console.print(
            f"  {m}: {info['kind']}, {info['classes']} classes, {info['grid_points']} grid "
            f"points, {'calibrated' if info['calibrated'] else 'not calibrated'}",
            markup=False,
        )
    lin = data["lineage"]
    console.print(f"  dataset: {lin['dataset_version']}", markup=False)
    if lin["default_for"]:
        console.print(f"  default for: {', '.join(lin['default_for'])}", markup=False)
    console.print(f"  code: {lin['code_version']}", markup=False)
    for key in ("config", "metrics"):
        if lin.get(key) is not None:
            console.print(f"  {key}:", markup=False)
            for name, value in _flat_items(jsonable(lin[key])):
                console.print(f"    {name}: {value}", markup=False, soft_wrap=True)
    tracked = lin["mlflow"]
    if tracked["tracked"]:
        console.print(f"  mlflow: {tracked['tracking_uri']}", markup=False)
        console.print(f"    version: {tracked['model_version']}", markup=False)
        console.print(f"    run: {tracked.get('run_id')}", markup=False)
        console.print(f"    aliases: {', '.join(tracked['aliases']) or 'none'}", markup=False)
    else:
        console.print(f"  mlflow: not tracked ({tracked['note']})", markup=False)


def _flat_items(doc: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, readable value)`` of a nested JSON document, numbers to 4 digits."""
    if isinstance(doc, dict):
        out: list[tuple[str, str]] = []
        for k in sorted(doc):
            out.extend(_flat_items(doc[k], f"{prefix}{k}."))
        return out
    if isinstance(doc, float):
        text = f"{doc:.4g}"
    elif isinstance(doc, str):
        text = doc
    else:
        text = json.dumps(doc)
    return [(prefix.rstrip("."), text)]


@models_app.command("promote")
def models_promote_command(
    spec: Annotated[str, typer.Argument(metavar="NAME@VERSION", help="The version to promote.")],
    method: Annotated[
        str | None, typer.Option(help="Pin only this method's default (default: all of them).")
    ] = None,
    alias: Annotated[str, typer.Option(help="MLflow alias set on the version.")] = "production",
    as_json: JsonFlag = False,
) -> None:
    """Pin the default model of the version's methods to exactly NAME@VERSION, so identify
    without --model uses it, and set the MLflow alias on it when MLflow tracks it."""
    from lithoscope.pipeline.tracking import promote

    result = promote(spec, method=method, alias=alias)
    if as_json:
        _print_json(result.to_dict())
        return
    console.print(f"Promoted {result}: default for {', '.join(result.methods)}.", markup=False)
    tracked = result.mlflow
    if tracked["alias_set"]:
        console.print(
            f"MLflow: alias '{result.alias}' -> {result.name} version "
            f"{tracked['model_version']} ({tracked['tracking_uri']}).",
            markup=False,
        )
    else:
        console.print(f"MLflow: {tracked['note']}.", markup=False)


@models_app.command("export")
def models_export_command(
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION]", help="The model.")],
    out: Annotated[Path, typer.Option(help="New folder to write (must not exist).")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    method: Annotated[
        str | None, typer.Option(help="Method to export (default: the model's only one).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Export a model for an instrument computer (ONNX, run by onnxruntime alone)."""
    from lithoscope.pipeline.export import EXPORT_FORMATS, export_onnx
    from lithoscope.pipeline.registry import Registry

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    bundle, _ = Registry().load(spec)
    if method is None:
        if len(bundle.methods) > 1:
            raise InputError(
                f"model {bundle.name} identifies {', '.join(bundle.methods)}; pick one with "
                "--method"
            )
        method = bundle.methods[0]
    path = export_onnx(bundle, method, out)
    data = {
        "model": bundle.name,
        "method": method,
        "format": fmt,
        "path": str(path.parent),
        "files": sorted(p.name for p in path.parent.iterdir()),
        "bytes": sum(p.stat().st_size for p in path.parent.iterdir()),
    }
    if as_json:
        _print_json(data)
        return
    console.print(
        f"Exported {data['model']} ({method}) to {data['path']}: "
        f"{', '.join(data['files'])} ({data['bytes'] / 1e6:.1f} MB).",
        markup=False,
    )


def main() -> None:
    """Entry point of the ``lithoscope`` command: bad input is one line on stderr, exit 1."""
    try:
        app()
    except LithoscopeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # the reader of stdout went away (| head): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as exc:
        _fail(_os_error_line(exc))
    except Exception as exc:
        line = _database_error_line(exc)
        if line is None:
            raise
        _fail(line)


if __name__ == "__main__":
    main()
