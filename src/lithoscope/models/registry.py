"""The model registry: named, versioned models under the data folder.

Layout: ``<models_dir>/<name>/v<N>/`` (one saved model each, see `SpectralClassifier.save`) and
``<models_dir>/defaults.json`` mapping a method to the name of its default model. A model is
referred to as ``NAME`` (its newest version) or ``NAME@VERSION`` (``NAME@3`` or ``NAME@v3``).
Versions are never overwritten: registering again adds a version, and old ones stay loadable.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lithoscope.config import get_settings
from lithoscope.errors import InputError
from lithoscope.models.base import SpectralClassifier, load_model

__all__ = ["ModelRef", "Registry"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version."""

    name: str
    version: int
    path: Path

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class Registry:
    """Models saved under ``root`` (default: ``Settings.models_dir``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else get_settings().models_dir
        self._cache: dict[Path, SpectralClassifier] = {}

    # ------------------------------------------------------------------ names
    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.match(name):
            raise InputError(
                f"model name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit"
            )
        return name

    def versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        out = []
        for child in folder.iterdir():
            match = re.fullmatch(r"v(\d+)", child.name)
            if match and (child / "model.json").is_file():
                out.append(int(match.group(1)))
        return sorted(out)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    # ------------------------------------------------------------------ defaults
    def _defaults_path(self) -> Path:
        return self.root / "defaults.json"

    def defaults(self) -> dict[str, str]:
        path = self._defaults_path()
        if not path.is_file():
            return {}
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg}); fix or delete it") from None

    def set_default(self, method: str, name: str) -> None:
        if not self.versions(name):
            raise InputError(f"no model named {name!r}; train or register it first")
        defaults = self.defaults()
        defaults[method] = name
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._defaults_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(defaults, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._defaults_path())

    # ------------------------------------------------------------------ register / resolve
    def register(
        self, model: SpectralClassifier, name: str, *, method: str | None = None
    ) -> ModelRef:
        """Save ``model`` as the next version of ``name``; the first model of a method becomes
        its default."""
        self.check_name(name)
        version = (self.versions(name) or [0])[-1] + 1
        path = self.root / name / f"v{version}"
        model.save(path)
        method = method or (getattr(model, "provenance_", None) or {}).get("method")
        if method and method not in self.defaults():
            self.set_default(method, name)
        return ModelRef(name, version, path)

    def resolve(self, spec: str | None = None, *, method: str | None = None) -> ModelRef:
        """``NAME``, ``NAME@VERSION`` or None (the default model of ``method``)."""
        if spec is None:
            if method is None:
                raise InputError("no model given; pass --model NAME")
            name = self.defaults().get(method)
            if name is None:
                raise InputError(
                    f"no default {method} model yet; train one with "
                    f"'lithoscope train --method {method}' or pass --model NAME"
                )
            spec = name
        name, _, version_text = spec.partition("@")
        self.check_name(name)
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise InputError(f"no model named {name!r} (registered: {known})")
        if version_text:
            match = re.fullmatch(r"v?(\d+)", version_text)
            if match is None or int(match.group(1)) not in versions:
                raise InputError(
                    f"model {name!r} has no version {version_text!r}; versions: "
                    f"{', '.join(map(str, versions))}"
                )
            version = int(match.group(1))
        else:
            version = versions[-1]
        return ModelRef(name, version, self.root / name / f"v{version}")

    def load(self, spec: str | None = None, *, method: str | None = None) -> tuple[Any, ModelRef]:
        """The model and its reference (loaded once per process)."""
        ref = self.resolve(spec, method=method)
        if ref.path not in self._cache:
            self._cache[ref.path] = load_model(ref.path)
        return self._cache[ref.path], ref
