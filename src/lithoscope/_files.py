"""The one way lithoscope writes and reads its own JSON documents and checks files.

Writes are atomic (a temporary file in the same folder, then `os.replace`), so a reader never sees
half a document; reads turn every failure into one `InputError` line that names the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.errors import InputError

__all__ = ["jsonable", "read_json", "sha256_file", "write_json"]


def write_json(path: str | Path, doc: Any, *, overwrite: bool = True) -> Path:
    """Write ``doc`` as JSON to ``path`` atomically (NaN and infinity refused).

    Parameters
    ----------
    path : str or Path
    doc : JSON-able object
    overwrite : bool, default=True
        If False, an existing ``path`` raises `InputError`.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise InputError(f"{path} exists; choose another name or allow overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | Path, *, what: str = "document") -> Any:
    """The JSON in ``path``; a missing, unreadable or invalid file is one `InputError` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: the {what} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "restore or recreate it"
        ) from None


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and mappings made plain JSON types;
    NaN and infinity become None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
