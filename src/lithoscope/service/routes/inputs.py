"""Parsing of what requests carry: uploaded files and arrays -> spectra, form fields -> options.

Uploaded files go through `lithoscope.spectra.io.parse_bytes`, the readers of
``lithoscope identify``; a file's name is only its label, never a path. A file that cannot be
read becomes a `FileProblem` (its reader's one-line message) and the others are still answered,
as the command line does.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from lithoscope.errors import LithoscopeError
from lithoscope.methods import Method, parse_enum
from lithoscope.service.schemas import MAX_FILES, FileProblem, SpectrumIn
from lithoscope.spectra.io import SpectrumWarning, parse_bytes
from lithoscope.spectra.measurement import Context, Measurement, group_measurements
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "Parsed",
    "Upload",
    "json_model",
    "message_spectra",
    "one_line",
    "options_from_form",
    "parse_files",
    "read_form",
    "regroup",
    "spectra_from_arrays",
    "with_methods",
]

M = TypeVar("M", bound=BaseModel)

#: a per-file method that leaves the file's method to its content
AUTO = "auto"

#: `warnings.catch_warnings` swaps process-wide state: one parse at a time records warnings
_WARNINGS = threading.Lock()


@dataclass(frozen=True)
class Upload:
    """One uploaded file, read into memory (the size limit has bounded it)."""

    name: str
    data: bytes
    method: str | None = None


@dataclass
class Parsed:
    """The spectra of a request, as measurements, and what could not be used."""

    measurements: list[Measurement] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    errors: list[FileProblem] = field(default_factory=list)
    warnings: list[FileProblem] = field(default_factory=list)


def one_line(exc: ValidationError) -> str:
    """A pydantic validation error as one line: where, and what was expected."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    extra = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}{extra}"


def json_model(model: type[M], data: bytes) -> M:
    """``data`` validated as ``model``; 422 with one line when it is not."""
    try:
        return model.model_validate_json(data or b"null")
    except ValidationError as exc:
        raise HTTPException(422, one_line(exc)) from None


def _label(filename: str | None, index: int) -> str:
    """A file's display name: its base name without control characters (only ever a label)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()[:200]
    return name or f"file-{index + 1}"


async def read_form(
    request: Request, *, fields: Sequence[str], list_fields: Sequence[str] = ()
) -> tuple[list[Upload], dict[str, Any]]:
    """The files (field ``files``) and the named fields of a multipart form.

    Unknown fields and text where a file belongs are 422; per-file methods come from the field
    ``methods`` (repeated, or one comma-separated value), one per file in order.
    """
    try:
        form: FormData = await request.form(max_files=MAX_FILES, max_fields=100)
    except HTTPException as exc:
        if exc.status_code == 413:
            raise
        raise HTTPException(400, f"the multipart body cannot be read: {exc.detail}") from None
    try:
        files = form.getlist("files")
        unknown = sorted(set(form.keys()) - {"files", *fields, *list_fields})
        if unknown:
            known = ", ".join(["files", *fields, *list_fields])
            raise HTTPException(422, f"unknown form field {unknown[0]!r}; the fields are {known}")
        values: dict[str, Any] = {}
        for key in fields:
            given = form.getlist(key)
            if len(given) > 1:
                raise HTTPException(
                    422, f"form field {key!r} is given {len(given)} times; give it once"
                )
            if given:
                if not isinstance(given[0], str):
                    raise HTTPException(422, f"form field {key!r} must be text, not a file")
                values[key] = given[0]
        for key in list_fields:
            items = [v for v in form.getlist(key) if isinstance(v, str)]
            values[key] = [p.strip() for v in items for p in v.split(",") if p.strip()]
        uploads = []
        for i, f in enumerate(files):
            if not isinstance(f, UploadFile):
                raise HTTPException(
                    422, f"form field 'files' #{i + 1} is text; send each spectrum as a file part"
                )
            uploads.append(Upload(_label(f.filename, i), await f.read()))
    finally:
        await form.close()
    if not uploads:
        raise HTTPException(422, "no file: send one or more spectrum files in the field 'files'")
    return uploads, values


def options_from_form(model: type[M], values: dict[str, Any]) -> M:
    """Form text validated as ``model`` (``"true"``, ``"0.9"`` ... are converted)."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v != ""})
    except ValidationError as exc:
        raise HTTPException(422, one_line(exc)) from None


def with_methods(uploads: list[Upload], method: str | None, methods: list[str]) -> list[Upload]:
    """Each upload with its method: ``methods`` in order, else ``method`` for all, else none
    (detected from the content)."""
    if methods and len(methods) != len(uploads):
        raise HTTPException(
            422,
            f"'methods' names {len(methods)} method(s) for {len(uploads)} file(s); give one per "
            "file in the same order, or one 'method' for all",
        )
    if methods and method:
        raise HTTPException(422, "give 'method' (for all files) or 'methods' (one per file)")
    for given in [*methods, method]:
        if given is not None and given != AUTO:
            try:
                parse_enum(Method, given, "method")
            except LithoscopeError as exc:
                raise HTTPException(422, str(exc)) from None
    chosen = methods or [method] * len(uploads)
    return [
        Upload(u.name, u.data, None if m in (None, "", AUTO) else m)
        for u, m in zip(uploads, chosen, strict=True)
    ]


def regroup(parsed: Parsed, group: str, context: Context) -> Parsed:
    """The measurements of ``group`` (`IdentifyOptions.group`): each spectrum alone ('file'),
    spectra of one sample id together ('sample'), or all of them one sample ('measurement');
    a fused measurement answers for the position of its first spectrum."""
    if group == "file" or not parsed.measurements:
        return parsed
    spectra = [
        (m.spectra[m.methods[0]], index)
        for m, index in zip(parsed.measurements, parsed.positions, strict=True)
    ]
    first = {id(s): index for s, index in spectra}
    try:
        if group == "sample":
            grouped = group_measurements([s for s, _ in spectra], context=context)
        else:
            names = " + ".join(dict.fromkeys(m.name for m in parsed.measurements))
            grouped = [Measurement({s.method.value: s for s, _ in spectra}, context, name=names)]
            if len(grouped[0].methods) < len(spectra):
                raise LithoscopeError(
                    "group=measurement: two spectra of one method; a measurement has one "
                    "spectrum per method (send the others in another request)"
                )
    except LithoscopeError as exc:
        raise HTTPException(422, str(exc)) from None
    positions = [first[id(m.spectra[m.methods[0]])] for m in grouped]
    return Parsed(grouped, positions, parsed.errors, parsed.warnings)


def parse_files(uploads: Sequence[Upload], context: Context) -> Parsed:
    """Read every upload with the readers of ``lithoscope identify``; a table or map holds
    several spectra (``name#2`` ...), each its own measurement."""
    out = Parsed()
    for index, upload in enumerate(uploads):
        with _WARNINGS, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SpectrumWarning)
            try:
                spectra = parse_bytes(upload.data, upload.name, method=upload.method)
                items = [
                    Measurement.of(
                        s,
                        name=upload.name if len(spectra) == 1 else f"{upload.name}#{i + 1}",
                        context=context,
                    )
                    for i, s in enumerate(spectra)
                ]
            except LithoscopeError as exc:
                out.errors.append(FileProblem(index=index, input=upload.name, detail=str(exc)))
                items = []
        out.warnings.extend(
            FileProblem(index=index, input=upload.name, detail=str(w.message))
            for w in caught
            if issubclass(w.category, SpectrumWarning)
        )
        out.measurements.extend(items)
        out.positions.extend([index] * len(items))
    return out


def spectra_from_arrays(items: Sequence[SpectrumIn], context: Context) -> Parsed:
    """Spectra given as arrays; one that is not a spectrum (unsorted axis, NaN ...) is a
    `FileProblem`."""
    out = Parsed()
    for index, item in enumerate(items):
        name = item.name or f"spectrum-{index + 1}"
        try:
            spectrum = Spectrum(
                item.axis, item.intensities, item.method, item.unit, metadata={"file": name}
            )
        except LithoscopeError as exc:
            out.errors.append(FileProblem(index=index, input=name, detail=str(exc)))
            continue
        out.measurements.append(Measurement.of(spectrum, name=name, context=context))
        out.positions.append(index)
    return out


def message_spectra(
    payload: str | bytes, method: str | None, index: int, context: Context
) -> tuple[Any, Parsed]:
    """One stream message: ``{axis, intensities, method, unit?, id?, name?}`` as JSON, or the
    text (or bytes) of a spectrum file; ``(id, parsed)``. A message that is not a spectrum is
    ``parsed.errors`` (with its id, when it could be read)."""
    if isinstance(payload, str) and payload.lstrip().startswith("{"):
        try:
            doc = json.loads(payload)
        except json.JSONDecodeError as exc:
            return None, _problem(index, f"message {index}: not valid JSON ({exc})")
        if not isinstance(doc, dict):
            return None, _problem(index, f"message {index}: expected a JSON object")
        ident = doc.pop("id", None)
        if method is not None:
            doc.setdefault("method", method)
        try:
            item = SpectrumIn.model_validate(doc)
        except ValidationError as exc:
            return ident, _problem(index, f"message {index}: {one_line(exc)}")
        return ident, spectra_from_arrays([item], context)
    data = payload.encode() if isinstance(payload, str) else payload
    return None, parse_files([Upload(f"message-{index}", data, method)], context)


def _problem(index: int, detail: str) -> Parsed:
    return Parsed(errors=[FileProblem(index=0, input=f"message-{index}", detail=detail)])
