"""RRUFF Raman files of the data mirror grouped by mineral and sample, for tests that build
small real datasets."""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from pathlib import Path

RAMAN_ZIP = Path("rruff") / "raman" / "excellent_unoriented.zip"
_NAME = re.compile(r"([^_]+)__([RX]\d{6})__Raman__532__")


def raman_samples(shared_data: Path) -> dict[str, dict[str, list[str]]]:
    """``{mineral: {sample id: [member names]}}`` of the 532 nm files in the mirror's Raman zip."""
    samples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with zipfile.ZipFile(shared_data / RAMAN_ZIP) as source:
        for n in source.namelist():
            m = _NAME.match(n)
            if m:
                samples[m.group(1)][m.group(2)].append(n)
    return samples


def minerals_with_samples(
    samples: dict[str, dict[str, list[str]]], n: int, *, at_least: int = 3, skip: int = 0
) -> list[str]:
    """The first ``n`` minerals (alphabetically, after ``skip``) with ``at_least`` samples."""
    return sorted(k for k, v in samples.items() if len(v) >= at_least)[skip : skip + n]
