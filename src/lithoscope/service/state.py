"""What a service process holds for its whole life: MinDB, the served models, the answer cache.

One `ServiceState` per process (per uvicorn worker), made by the app's lifespan and handed to
the routes through `lithoscope.service.deps`; nothing here is global. Loading (opening MinDB,
loading each method's default model, reading the MinDB facts of every class and one warm-up
identification that compiles what the model compiles) runs in a background thread, so that the
process answers ``/healthz`` at once and ``/readyz`` with 503 until it is done.

Requests share the loaded models read-only. ``learn`` never changes a served model: it
registers a new version, which `ServedModels.reload` loads beside the old one and then swaps in
with one assignment, so a request in flight finishes on the version it started with.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lithoscope.config import Settings
from lithoscope.errors import InputError, LithoscopeError
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.registry import Registry
from lithoscope.service.batching import Batcher
from lithoscope.spectra.measurement import Measurement

__all__ = ["ServedModels", "ServiceState"]

#: how often a worker looks for newer versions of its models (``learn`` in another worker)
REFRESH_SECONDS = 10.0


class ServedModels:
    """The default model of each method, loaded once and shared by every request.

    Parameters
    ----------
    registry : Registry
        Where the models are registered (the settings' model folder).
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._bundles: dict[str, IdentificationModel] = {}
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    def load(self) -> None:
        """Load the registry's default model of every method (a method whose model cannot be
        loaded is left out, with the reason in `problems`)."""
        bundles: dict[str, IdentificationModel] = {}
        problems: dict[str, str] = {}
        for method, name in self.registry.defaults().items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    bundles[method] = self.registry.load(name, method=method)[0]
            except LithoscopeError as exc:
                problems[method] = str(exc)
        with self._lock:
            self._bundles, self._problems = bundles, problems

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self._bundles)

    @property
    def problems(self) -> dict[str, str]:
        """Method -> why its default model is not served."""
        return dict(self._problems)

    def bundle_of(self, method: str) -> IdentificationModel:
        """The served bundle of ``method`` (what `identify_batch` calls per method).

        Raises
        ------
        InputError
            No model of ``method`` is served.
        """
        bundle = self._bundles.get(str(method))
        if bundle is None:
            why = self._problems.get(str(method))
            served = ", ".join(self._bundles) or "none"
            raise InputError(
                f"no {method} model is served (served: {served})"
                + (f"; its default model failed to load: {why}" if why else "")
                + f"; train one with 'lithoscope train --method {method}' and restart the service"
            )
        return bundle

    def missing(self, measurement: Measurement) -> str | None:
        """Why ``measurement`` cannot be identified with the served models, or None.

        As in ``lithoscope identify``: a LIBS spectrum beside other methods needs no LIBS model
        (it is chemistry evidence).
        """
        for method in measurement.methods:
            if method in self._bundles or (method == "libs" and len(measurement) > 1):
                continue
            try:
                self.bundle_of(method)
            except InputError as exc:
                return str(exc)
        return None

    def reload(self, name: str) -> None:
        """Serve the newest version of model ``name`` for the methods it serves (after learn)."""
        methods = [m for m, b in self._bundles.items() if b.name.partition("@")[0] == name]
        if not methods:
            return
        fresh = Registry(self.registry.root)  # the registry caches loaded versions by folder
        loaded = {m: fresh.load(name, method=m)[0] for m in methods}
        with self._lock:
            self._bundles = {**self._bundles, **loaded}

    def refresh(self, every: float = REFRESH_SECONDS) -> None:
        """`reload` the served models that have a newer version, at most once per ``every`` s
        (another worker process may have run ``learn``)."""
        now = time.monotonic()
        if now - self._checked < every:
            return
        self._checked = now
        names = {b.name.partition("@")[0]: b.name for b in self._bundles.values()}
        for name, ref in names.items():
            try:
                newest = str(self.registry.resolve(name))
            except LithoscopeError:
                continue
            if newest != ref:
                self.reload(name)

    def describe(self) -> dict[str, Any]:
        """The served models and the registered ones (``GET /v1/models``)."""
        served = []
        for bundle in {id(b): b for b in self._bundles.values()}.values():
            parts = {m: bundle.part(m) for m in bundle.methods}
            served.append(
                {
                    "model": bundle.name,
                    "methods": [m for m, b in self._bundles.items() if b is bundle],
                    "classes": {m: len(p.classes) for m, p in parts.items()},
                    "axis": {
                        m: {
                            "min": float(p.grid[0]),
                            "max": float(p.grid[-1]),
                            "points": p.grid.size,
                        }
                        for m, p in parts.items()
                    },
                    "calibrated": {m: bool(p.calibrated) for m, p in parts.items()},
                    "mixture": {m: p.mixture is not None for m, p in parts.items()},
                }
            )
        registered = [
            {"name": name, "versions": self.registry.versions(name)}
            for name in self.registry.names()
        ]
        return {
            "served": served,
            "problems": self.problems,
            "registered": registered,
            "defaults": self.registry.defaults(),
        }


@dataclass
class ServiceState:
    """Everything a service process shares between requests.

    Attributes
    ----------
    settings : Settings
    db : MinDB or None
        Open once loading is done.
    models : ServedModels or None
    cache : IdentifyCache or None
        MinDB facts and reference bands reused by every answer.
    batcher : Batcher or None
        Runs `identify` for the requests, concurrent ones of equal options as one batch.
    ready : bool
        MinDB is open and the models are loaded.
    problem : str or None
        Why loading failed (``/readyz`` says it).
    """

    settings: Settings
    db: Any = None
    models: ServedModels | None = None
    cache: Any = None
    ready: bool = False
    problem: str | None = None
    batcher: Any = None
    _loaded: threading.Event = field(default_factory=threading.Event, repr=False)

    def load(self) -> None:
        """Open MinDB, load the models, warm them up; never raises (sets `problem`)."""
        try:
            self._load()
        except Exception as exc:  # reported by /readyz; the process keeps answering /healthz
            self.problem = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        finally:
            self._loaded.set()

    def _load(self) -> None:
        from lithoscope.mindb import connect
        from lithoscope.pipeline.identify import IdentifyCache

        self.db = connect(self.settings.resolved_database_url())
        self.cache = IdentifyCache(self.db)
        models = ServedModels(Registry(self.settings.models_dir))
        models.load()
        for method in models.methods:
            _warm_up(models.bundle_of(method), method, self.cache)
        self.models = models
        self.batcher = Batcher(self.identify)
        self.ready = True

    def identify(self, measurements: Sequence[Measurement], options: Any) -> list[dict[str, Any]]:
        """The JSON answers of ``measurements``: `identify_batch` (or `identify_mixtures` with
        ``options.mixture``) with the served models and the process's cache (run by `batcher`,
        which joins concurrent requests of equal options into one call)."""
        from lithoscope.pipeline.identify import identify_batch
        from lithoscope.pipeline.mixture import identify_mixtures

        assert self.models is not None
        if options.mixture:
            results: list[Any] = identify_mixtures(
                measurements, self.models.bundle_of, facts=self.db.summaries
            )
        else:
            results = identify_batch(
                measurements,
                self.models.bundle_of,
                top=options.top,
                confidence=options.confidence,
                explain=options.explain,
                cache=self.cache,
            )
        if getattr(options, "plot", False):  # the arrays the web page draws
            from lithoscope.pipeline.plots import plot_json

            return [plot_json(r, self.models.bundle_of, self.db) for r in results]
        return [r.to_json() if options.mixture else r.to_dict() for r in results]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading has finished (ready or failed); whether it finished."""
        return self._loaded.wait(timeout)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.db is not None:
            self.db.close()


def _warm_up(bundle: IdentificationModel, method: str, cache: Any) -> None:
    """Read the facts of every class and identify one synthetic spectrum, so that the first
    request does not pay for MinDB look-ups, lazy preprocessing objects or compilation."""
    from lithoscope.pipeline.identify import identify_batch
    from lithoscope.spectra.spectrum import Spectrum

    part = bundle.part(method)
    cache.prefetch(str(c) for c in part.classes)
    grid = part.grid
    centre, width = grid[grid.size // 2], (grid[-1] - grid[0]) / 50
    y = 1.0 + np.exp(-0.5 * ((grid - centre) / width) ** 2)
    spectrum = Spectrum(grid, y, method, metadata={"file": "warm-up"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        identify_batch([spectrum], bundle, cache=cache)
        part.group_index  # noqa: B018 - a cached property, built before requests share it
