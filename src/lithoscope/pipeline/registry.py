"""The model registry: named, versioned identification models under the data folder.

Layout: ``<models_dir>/<name>/v<N>/`` (one `IdentificationModel` bundle each) and
``<models_dir>/defaults.json`` mapping a method to its default model. A model is referred to as
``NAME`` (its newest complete version) or ``NAME@VERSION`` (``NAME@3``, ``NAME@v3``). A default is
either a name (it follows the newest version) or a pinned ``NAME@VERSION`` (``lithoscope models
promote``): a pinned default stays on that version when newer ones are registered.

Versions are never overwritten. A new version is written into a temporary folder and renamed
into place under an inter-process lock on the model's name, so two ``lithoscope learn`` runs at
once get two versions, the second built on the first. A version folder without a manifest (an
interrupted save of an older lithoscope) or one that fails its checksums is skipped with a
`RegistryWarning` when the newest version is asked for, and is never chosen as a default; asking
for it by number gives the one-line reason.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lithoscope._files import read_json, write_json
from lithoscope.config import get_settings
from lithoscope.errors import InputError
from lithoscope.pipeline.bundle import IdentificationModel

__all__ = ["ModelRef", "Registry", "RegistryWarning"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION_DIR = re.compile(r"v(\d+)")


class RegistryWarning(UserWarning):
    """A registered version is incomplete or damaged and was skipped."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version."""

    name: str
    version: int
    path: Path

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


_held: dict[Path, int] = {}
_held_guard = threading.RLock()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock held on ``path`` (created) for the block.

    Re-entrant within a process (``learn`` holds the name's lock and then registers): two
    ``flock`` calls on separate opens of one file would block each other even in one process.
    """
    path = path.resolve()
    with _held_guard:
        if _held.get(path):
            _held[path] += 1
            try:
                yield
            finally:
                _held[path] -= 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with _flock(path):
            _held[path] = 1
            try:
                yield
            finally:
                del _held[path]


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock; rename stays atomic
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class Registry:
    """Identification models saved under ``root`` (default: ``Settings.models_dir``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else get_settings().models_dir
        self._cache: dict[Path, IdentificationModel] = {}

    # ------------------------------------------------------------------ names
    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.match(name):
            raise InputError(
                f"model name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit"
            )
        return name

    def _folders(self, name: str) -> dict[int, Path]:
        folder = self.root / name
        if not folder.is_dir():
            return {}
        out = {}
        for child in folder.iterdir():
            match = _VERSION_DIR.fullmatch(child.name)
            if match and child.is_dir():
                out[int(match.group(1))] = child
        return dict(sorted(out.items()))

    def versions(self, name: str) -> list[int]:
        """Versions of ``name`` whose folder holds a complete bundle, oldest first."""
        return [v for v, p in self._folders(name).items() if IdentificationModel.is_bundle(p)]

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the name's lock: read the newest version, derive a new one, register it."""
        with _locked(self.root / self.check_name(name) / ".lock"):
            yield

    # ------------------------------------------------------------------ defaults
    def _defaults_path(self) -> Path:
        return self.root / "defaults.json"

    def defaults(self) -> dict[str, str]:
        path = self._defaults_path()
        if not path.is_file():
            return {}
        doc = read_json(path, what="default models")
        if not isinstance(doc, dict):
            raise InputError(
                f"{path}: expected an object of method -> model name; fix or delete it"
            )
        return {str(k): str(v) for k, v in doc.items()}

    def set_default(self, method: str, spec: str) -> str:
        """Make ``spec`` the default model of ``method``.

        Parameters
        ----------
        method : str
        spec : str
            ``NAME`` (the default follows its newest complete version) or ``NAME@VERSION``
            (pinned to exactly that version, which must be a complete bundle that identifies
            ``method``).

        Returns
        -------
        str
            What was stored: ``NAME`` or the canonical ``NAME@VERSION``.

        Raises
        ------
        InputError
            No such model or version, an incomplete or damaged version, or a version that does
            not identify ``method``.
        """
        name, _, version_text = spec.partition("@")
        self.check_name(name)
        if not version_text:
            if not self.versions(name):
                raise InputError(f"no model named {name!r}; train or register it first")
            stored = name
        else:
            ref = self._exact(name, version_text)
            if not IdentificationModel.is_bundle(ref.path):
                raise InputError(
                    f"{ref} is incomplete (no manifest: an interrupted save) and cannot be a "
                    f"default; choose another version"
                )
            self._load(ref).part(method)  # checksums, and refuses a model of other methods
            stored = str(ref)
        with _locked(self.root / ".defaults.lock"):
            defaults = self.defaults()
            defaults[method] = stored
            write_json(self._defaults_path(), defaults)
        return stored

    def default_models(self) -> dict[str, dict[str, Any]]:
        """Each method's default: what is stored, the version it resolves to, whether pinned.

        Returns
        -------
        dict
            ``method -> {"spec": "NAME" or "NAME@VERSION", "model": "NAME@VERSION" or None,
            "pinned": bool}``, plus ``"problem"`` (why it does not resolve) when ``model`` is
            None.
        """
        out: dict[str, dict[str, Any]] = {}
        for method, spec in sorted(self.defaults().items()):
            entry: dict[str, Any] = {"spec": spec, "model": None, "pinned": "@" in spec}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RegistryWarning)
                    entry["model"] = str(self.resolve(None, method=method))
            except InputError as exc:
                entry["problem"] = str(exc)
            out[method] = entry
        return out

    # ------------------------------------------------------------------ register / resolve
    def register(
        self, model: IdentificationModel, name: str, *, make_default: bool = False
    ) -> ModelRef:
        """Save ``model`` as the next version of ``name``.

        The first model of a method becomes its default; ``make_default`` makes it the
        default of all its methods.
        """
        self.check_name(name)
        with self.lock(name):
            folders = self._folders(name)
            version = (max(folders) if folders else 0) + 1
            while True:
                path = self.root / name / f"v{version}"
                try:
                    model.save(path)
                    break
                except FileExistsError:  # a writer without the lock (older lithoscope)
                    version += 1
        ref = ModelRef(name, version, path)
        model.ref = str(ref)
        defaults = self.defaults()
        for method in model.methods:
            if make_default or method not in defaults:
                self.set_default(method, name)
        return ref

    def resolve(self, spec: str | None = None, *, method: str | None = None) -> ModelRef:
        """``NAME``, ``NAME@VERSION`` or None (the default model of ``method``).

        ``NAME`` alone is its newest complete version; it may still fail its checksums, which
        `load` finds (and then falls back to the version before).
        """
        return self._candidates(spec, method)[0]

    def _candidates(self, spec: str | None, method: str | None) -> list[ModelRef]:
        """Versions to try, best first: the one asked for, or the newest complete ones."""
        if spec is None:
            if method is None:
                raise InputError("no model given; pass --model NAME")
            spec = self.defaults().get(method)
            if spec is None:
                raise InputError(
                    f"no default {method} model yet; train one with "
                    f"'lithoscope train --method {method}' or pass --model NAME"
                )
            if "@" in spec:
                try:
                    return [self._exact(*spec.split("@", 1))]
                except InputError as exc:
                    raise InputError(
                        f"the default {method} model {spec} (pinned with 'lithoscope models "
                        f"promote') is gone: {exc}; promote another version"
                    ) from None
        name, _, version_text = spec.partition("@")
        self.check_name(name)
        if version_text:
            return [self._exact(name, version_text)]
        folders = self._folders(name)
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise InputError(f"no model named {name!r} (registered: {known})")
        for version, path in folders.items():
            if version > versions[0] and version not in versions:
                warnings.warn(
                    f"{name}@{version} is incomplete (no manifest: an interrupted save); "
                    f"skipped. Delete {path} to silence this",
                    RegistryWarning,
                    stacklevel=3,
                )
        return [ModelRef(name, v, folders[v]) for v in reversed(versions)]

    def _exact(self, name: str, version_text: str) -> ModelRef:
        """``NAME@VERSION`` as a reference to an existing version folder."""
        self.check_name(name)
        folders = self._folders(name)
        match = re.fullmatch(r"v?(\d+)", version_text)
        if match is None or int(match.group(1)) not in folders:
            listed = ", ".join(map(str, self.versions(name))) or "none"
            raise InputError(f"model {name!r} has no version {version_text!r}; versions: {listed}")
        version = int(match.group(1))
        return ModelRef(name, version, folders[version])

    def load(
        self, spec: str | None = None, *, method: str | None = None
    ) -> tuple[IdentificationModel, ModelRef]:
        """The bundle and its reference (loaded once per process).

        With ``NAME`` (or the default), a newest version that cannot be loaded is skipped with
        a `RegistryWarning` and the one before is used; ``NAME@VERSION`` loads exactly that
        version or raises.
        """
        candidates = self._candidates(spec, method)
        first_error: InputError | None = None
        for ref in candidates:
            try:
                model = self._load(ref)
            except InputError as exc:
                if len(candidates) == 1:
                    raise
                first_error = first_error or exc
                warnings.warn(
                    f"{ref} cannot be loaded and is skipped: {exc}", RegistryWarning, stacklevel=2
                )
                continue
            if method is not None:
                model.part(method)  # refuses a model of other methods
            return model, ref
        assert first_error is not None
        raise first_error

    def _load(self, ref: ModelRef) -> IdentificationModel:
        if ref.path not in self._cache:
            self._cache[ref.path] = IdentificationModel.load(ref.path, ref=str(ref))
        return self._cache[ref.path]
