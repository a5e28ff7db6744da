"""Running the ``lithoscope`` command in-process, as the tests of every command do."""

from __future__ import annotations

import sys

from lithoscope.cli import main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``lithoscope ARGS`` run in this process."""
    monkeypatch.setattr(sys, "argv", ["lithoscope", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
