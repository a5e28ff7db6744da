"""Start-up cost of the command: what each path imports, the schema check, JAX's compilation cache.

Import checks run in a fresh interpreter (this test process has imported everything already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from lithoscope.errors import DatabaseError
from lithoscope.mindb import connect
from lithoscope.mindb.db import _alembic_head, _head_from_files, head_revision

REPO = Path(__file__).resolve().parents[1]
SAVED_CNN = REPO / "tests" / "models" / "keras" / "data" / "saved_v1" / "cnn"


def python(code: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with its own data folder; fail on a non-zero exit."""
    environ = {**os.environ, "LITHOSCOPE_DATA_DIR": str(data_dir), **env}
    environ.pop("LITHOSCOPE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def loaded(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The module names the child printed as its last stdout line (a JSON list)."""
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


REPORT_MODULES = "import json, sys; print(json.dumps(sorted(sys.modules)))"


# ---------------------------------------------------------------------------------- imports
def test_help_imports_no_library(tmp_path):
    done = python(
        "import sys\n"
        "sys.argv = ['lithoscope', '--help']\n"
        "from lithoscope.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n" + REPORT_MODULES,
        tmp_path,
    )
    assert "identify" in done.stdout
    heavy = {"numpy", "scipy", "sklearn", "sqlalchemy", "alembic", "jax", "keras", "pydantic"}
    assert not heavy & loaded(done)


def test_chemistry_needs_no_database_layer(tmp_path):
    done = python(
        "from lithoscope.mindb.chemistry import parse_formula\n"
        "assert parse_formula('Mg2SiO4').amounts['Mg'] == 2\n" + REPORT_MODULES,
        tmp_path,
    )
    assert not {"sqlalchemy", "alembic", "lithoscope.mindb.queries"} & loaded(done)


def test_opening_an_up_to_date_mindb_does_not_import_alembic(tmp_path):
    first = python(
        "from lithoscope.mindb import connect\nwith connect() as db:\n    pass\n" + REPORT_MODULES,
        tmp_path,
    )
    assert "alembic" in loaded(first)  # creating the schema runs the migrations
    again = python(
        "from lithoscope.mindb import connect\n"
        "with connect() as db:\n    print(db.info()['schema_version'])\n" + REPORT_MODULES,
        tmp_path,
    )
    assert again.stdout.splitlines()[0] == head_revision()
    assert "alembic" not in loaded(again)


def test_uncertainty_names_resolve_lazily():
    import lithoscope.uncertainty as u
    from lithoscope.uncertainty.conformal import ConformalPredictor
    from lithoscope.uncertainty.metrics import auroc

    assert u.ConformalPredictor is ConformalPredictor and u.auroc is auroc
    assert set(u.__all__) <= set(dir(u))
    with pytest.raises(AttributeError):
        _ = u.no_such_name


# ---------------------------------------------------------------------------------- schema
def test_head_revision_read_from_the_files_is_alembics():
    assert _head_from_files() == _alembic_head() == head_revision()


def test_several_stored_revisions_are_one_line_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with connect(url):
        pass
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0002')"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="records 2 MinDB schema revisions") as info:
        connect(url)
    assert "\n" not in str(info.value)


def test_refused_and_migrated_as_before_without_alembic_on_the_fast_path(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with connect(url):
        pass
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="newer than this lithoscope"):
        connect(url)
    with pytest.raises(DatabaseError, match="'9999_future'.*lithoscope db upgrade"):
        connect(url, upgrade=False)


# ---------------------------------------------------------------------------------- JAX cache
def test_compilation_cache_is_kept_in_the_data_folder(tmp_path):
    code = (
        "import numpy as np\n"
        "from lithoscope.models.base import load_model\n"
        f"m = load_model({str(SAVED_CNN)!r})\n"
        "m.predict_proba(np.zeros((1, m.axis_.size)))\n"
        "import jax\n"
        "print(jax.config.jax_compilation_cache_dir)\n"
    )
    first = python(code, tmp_path, KERAS_BACKEND="jax")
    cache = tmp_path / "cache" / "jax"
    assert first.stdout.strip() == str(cache)
    entries = sorted(p.name for p in cache.iterdir())
    assert entries, "loading and predicting compiled nothing into the cache"
    python(code, tmp_path, KERAS_BACKEND="jax")
    # every program came from the cache: a miss would have written a new entry
    assert sorted(p.name for p in cache.iterdir()) == entries


def test_compilation_cache_keeps_the_users_folder(tmp_path):
    own = tmp_path / "own"
    done = python(
        "import keras\n"
        "from lithoscope.config import use_jax_compilation_cache\n"
        "print(use_jax_compilation_cache())\n",
        tmp_path / "data",
        KERAS_BACKEND="jax",
        JAX_COMPILATION_CACHE_DIR=str(own),
    )
    assert done.stdout.strip() == str(own)
    assert not (tmp_path / "data").exists()


def test_compilation_cache_only_with_jax(tmp_path):
    done = python(
        "from lithoscope.config import use_jax_compilation_cache\n"
        "print(use_jax_compilation_cache())\n" + REPORT_MODULES,
        tmp_path,
        KERAS_BACKEND="torch",
    )
    assert done.stdout.splitlines()[0] == "None"
    assert "jax" not in loaded(done)
    assert not tmp_path.joinpath("cache").exists()


def test_library_identify_loads_no_keras_alembic_or_explanation(tmp_path, raman_small):
    """``lithoscope identify`` with a library model, in a fresh process, as a user runs it."""
    from lithoscope.models.library import LibrarySearch
    from lithoscope.pipeline.bundle import single_method
    from lithoscope.pipeline.registry import Registry
    from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict

    X, y, _, axis = raman_small
    model = LibrarySearch(axis=axis).fit(X, y)
    bundle = single_method("raman", model, pipeline_to_dict(make_preset("raman")))
    Registry().register(bundle, "raman-library")  # this test's data folder (conftest)
    with connect() as db:
        db.build()
    spectrum = tmp_path / "one.txt"
    x = np.linspace(150.0, 1300.0, 1200)
    peak = np.exp(-(((x - 824.0) / 5.0) ** 2)) + 0.5 * np.exp(-(((x - 856.0) / 5.0) ** 2))
    spectrum.write_text(
        "\n".join(f"{a:.3f}, {b:.6f}" for a, b in zip(x, 100 * peak + 5, strict=True))
    )
    data_dir = Path(os.environ["LITHOSCOPE_DATA_DIR"])
    done = python(
        "import sys\n"
        f"sys.argv = ['lithoscope', 'identify', {str(spectrum)!r}, '--method', 'raman']\n"
        "from lithoscope.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        + REPORT_MODULES,
        data_dir,
    )
    assert "raman-library@1" in done.stdout
    modules = loaded(done)
    assert not {"keras", "jax", "alembic", "lithoscope.explain", "matplotlib"} & modules
