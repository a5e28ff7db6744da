"""Several users of one MinDB at the same moment: writers, learners and readers in parallel.

Three processes ingest overlapping folders of real RRUFF Raman spectra, two processes ``learn``
a new mineral each on the same library model, and two processes read in a loop (``db.info``,
spectra loading, the lookups ``identify`` makes) while they write. Every process starts on the
same "go" file, after its imports and its connection, so the race is real. Each child opens
the database through its own spelling of the URL (another ``application_name`` on PostgreSQL,
a symlinked folder for SQLite), as separate services and users would.

Afterwards: every spectrum is stored exactly once, the content equals a sequential run of the
same work, each reader only ever saw whole transactions (a writer's spectra all or none) and
states that never went backwards, and both learned minerals are in the newest model version
and in MinDB.

Two narrower tests pin the fixes this race found: the writers' lock is one per database
whatever the URL (it was a hash of the URL on PostgreSQL: two spellings wrote at once and one
failed with an IntegrityError), and a writer holding a long transaction blocks no reader (SQLite
readers failed with "database is locked" before MinDB's files were put in WAL mode) and, once
killed, no writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from lithoscope.data.ingest import ingest_spectra
from lithoscope.mindb import MineralNotFound, connect
from lithoscope.mindb.db import _normalise_url, db_lock, safe_url
from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.learn import learn
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.io import read_spectrum
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict

N_FILES = 36  # distinct RRUFF files shared out among the writers
N_BULK = 120  # the folder of a writer that holds its transaction open
#: file indices of each writer's folder: overlapping ranges, and writer 2 wraps to the start
SHARES = [range(0, 18), range(12, 30), [*range(24, 36), *range(0, 6)]]
LEARNED = ("Lithoscopeite-A", "Lithoscopeite-B")  # not in MinDB, not among ingested labels
LEARN_SOURCE = "lithoscope learn (user spectra)"

_PRELUDE = """
import json, sys, time
from pathlib import Path
from lithoscope.mindb import MineralNotFound, connect
{imports}
url, go = sys.argv[1], Path(sys.argv[2])
db = connect(url)
print("ready", flush=True)
while not go.exists():  # everyone starts together: the race is real, not staggered
    time.sleep(0.002)
"""


def _script(imports: str, body: str) -> str:
    """A child: imports and connection first, then it waits for "go" and runs ``body``."""
    return _PRELUDE.format(imports=textwrap.dedent(imports)) + textwrap.dedent(body)


_WRITER = _script(
    "from lithoscope.data.ingest import ingest_spectra",
    """
    folder = Path(sys.argv[3])
    report = ingest_spectra(db, folder, source_name=f"RRUFF {folder.name}", progress=False)
    print(json.dumps(report.to_dict()), flush=True)
    """,
)

_LEARNER = _script(
    """
    from lithoscope.pipeline.learn import learn
    from lithoscope.spectra.io import read_spectrum
    """,
    """
    mineral, files = sys.argv[3], sys.argv[4:]
    spectra = [read_spectrum(f) for f in files]
    result = learn(db, mineral, spectra, model="lib", formula="Mg2SiO4")
    print(json.dumps(result.to_dict()), flush=True)
    """,
)

# Every loop: the spectra as one query (ids per source and per learned mineral: a transaction
# seen by halves would show), db.info() and the lookups of an identification. Any exception
# ends the reader with a traceback and a non-zero code.
_READER = _script(
    "import numpy as np",
    """
    stop, learned = Path(sys.argv[3]), sys.argv[4:]
    seen = []
    while True:
        last = stop.exists()  # one more full loop after the writers are done
        # before the spectra: a learned mineral seen here must have its spectra seen below
        cards = db.summaries(["Forsterite", *learned])
        stored = db.spectra_arrays(method="raman")
        checksums = [m["checksum"] for m in stored.metadata]
        assert len(set(checksums)) == len(checksums), "a checksum stored twice"
        for axis, y in zip(stored.axes, stored.intensities):
            assert axis.shape == y.shape and axis.size > 10 and np.isfinite(y).all()
        by_source, by_learned = {}, {}
        for m in stored.metadata:
            by_source.setdefault(m["source"], []).append(m["spectrum_id"])
            if m["mineral"] in learned:
                by_learned.setdefault(m["mineral"], []).append(m["spectrum_id"])
        info = db.info()
        groups = db.species_groups(["Forsterite", *learned])
        assert "Forsterite" in cards and groups.get("Forsterite") == "olivine"
        seen.append(
            {
                "by_source": by_source,
                "by_learned": by_learned,
                "raman": info["spectra"]["raman"],
                "minerals": info["minerals"],
                "cards": sorted(n for n in learned if n in cards),
            }
        )
        if last:
            break
        time.sleep(0.01)  # leave the two cores to the writers now and then
    db.close()
    print(json.dumps(seen), flush=True)
    """,
)


# ---------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def rruff_files(shared_data, tmp_path_factory):
    """(36 ingest files, {learned name: 2 files}, a folder of 120): real RRUFF Raman spectra.

    The ingest files are one per mineral at 532 nm; the learners' files are of two other
    minerals; the folder holds the first 120 files of the zip.
    """
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    root = tmp_path_factory.mktemp("rruff")
    by_mineral: dict[str, list[str]] = defaultdict(list)
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            m = re.match(r"([^_]+)__[RX]\d{6}__Raman__532__", name)
            if m:
                by_mineral[m.group(1)].append(name)
        minerals = sorted(by_mineral)
        picked = minerals[:: len(minerals) // N_FILES][:N_FILES]  # spread over the alphabet
        members = [by_mineral[m][0] for m in picked]
        # the learners' spectra: two minerals of their own, two files each
        others = [m for m in minerals if m not in picked and len(by_mineral[m]) >= 2]
        learn_members = {
            name: by_mineral[m][:2] for name, m in zip(LEARNED, others[:2], strict=True)
        }
        files = []
        for member in members:
            path = root / member
            path.write_bytes(zf.read(member))
            files.append(path)
        learn_files = {}
        for name, pair in learn_members.items():
            learn_files[name] = []
            for member in pair:
                path = root / "learn" / member
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(zf.read(member))
                learn_files[name].append(path)
        bulk = root / "bulk"
        bulk.mkdir()
        for member in [n for n in zf.namelist() if n.endswith(".txt")][:N_BULK]:
            (bulk / member).write_bytes(zf.read(member))
    assert len(files) == N_FILES and len(learn_files) == 2
    return files, learn_files, bulk


def _folders(files: list[Path], root: Path) -> list[Path]:
    """The writers' folders; writer 2 also holds one file twice under another name."""
    folders = []
    for k, share in enumerate(SHARES):
        folder = root / f"writer{k}"
        folder.mkdir()
        for i in share:
            (folder / files[i].name).write_bytes(files[i].read_bytes())
        folders.append(folder)
    (folders[2] / "copy_of_first.txt").write_bytes(files[SHARES[2][0]].read_bytes())
    return folders


def _tiny_model(files: list[Path], registry: Registry) -> None:
    """A library model of the ingest files (one reference per mineral), registered as 'lib'."""
    spectra = [read_spectrum(f) for f in files]
    pipe = make_preset("raman")
    X = pipe.fit_transform(spectra)
    y = np.array([s.metadata["mineral"] for s in spectra])
    model = LibrarySearch(axis=np.asarray(pipe.steps[0][1].grid)).fit(X, y)
    bundle = single_method("raman", model, pipeline_to_dict(pipe), provenance={"config": {}})
    registry.register(bundle, "lib")


def _spellings(url: str, tmp_path: Path, n: int) -> list[str]:
    """``n`` URLs of the same database, spelled differently (as different services would)."""
    if url.startswith("sqlite"):
        db_file = Path(url.removeprefix("sqlite:///"))
        link = tmp_path / "via-link"
        link.symlink_to(db_file.parent, target_is_directory=True)
        other = f"sqlite:///{link / db_file.name}"
        return [url if k % 2 == 0 else other for k in range(n)]
    return [url] + [f"{url}?application_name=lithoscope-{k}" for k in range(1, n)]


# ---------------------------------------------------------------------------------- helpers
def _start(script: str, url: str, go: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, url, str(go), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc


def _wait_ready(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"child did not start: {line!r} {proc.communicate()[1][-2000:]}")


def _finish(proc: subprocess.Popen, what: str):
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, f"{what} failed: {err.strip()[-3000:]}"
    return json.loads(out)


def _content(url: str) -> dict[str, tuple]:
    """checksum -> what identifies a stored spectrum apart from which run stored it first."""
    engine = create_engine(_normalise_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.checksum, s.label, s.method, s.sample_id, s.filename, s.n_points,"
                    " s.axis, s.intensities, m.name, g.name FROM spectra s"
                    " LEFT JOIN minerals m ON m.id = s.mineral_id"
                    " LEFT JOIN mineral_groups g ON g.id = s.group_id"
                )
            ).all()
    finally:
        engine.dispose()
    out = {}
    for checksum, label, method, sample, filename, n, axis, y, mineral, group in rows:
        digest = hashlib.sha256(bytes(axis) + bytes(y)).hexdigest()
        assert checksum not in out, f"checksum {checksum} stored twice"
        out[checksum] = (label, method, sample, filename, n, digest, mineral, group)
    return out


def _ids_by(url: str) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Final spectrum ids per source, and per learned mineral."""
    with connect(url) as db:
        stored = db.spectra_arrays(method="raman")
    by_source: dict[str, set[int]] = defaultdict(set)
    by_learned: dict[str, set[int]] = defaultdict(set)
    for m in stored.metadata:
        by_source[m["source"]].add(m["spectrum_id"])
        if m["mineral"] in LEARNED:
            by_learned[m["mineral"]].add(m["spectrum_id"])
    return dict(by_source), dict(by_learned)


def _sequential_reference(folders, learn_files, files, tmp_path) -> str:
    """The same work, one step after the other, in a database of its own."""
    url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    registry = Registry(tmp_path / "reference-models")
    _tiny_model(files, registry)
    with connect(url) as db:
        db.build()
        for folder in folders:
            ingest_spectra(db, folder, source_name=f"RRUFF {folder.name}", progress=False)
        for name, pair in learn_files.items():
            spectra = [read_spectrum(f) for f in pair]
            learn(db, name, spectra, model="lib", formula="Mg2SiO4", registry=registry)
    return url


# ---------------------------------------------------------------------------------- the race
def test_writers_learners_and_readers_at_once(db_url, rruff_files, tmp_path):
    files, learn_files, _ = rruff_files
    folders = _folders(files, tmp_path)
    with connect(db_url) as db:
        db.build()
        before = db.info()
    _tiny_model(files, Registry())  # the default registry of the isolated data folder
    go, stop = tmp_path / "go", tmp_path / "stop"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    urls = iter(_spellings(db_url, tmp_path, 7))

    writers = [_start(_WRITER, next(urls), go, str(f), env=env) for f in folders]
    learners = [
        _start(_LEARNER, next(urls), go, name, *map(str, pair), env=env)
        for name, pair in learn_files.items()
    ]
    readers = [_start(_READER, next(urls), go, str(stop), *LEARNED, env=env) for _ in range(2)]
    for proc in [*writers, *learners, *readers]:
        _wait_ready(proc)
    started = time.perf_counter()
    go.touch()
    reports = [_finish(p, f"writer {k}") for k, p in enumerate(writers)]
    learned = [_finish(p, f"learner {k}") for k, p in enumerate(learners)]
    writes_took = time.perf_counter() - started
    stop.touch()
    seen = [_finish(p, f"reader {k}") for k, p in enumerate(readers)]

    # -- nothing lost, nothing twice: each file counted by exactly one writer as ingested
    for report, folder in zip(reports, folders, strict=True):
        n_files = len(list(folder.iterdir()))
        assert report["failed"] == [] and report["files"] == n_files
        assert report["ingested"] + report["already_present"] + report["duplicates"] == n_files
    assert sum(r["ingested"] for r in reports) == N_FILES
    content = _content(db_url)
    checksums = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert checksums <= set(content)
    assert len(content) == N_FILES + sum(len(p) for p in learn_files.values())

    # -- the same content as the same work done one step after the other
    reference = _sequential_reference(folders, learn_files, files, tmp_path)
    assert content == _content(reference)
    with connect(db_url) as db, connect(reference) as ref:
        raced_info, ref_info = db.info(), ref.info()
        assert {k: v for k, v in raced_info.items() if k != "database"} == {
            k: v for k, v in ref_info.items() if k != "database"
        }
        assert raced_info["minerals"] == before["minerals"] + len(LEARNED)
        for name in LEARNED:
            assert db.resolve(name) == ("mineral", name)

    # -- both learn runs registered: two versions in a chain, the newest knows both minerals
    by_model = {r["model"]: r for r in learned}
    assert sorted(by_model) == ["lib@2", "lib@3"]
    assert by_model["lib@2"]["parent"] == "lib@1" and by_model["lib@3"]["parent"] == "lib@2"
    assert all(r["mineral_added_to_mindb"] for r in learned)
    bundle, ref_model = Registry().load(method="raman")
    assert str(ref_model) == "lib@3"
    assert set(LEARNED) <= set(bundle.part("raman").classes.tolist())

    # -- readers: never an error (checked by their exit code), only whole transactions,
    # never a step back
    final_sources, final_learned = _ids_by(db_url)
    assert set(final_sources) == {f"RRUFF {f.name}" for f in folders} | {LEARN_SOURCE}
    states = set()
    for loops in seen:
        assert len(loops) >= 2
        previous: set[int] = set()
        previous_counts = (0, 0)
        for loop in loops:
            ids = set()
            for source, got in loop["by_source"].items():
                assert source in final_sources, source
                if source != LEARN_SOURCE:  # one ingest = one transaction
                    assert set(got) == final_sources[source], f"{source} seen by halves"
                ids |= set(got)
            for name, got in loop["by_learned"].items():
                assert set(got) == final_learned[name], f"spectra of {name} seen by halves"
            assert set(loop["cards"]) <= set(loop["by_learned"]), "a mineral without spectra"
            assert previous <= ids, "a reader saw stored spectra disappear"
            counts = (loop["raman"], loop["minerals"])
            assert all(a >= b for a, b in zip(counts, previous_counts, strict=True))
            assert loop["raman"] >= len(ids)
            previous, previous_counts = ids, counts
            states.add(frozenset(ids))
        assert previous == set().union(*final_sources.values())  # the last loop saw it all
    assert len(states) >= 2, "the readers never saw a write happen"
    print(
        f"\n{db_url.split(':')[0]}: writes done in {writes_took:.1f} s, readers looped "
        f"{[len(s) for s in seen]} times, saw {len(states)} states"
    )


# ---------------------------------------------------------------------------------- the lock
_LOCKER = textwrap.dedent(
    """
    import sys, time
    from lithoscope.mindb.db import db_lock

    print("ready", flush=True)
    with db_lock(sys.argv[1]):
        print(time.time(), flush=True)
    """
)


def test_every_spelling_of_the_database_waits_for_the_same_lock(db_url, tmp_path):
    """The writers' lock belongs to the database, not to the URL that reached it.

    On PostgreSQL another ``application_name`` and another role; on SQLite a symlinked folder.
    Before the fix the advisory lock id was a hash of the URL, and both went in at once.
    """
    with connect(db_url):
        pass  # create the database first
    others = _spellings(db_url, tmp_path, 2)[1:]
    admin = None
    if not db_url.startswith("sqlite"):
        admin = create_engine(_normalise_url(db_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # roles belong to the server: dropped below
            conn.execute(text("DROP ROLE IF EXISTS lithoscope_other"))
            conn.execute(text("CREATE ROLE lithoscope_other LOGIN SUPERUSER"))
        url = make_url(db_url)
        others.append(url.set(username="lithoscope_other").render_as_string(hide_password=False))
    try:
        for other in others:
            with db_lock(db_url):
                proc = subprocess.Popen(
                    [sys.executable, "-c", _LOCKER, other], stdout=subprocess.PIPE, text=True
                )
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                time.sleep(1.5)  # the child asks for the lock meanwhile
                released = time.time()
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0
            assert float(out) >= released, f"{safe_url(other)} took the lock while it was held"
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text("DROP ROLE IF EXISTS lithoscope_other"))
            admin.dispose()


# ---------------------------------------------------------------------------------- a crash
_STUCK_WRITER = _script(
    """
    import lithoscope.mindb.store as store
    from lithoscope.data.ingest import ingest_spectra
    """,
    """
    store._BATCH = 4  # rows reach the database as they come, not only at the end

    def hang(n):
        if n == int(sys.argv[4]):
            print("inside", flush=True)
            time.sleep(600)

    folder = Path(sys.argv[3])
    ingest_spectra(db, folder, source_name="RRUFF stuck", progress=False, on_spectrum=hang)
    """,
)


def test_a_writer_stuck_inside_its_transaction_blocks_no_reader_and_when_killed_no_writer(
    db_url, rruff_files, tmp_path
):
    """A writer stops with 100 spectra (about 10 MB) sent and the lock held.

    Readers answer meanwhile and see none of it (before WAL mode, SQLite readers failed with
    "database is locked" after five seconds: the writer's pages no longer fitted SQLite's
    cache). Killed, its work vanishes and the lock is freed (the server ends the session; the
    kernel drops the ``flock``): the writer queued behind it stores every file once.
    """
    _, _, bulk = rruff_files
    with connect(db_url) as db:
        db.build()
    go = tmp_path / "go"
    go.touch()
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    stuck = _start(_STUCK_WRITER, db_url, go, str(bulk), "100", env=env)
    _wait_ready(stuck)
    assert stuck.stdout is not None and stuck.stdout.readline().strip() == "inside"
    waiting = _start(_WRITER, _spellings(db_url, tmp_path, 2)[1], go, str(bulk), env=env)
    _wait_ready(waiting)
    with connect(db_url) as db:  # a reader, while the stuck writer holds 100 spectra
        for _ in range(3):
            assert db.info()["spectra"]["raman"] == 0
            assert len(db.spectra_arrays()) == 0
            assert db.summaries(["Forsterite"])["Forsterite"]["formula"] == "Mg2SiO4"
            time.sleep(0.5)
    assert waiting.poll() is None  # the second writer is queued on the lock
    stuck.kill()
    stuck.communicate(timeout=60)
    report = _finish(waiting, "the writer after the killed one")
    assert report["failed"] == [] and report["files"] == N_BULK
    assert report["ingested"] + report["duplicates"] == N_BULK and report["already_present"] == 0
    by_source, _ = _ids_by(db_url)
    assert sorted(by_source) == [f"RRUFF {bulk.name}"]
    assert len(by_source[f"RRUFF {bulk.name}"]) == report["ingested"]


# ---------------------------------------------------------------------------------- learn
def test_a_learn_whose_spectra_are_refused_adds_no_mineral(db_url, rruff_files):
    """``learn`` writes its new mineral and its spectra in one transaction (readers see both
    or neither): when the database refuses the spectra, the mineral is not left behind, and no
    model version is registered. The refusal is a real trigger on the ``spectra`` table."""
    files, learn_files, _ = rruff_files
    name, pair = next(iter(learn_files.items()))
    registry = Registry()
    _tiny_model(files, registry)
    with connect(db_url) as db:
        db.build()
        n_minerals = db.info()["minerals"]
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "sqlite":
                conn.exec_driver_sql(
                    "CREATE TRIGGER refuse BEFORE INSERT ON spectra "
                    "BEGIN SELECT RAISE(ABORT, 'spectra refused'); END"
                )
            else:
                conn.exec_driver_sql(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'spectra refused'; END $$"
                )
                conn.exec_driver_sql(
                    "CREATE TRIGGER refuse BEFORE INSERT ON spectra "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
        spectra = [read_spectrum(f) for f in pair]
        with pytest.raises(DBAPIError, match="spectra refused"):
            learn(db, name, spectra, model="lib", formula="Mg2SiO4", registry=registry)
        assert db.info()["minerals"] == n_minerals
        with pytest.raises(MineralNotFound):
            db.resolve(name)
    assert registry.versions("lib") == [1]
