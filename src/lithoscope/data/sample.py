"""Copy one spectrum of a mineral out of a fetched data set (for demos and quick looks).

Usage: ``python -m lithoscope.data.sample SOURCE MINERAL FOLDER [--mirror DIR_OR_URL]``
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from lithoscope.data.fetch import local_path
from lithoscope.data.sources import get_source
from lithoscope.errors import LithoscopeError

__all__ = ["sample_spectrum"]


def sample_spectrum(
    source: str, mineral: str, folder: str | Path, *, mirror: str | None = None
) -> Path:
    """Write the first spectrum file of ``mineral`` in ``source``'s zip into ``folder``."""
    src = get_source(source)
    zips = [f.mirror_path for f in src.files if f.mirror_path.endswith(".zip")]
    if not zips:
        raise LithoscopeError(f"source {source!r} holds no spectrum zip")
    path = local_path(source, zips[0], mirror=mirror)
    prefix = mineral.replace("-", "").replace("(", "").replace(")", "") + "__"
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.rsplit("/", 1)[-1].startswith(prefix))
        if not names:
            raise LithoscopeError(f"no spectrum of {mineral!r} in {path.name}")
        out = Path(folder) / names[0].rsplit("/", 1)[-1]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(zf.read(names[0]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("mineral")
    parser.add_argument("folder")
    parser.add_argument("--mirror", default=None)
    args = parser.parse_args(argv)
    try:
        print(sample_spectrum(args.source, args.mineral, args.folder, mirror=args.mirror))
    except LithoscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
