"""Build each transformer's docstring from its function's, so every parameter is described once."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

_SECTION = re.compile(r"^(\w[\w ]*)\n-+\n", re.MULTILINE)

_AXIS_DOC = """axis : array_like, shape (n_points,), optional
    Axis positions of the columns of ``X``; default: the column index. `build_pipeline` and
    `make_preset` set it from the grid."""


def _parameter_entries(func: Callable) -> list[str]:
    doc = inspect.cleandoc(func.__doc__ or "")
    sections = {m.group(1): m.end() for m in _SECTION.finditer(doc)}
    if "Parameters" not in sections:
        return []
    start = sections["Parameters"]
    ends = [pos for pos in sections.values() if pos > start]
    body = doc[start : min(ends) if ends else len(doc)]
    body = _SECTION.sub("", body).rstrip()
    # drop the header line of the next section, left over at the end of the body
    body = re.sub(r"\n\w[\w ]*\n?$", "", body).rstrip()
    entries = re.split(r"\n(?=\S)", body)
    kept = []
    for entry in entries:
        names = {n.strip() for n in entry.split(" : ", 1)[0].split(",")}
        if not names <= {"y", "x"}:
            kept.append(entry.rstrip())
    return kept


def transformer_doc(
    func: Callable, summary: str, *, axis: bool, applies: Callable | None = None
) -> str:
    """Docstring of the transformer wrapping ``func``: its parameters minus ``y`` and ``x``.

    ``applies`` names the function the transformer calls when it is not ``func`` itself (e.g.
    `remove_baseline`, whose parameters are those of `baseline`).
    """
    entries = ([_AXIS_DOC] if axis else []) + _parameter_entries(func)
    where = "lithoscope.spectra.preprocessing"
    wraps = f"`{where}.{func.__name__}`"
    if applies is not None:
        wraps = f"`{where}.{applies.__name__}` (parameters of\n{wraps})"
    return (
        f"{summary}\n\n"
        f"Transformer form of {wraps}, applied to each\n"
        "row of ``X`` (n_spectra, n_points); see that function for the algorithm. Stateless:\n"
        "``fit`` validates the parameters and records ``n_features_in_``; ``transform`` also\n"
        "works unfitted, so a loaded pipeline can be used at once.\n\n"
        "Parameters\n----------\n" + "\n".join(entries) + "\n"
    )
