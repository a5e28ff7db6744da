"""`Measurement`: one sample as measured, by any subset of methods, with its context.

Everything that identifies (`lithoscope.pipeline.identify.identify_batch`, the service, the Dask
job) takes measurements, never bare spectra: a Raman spectrum alone is the one-entry case, and a
sample measured by Raman, LIBS and VNIR is one measurement with three entries. The context
(planetary body or setting, measured chemistry or detected elements) travels with it, so that
fusion and the consistency checks of later layers can use it without a new interface.

`group_measurements` puts the spectra of one sample together: by RRUFF ID (``sample_id`` in the
metadata, as every reader records it) or by a key the caller gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lithoscope.errors import InputError
from lithoscope.methods import Method
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["BODIES", "Context", "Measurement", "group_measurements"]

#: methods in declaration order (iterating the enum itself is slow on every measurement)
_METHOD_ORDER = {m: i for i, m in enumerate(Method)}

#: planetary bodies a measurement may be from (MinDB's occurrence bodies, plus Earth)
BODIES = ("moon", "mars", "meteorite", "earth")


@dataclass(frozen=True)
class Context:
    """What is known about a sample besides its spectra.

    Parameters
    ----------
    body : {'moon', 'mars', 'meteorite', 'earth'}, optional
        Where the sample is from.
    setting : str, optional
        Free text: geological setting, landing site, meteorite class...
    chemistry : mapping of str to float, optional
        Measured composition in wt%, by element (``{"Fe": 12.1}``) or oxide (``{"FeO": 15.6}``).
    elements : sequence of str, optional
        Elements detected without quantities (e.g. LIBS lines above noise).
    """

    body: str | None = None
    setting: str | None = None
    chemistry: Mapping[str, float] | None = None
    elements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.body is not None:
            body = str(self.body).strip().lower()
            if body not in BODIES:
                raise InputError(f"body {self.body!r} is not one of {', '.join(BODIES)}")
            object.__setattr__(self, "body", body)
        if self.chemistry is not None:
            chem = {}
            for key, value in dict(self.chemistry).items():
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    raise InputError(
                        f"chemistry {key!r}: expected a number of wt%, got {value!r}"
                    ) from None
                if not 0 <= number <= 100:
                    raise InputError(f"chemistry {key!r}: {number} wt% is outside 0-100")
                chem[str(key)] = number
            object.__setattr__(self, "chemistry", MappingProxyType(chem))
        object.__setattr__(self, "elements", tuple(str(e) for e in self.elements))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; empty fields left out."""
        out: dict[str, Any] = {}
        if self.body is not None:
            out["body"] = self.body
        if self.setting is not None:
            out["setting"] = self.setting
        if self.chemistry is not None:
            out["chemistry"] = dict(self.chemistry)
        if self.elements:
            out["elements"] = list(self.elements)
        return out


@dataclass(frozen=True, eq=False)
class Measurement:
    """One sample: at most one spectrum per method, its context and a display name.

    Parameters
    ----------
    spectra : mapping of Method (or str) to Spectrum
        The sample's spectra, each under the method it was measured with.
    context : Context, optional
    sample_id : str, optional
        Default: the spectra's common ``sample_id`` metadata, if they agree.
    name : str, optional
        What the answers call the measurement (a file name); default: the spectra's file
        names joined with ``+``, else the sample id, else ``"measurement"``.

    Examples
    --------
    >>> s = Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.5], "raman", metadata={"file": "a.txt"})
    >>> m = Measurement.of(s)
    >>> m.methods, m.name
    (('raman',), 'a.txt')
    """

    spectra: Mapping[Method, Spectrum]
    context: Context = field(default_factory=Context)
    sample_id: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.spectra:
            raise InputError("a measurement needs at least one spectrum")
        checked: dict[Method, Spectrum] = {}
        for key, spectrum in dict(self.spectra).items():
            if not isinstance(spectrum, Spectrum):
                raise InputError(
                    f"measurement entry {key!r}: expected a Spectrum, got {spectrum!r}"
                )
            try:
                method = key if isinstance(key, Method) else Method(str(key).lower())
            except ValueError:
                raise InputError(
                    f"measurement entry {key!r}: not one of {', '.join(m.value for m in Method)}"
                ) from None
            if spectrum.method != method:
                raise InputError(
                    f"measurement entry {method.value!r} holds a {spectrum.method.value} spectrum "
                    f"({_file(spectrum)}); file it under its own method"
                )
            checked[method] = spectrum
        ordered = dict(sorted(checked.items(), key=lambda item: _METHOD_ORDER[item[0]]))
        object.__setattr__(self, "spectra", MappingProxyType(ordered))
        if self.sample_id is None:
            ids = {s.metadata.get("sample_id") for s in ordered.values()} - {None, ""}
            if len(ids) == 1:
                object.__setattr__(self, "sample_id", str(ids.pop()))
        if not self.name:
            files = [_file(s) for s in ordered.values() if s.metadata.get("file")]
            name = "+".join(files) or self.sample_id or "measurement"
            object.__setattr__(self, "name", name)

    @classmethod
    def of(
        cls, spectrum: Spectrum, *, name: str | None = None, context: Context | None = None
    ) -> Measurement:
        """The one-spectrum measurement."""
        return cls({spectrum.method: spectrum}, context or Context(), name=name or "")

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods present, in `Method` order."""
        return tuple(m.value for m in self.spectra)

    def __getitem__(self, method: Method | str) -> Spectrum:
        try:
            return self.spectra[Method(str(method).lower())]
        except (KeyError, ValueError):
            raise KeyError(method) from None

    def __contains__(self, method: object) -> bool:
        try:
            return Method(str(method).lower()) in self.spectra
        except ValueError:
            return False

    def __len__(self) -> int:
        return len(self.spectra)

    def __repr__(self) -> str:
        return f"Measurement({self.name!r}, methods={list(self.methods)})"


def _file(spectrum: Spectrum) -> str:
    return str(spectrum.metadata.get("file") or "spectrum")


def group_measurements(
    spectra: Iterable[Spectrum],
    *,
    by: str | Callable[[Spectrum], str | None] = "sample_id",
    context: Context | None = None,
) -> list[Measurement]:
    """Group spectra of one sample into measurements.

    Parameters
    ----------
    spectra : iterable of Spectrum
    by : str or callable, default='sample_id'
        A metadata key (RRUFF ID: ``"sample_id"``) or ``spectrum -> key``. Spectra whose key is
        missing or empty stay measurements of their own.
    context : Context, optional
        Given to every measurement.

    Returns
    -------
    list of Measurement
        In the order each group's first spectrum came.

    Raises
    ------
    InputError
        Two spectra of one group share a method (which one is the sample's would be a guess).
    """
    key_of = by if callable(by) else (lambda s: s.metadata.get(by))
    groups: dict[str, list[Spectrum]] = {}
    order: list[tuple[str, Sequence[Spectrum]]] = []
    for i, spectrum in enumerate(spectra):
        key = key_of(spectrum)
        if key is None or str(key).strip() == "":
            order.append((f"#{i}", [spectrum]))
            continue
        key = str(key)
        if key not in groups:
            groups[key] = []
            order.append((key, groups[key]))
        for other in groups[key]:
            if other.method == spectrum.method:
                raise InputError(
                    f"sample {key!r}: {_file(other)} and {_file(spectrum)} are both "
                    f"{spectrum.method.value} spectra; identify them separately or group "
                    "them with another key"
                )
        groups[key].append(spectrum)
    out = []
    for key, members in order:
        sample = None if key.startswith("#") else key
        out.append(
            Measurement({s.method: s for s in members}, context or Context(), sample_id=sample)
        )
    return out
