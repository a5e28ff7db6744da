"""Fetch public data sets, offline first: from a mirror or the publisher, always verified.

Where a file comes from, in order:

1. a mirror: the ``mirror`` argument, else ``LITHOSCOPE_MIRROR`` (`Settings.mirror`). It is a
   local folder, a ``file://`` URL or an ``http(s)://`` URL laid out like lithoscope's data mirror:
   ``<folder>/MANIFEST.sha256`` beside the files, paths in it relative to ``<folder>``. Every file
   is checked against that manifest.
2. the publisher's official URL, when there is one. The first download *pins* its sha256 in
   ``<cache_dir>/checksums.json``; later downloads must match it.
3. otherwise, a copy already in the cache that lithoscope verified when it arrived (for work in
   the field, when nothing is reachable); the result's ``warnings`` name the origins that failed.

A file already present with the expected checksum is not downloaded again. A reachable mirror's
manifest is authoritative: a local copy that differs from it is replaced by the mirror's.
Downloads go to ``<file>.part`` and are renamed into place only once verified; an interrupted
HTTP download is resumed with a ``Range`` request. Files land in
``<cache_dir>/sources/<mirror path>`` unless ``dest`` names another root; nothing is written
outside that root and ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit
from urllib.request import Request, url2pathname, urlopen

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lithoscope import __version__
from lithoscope.config import get_settings
from lithoscope.data.sources import DataSource, SourceFile, get_source
from lithoscope.errors import InputError, LithoscopeError

__all__ = [
    "ChecksumError",
    "FetchResult",
    "FetchedFile",
    "SourceUnavailableError",
    "fetch",
    "local_path",
    "open_source_file",
]

logger = logging.getLogger(__name__)

MANIFEST = "MANIFEST.sha256"
STATE_FILE = "checksums.json"
_CHUNK = 1 << 20
_FIX = (
    "fix: pass --mirror DIR_OR_URL or set LITHOSCOPE_MIRROR to a folder or http(s) URL laid out "
    "like lithoscope's data mirror"
)
_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


class ChecksumError(LithoscopeError):
    """A fetched file's sha256 differs from the mirror's manifest or from the pinned checksum."""


class SourceUnavailableError(LithoscopeError):
    """No origin (mirror, official URL or verified local copy) could provide a file."""


class _Unreachable(Exception):
    """An origin cannot provide a file right now; the next origin is tried."""


@dataclass(frozen=True)
class FetchedFile:
    """One local file of a data source, verified.

    Attributes
    ----------
    mirror_path : str
        The file's path inside a mirror, e.g. ``"rruff/infrared/Processed.zip"``.
    path : Path
        Where it is on this machine.
    sha256 : str
        Its checksum, as verified.
    size : int
        Its size in bytes.
    status : {"downloaded", "present"}
        ``"present"``: it was already there with the expected checksum and was not fetched again.
    origin : str
        Where its bytes came from: a mirror folder or URL, or the official URL.
    """

    mirror_path: str
    path: Path
    sha256: str
    size: int
    status: Literal["downloaded", "present"]
    origin: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields."""
        return {
            "path": str(self.path),
            "mirror_path": self.mirror_path,
            "sha256": self.sha256,
            "size": self.size,
            "status": self.status,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class FetchResult:
    """What `fetch` did for one data source.

    Attributes
    ----------
    source : str
        The source name.
    files : tuple of FetchedFile
        Every file of the source, in registry order.
    warnings : tuple of str
        Origins that failed before another one served (e.g. an unplugged mirror drive).
    """

    source: str
    files: tuple[FetchedFile, ...]
    warnings: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Local paths of all files."""
        return tuple(f.path for f in self.files)

    @property
    def downloaded(self) -> tuple[FetchedFile, ...]:
        """Files fetched by this call."""
        return tuple(f for f in self.files if f.status == "downloaded")

    @property
    def present(self) -> tuple[FetchedFile, ...]:
        """Files that were already there and verified."""
        return tuple(f for f in self.files if f.status == "present")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``{"source", "files": [{path, sha256, size, status, origin}]}``."""
        return {
            "source": self.source,
            "files": [f.to_dict() for f in self.files],
            "warnings": list(self.warnings),
        }


# ------------------------------------------------------------------------------------ public API
def fetch(
    source: str,
    *,
    mirror: str | Path | None = None,
    dest: Path | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> FetchResult:
    """Make every file of a data source present locally, verified by sha256.

    Parameters
    ----------
    source : str
        Registered source name (see `lithoscope.data.sources.SOURCES`), e.g. ``"rruff-ir"``.
    mirror : str or Path, optional
        Local folder, ``file://`` or ``http(s)://`` URL of a mirror. Default:
        ``LITHOSCOPE_MIRROR``; without either, the official URL is used.
    dest : Path, optional
        Root under which files are stored as ``<dest>/<mirror path>``. Default:
        ``<cache_dir>/sources``.
    progress : bool
        Show a progress bar on stderr (only when stderr is a terminal).
    timeout : float
        Seconds to wait for a network connection or read before an origin counts as unreachable.

    Returns
    -------
    FetchResult
        Paths, checksums, and for each file whether it was downloaded or already present, and
        from where.

    Raises
    ------
    InputError
        For an unknown source, a malformed mirror argument or a malformed mirror manifest.
    ChecksumError
        If a fetched file does not match the mirror's manifest or the pinned checksum (the download
        is deleted; a copy already in place is kept).
    SourceUnavailableError
        If no origin can provide a file and no verified copy is present.

    Examples
    --------
    >>> result = fetch("rruff-ir", mirror="/media/usb/lithoscope-data")  # doctest: +SKIP
    >>> result.files[0].status  # doctest: +SKIP
    'downloaded'
    """
    src = get_source(source)
    return _Run(src, mirror=mirror, dest=dest, progress=progress, timeout=timeout).fetch(src.files)


def local_path(
    source: str,
    name: str,
    *,
    mirror: str | Path | None = None,
    dest: Path | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> Path:
    """Local path of one file of a data source, fetching (only) that file if needed.

    Parameters
    ----------
    source : str
        Registered source name, e.g. ``"rruff-ima"``.
    name : str
        The file's mirror path (``"rruff/ima/RRUFF_Export_20220731_223900.csv"``) or file name.
    mirror, dest, progress, timeout
        As for `fetch`.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        If the source has no such file (the message lists its files).
    ChecksumError, SourceUnavailableError
        As for `fetch`.
    """
    src = get_source(source)
    wanted = src.file(name)
    run = _Run(src, mirror=mirror, dest=dest, progress=progress, timeout=timeout)
    return run.fetch((wanted,)).files[0].path


def open_source_file(
    source: str,
    name: str,
    *,
    mirror: str | Path | None = None,
    dest: Path | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> BinaryIO:
    """Open one file of a data source for binary reading, fetching it if needed.

    Same parameters as `local_path`; the caller closes the file (use ``with``).
    """
    return local_path(
        source, name, mirror=mirror, dest=dest, progress=progress, timeout=timeout
    ).open("rb")


# ------------------------------------------------------------------------------------ internals
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _describe(exc: BaseException) -> str:
    """A short reason for a failed transfer, e.g. 'HTTP 404 Not Found', 'Connection refused'."""
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, URLError):
        reason = exc.reason
        return _describe(reason) if isinstance(reason, BaseException) else str(reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _parse_manifest(text: str, where: str) -> dict[str, str]:
    """``{path relative to the manifest's folder: sha256}`` from ``sha256sum`` output."""
    entries: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _MANIFEST_LINE.match(line.rstrip("\r"))
        if match is None:
            raise InputError(
                f"mirror manifest {where} line {lineno}: expected '<64 hex digits>  <path>' "
                f"(sha256sum format), got {line[:80]!r}; fix: regenerate it with sha256sum"
            )
        path = PurePosixPath(match.group(2))
        entries[str(path)] = match.group(1).lower()  # PurePosixPath drops a leading './'
    return entries


class _Mirror:
    """A mirror: a local folder or an HTTP(S) base URL."""

    def __init__(self, spec: str | Path) -> None:
        self.given = str(spec)
        self.folder: Path | None = None
        self.url: str | None = None
        if isinstance(spec, Path):
            self.folder = spec.expanduser().resolve()
            return
        text = spec.strip()
        hint = "expected a folder path, a file:// URL or an http(s):// URL"
        if not text:
            raise InputError(f"mirror {spec!r}: is empty; {hint}")
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.netloc:
                raise InputError(f"mirror {spec!r}: the URL has no host; {hint}")
            self.url = text.rstrip("/")
        elif scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise InputError(f"mirror {spec!r}: file:// URLs must name a local path; {hint}")
            self.folder = Path(url2pathname(parts.path)).resolve()
        elif "://" in text:
            raise InputError(f"mirror {spec!r}: unsupported scheme {scheme!r}; {hint}")
        else:
            self.folder = Path(text).expanduser().resolve()

    def location(self, relative: str) -> str:
        """Folder path or URL of a file or manifest inside the mirror."""
        if self.folder is not None:
            return str(self.folder.joinpath(*relative.split("/")))
        return f"{self.url}/{quote(relative)}"

    def read_manifest(self, folder: str, timeout: float) -> dict[str, str]:
        where = self.location(f"{folder}/{MANIFEST}")
        if self.folder is not None:
            if not self.folder.is_dir():
                raise _Unreachable("no such folder")
            try:
                text = Path(where).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise _Unreachable(f"it has no {folder}/{MANIFEST}") from None
            except OSError as exc:
                raise _Unreachable(f"cannot read {folder}/{MANIFEST}: {_describe(exc)}") from exc
        else:
            try:
                with _open_url(where, start=0, timeout=timeout) as response:
                    text = response.read().decode("utf-8")
            except HTTPError as exc:
                if exc.code == 404:
                    raise _Unreachable(f"it has no {folder}/{MANIFEST}") from exc
                raise _Unreachable(f"{folder}/{MANIFEST}: {_describe(exc)}") from exc
            except (URLError, OSError, http.client.HTTPException) as exc:
                raise _Unreachable(_describe(exc)) from exc
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"mirror manifest {where}: not UTF-8 text; fix: regenerate it with sha256sum"
                ) from exc
        return _parse_manifest(text, where)


def _open_url(url: str, *, start: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"lithoscope/{__version__}", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urlopen(Request(url, headers=headers), timeout=timeout)


class _State:
    """``<cache_dir>/checksums.json``: official checksums pinned at first download, and the
    checksum and origin of every file verified into place (for offline use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = self._load()

    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        empty: dict[str, dict[str, dict[str, Any]]] = {"pinned": {}, "verified": {}}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"checksum file {self.path}: cannot be read ({exc}); fix: restore it, or delete "
                "it to re-pin official checksums at the next download"
            ) from None
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(key, {}), dict) for key in empty
        ):
            raise InputError(
                f"checksum file {self.path}: expected a JSON object with 'pinned' and 'verified' "
                "objects; fix: restore it, or delete it to re-pin at the next download"
            )
        return {key: dict(raw.get(key, {})) for key in empty}

    def pinned(self, url: str) -> str | None:
        entry = self.data["pinned"].get(url)
        return entry.get("sha256") if isinstance(entry, dict) else None

    def verified(self, path: Path) -> dict[str, Any] | None:
        entry = self.data["verified"].get(str(path))
        ok = isinstance(entry, dict) and {"sha256", "origin"} <= entry.keys()
        return entry if ok else None

    def update(self, section: str, key: str, value: dict[str, Any]) -> None:
        # Re-read first so that fetches of other sources in other processes are not lost.
        self.data = self._load()
        self.data[section][key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        yield bar


class _Run:
    """One call of `fetch`: the chosen origins, state, cached manifests and warnings."""

    def __init__(
        self,
        src: DataSource,
        *,
        mirror: str | Path | None,
        dest: Path | None,
        progress: bool,
        timeout: float,
    ) -> None:
        if not timeout > 0:
            raise InputError(f"timeout {timeout!r}: expected a positive number of seconds")
        settings = get_settings()
        spec = mirror if mirror is not None else settings.mirror
        self.src = src
        self.mirror = _Mirror(spec) if spec is not None else None
        if dest is None:
            self.root = settings.cache_dir / "sources"
        else:
            self.root = Path(dest).expanduser().resolve()
        self.state = _State(settings.cache_dir / STATE_FILE)
        self.progress = progress
        self.timeout = timeout
        self.bar: Progress | None = None
        self.manifests: dict[str, dict[str, str] | _Unreachable] = {}
        self.warnings: list[str] = []

    def fetch(self, files: Sequence[SourceFile]) -> FetchResult:
        with _progress_bar(self.progress) as bar:
            self.bar = bar
            fetched = tuple(self._fetch_file(f) for f in files)
        for warning in self.warnings:
            logger.warning(warning)
        return FetchResult(self.src.name, fetched, tuple(self.warnings))

    # -------------------------------------------------------------------------- one file
    def _fetch_file(self, sf: SourceFile) -> FetchedFile:
        target = self.root.joinpath(*sf.mirror_path.split("/"))
        actual = _sha256(target) if target.is_file() else None
        record = self.state.verified(target)
        failures: list[str] = []

        if self.mirror is not None:
            origin = self.mirror.location(sf.mirror_path)
            try:
                expected = self._mirror_checksum(sf)
                if actual == expected:
                    return self._done(sf, target, actual, "present", origin, failures)
                digest = self._download(
                    sf, origin, target, expected, is_url=self.mirror.url is not None, mirror=True
                )
                return self._done(sf, target, digest, "downloaded", origin, failures)
            except _Unreachable as exc:
                failures.append(f"mirror {self.mirror.given!r} ({exc})")

        if sf.official_url is not None:
            url = sf.official_url
            pinned = self.state.pinned(url)
            if actual is not None and actual == pinned:
                return self._done(sf, target, actual, "present", url, failures)
            if actual is not None and pinned is None and record and actual == record["sha256"]:
                return self._done(sf, target, actual, "present", record["origin"], failures)
            try:
                digest = self._download(sf, url, target, pinned, is_url=True, mirror=False)
            except _Unreachable as exc:
                failures.append(f"official URL {url} ({exc})")
            else:
                if pinned is None:
                    size = target.stat().st_size
                    entry = {"sha256": digest, "size": size, "pinned_at": _now()}
                    self.state.update("pinned", url, entry)
                return self._done(sf, target, digest, "downloaded", url, failures)

        if actual is not None and record and actual == record["sha256"]:
            # Nothing configured could serve it, but this copy was verified when it arrived.
            if failures:
                self.warnings.append(
                    f"{sf.mirror_path}: kept the copy verified on "
                    f"{record.get('verified_at', '?')} from {record['origin']}, since nothing "
                    "else was reachable: " + "; ".join(failures)
                )
            return self._done(sf, target, actual, "present", record["origin"], [])
        if self.mirror is None:
            failures.insert(0, "no mirror given")
        fix = _FIX
        if sf.official_url is None:
            failures.append(
                "no official URL (the publisher has no stable address for it, so only a mirror "
                "can provide it)"
            )
        else:
            fix += f", or check the network connection to {urlsplit(sf.official_url).netloc}"
        raise SourceUnavailableError(
            f"source {self.src.name!r} file {sf.mirror_path!r}: could not be fetched: "
            + "; ".join(failures)
            + "; "
            + fix
        )

    def _done(
        self,
        sf: SourceFile,
        target: Path,
        digest: str,
        status: Literal["downloaded", "present"],
        origin: str,
        failures: list[str],
    ) -> FetchedFile:
        if failures:
            self.warnings.append(
                f"{sf.mirror_path}: served by {origin} after: " + "; ".join(failures)
            )
        size = target.stat().st_size
        record = self.state.verified(target)
        if record is None or record.get("sha256") != digest or status == "downloaded":
            self.state.update(
                "verified",
                str(target),
                {"sha256": digest, "size": size, "origin": origin, "verified_at": _now()},
            )
        return FetchedFile(sf.mirror_path, target, digest, size, status, origin)

    def _mirror_checksum(self, sf: SourceFile) -> str:
        assert self.mirror is not None
        cached = self.manifests.get(sf.folder)
        if cached is None:
            try:
                cached = self.mirror.read_manifest(sf.folder, self.timeout)
            except _Unreachable as exc:
                cached = exc
            self.manifests[sf.folder] = cached
        if isinstance(cached, _Unreachable):
            raise cached
        try:
            return cached[sf.path_in_folder]
        except KeyError:
            raise _Unreachable(
                f"its {sf.folder}/{MANIFEST} does not list {sf.path_in_folder}"
            ) from None

    # -------------------------------------------------------------------------- transfer
    def _download(
        self,
        sf: SourceFile,
        origin: str,
        target: Path,
        expected: str | None,
        *,
        is_url: bool,
        mirror: bool,
    ) -> str:
        """Fetch `origin` into ``<target>.part``, verify, and move it into place."""
        part = target.with_name(target.name + ".part")
        tag = target.with_name(target.name + ".part.origin")  # where the .part bytes came from
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            resumed = False
            if is_url:
                # Resume only bytes from this very URL, or bytes the final checksum can vouch for.
                same = tag.is_file() and tag.read_text(encoding="utf-8") == origin
                resume = part.is_file() and (same or (not tag.exists() and expected is not None))
                tag.write_text(origin, encoding="utf-8")
                try:
                    resumed = self._http_to_part(origin, part, sf, resume=resume)
                except _Unreachable:
                    if not part.exists():
                        tag.unlink()
                    raise
            else:
                tag.unlink(missing_ok=True)
                self._copy_to_part(Path(origin), part, sf)
            digest = _sha256(part)
            if expected is None or digest == expected:
                os.replace(part, target)
                tag.unlink(missing_ok=True)
                return digest
            part.unlink()
            tag.unlink(missing_ok=True)
            if resumed and attempt == 0:
                continue  # the old .part was not a prefix of this file: start again from zero
            if mirror:
                what = f"the mirror's {sf.folder}/{MANIFEST} ({expected})"
                fix = (
                    "fix: repair that mirror copy (or regenerate its manifest), or use another "
                    "mirror with --mirror DIR_OR_URL"
                )
            else:
                what = f"the checksum pinned at its first download ({expected}, {self.state.path})"
                fix = (
                    "fix: if the publisher changed the file on purpose, delete its entry from "
                    f"{self.state.path.name} and fetch again; otherwise fetch from a mirror "
                    "with --mirror DIR_OR_URL"
                )
            raise ChecksumError(
                f"source {self.src.name!r} file {sf.mirror_path!r} from {origin}: sha256 {digest} "
                f"differs from {what}; the download was deleted; {fix}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy_to_part(self, origin: Path, part: Path, sf: SourceFile) -> None:
        # A copy, never a symlink: the mirror may be a drive that is unplugged later.
        try:
            reader = origin.open("rb")
        except FileNotFoundError:
            raise _Unreachable("the file is missing from it") from None
        except OSError as exc:
            raise _Unreachable(f"cannot read {origin}: {_describe(exc)}") from exc
        with reader:
            total = os.fstat(reader.fileno()).st_size
            try:
                with part.open("wb") as out:
                    self._stream(reader, out, part, sf, total=total, start=0)
            except _Unreachable:
                part.unlink(missing_ok=True)
                raise

    def _http_to_part(self, url: str, part: Path, sf: SourceFile, *, resume: bool) -> bool:
        """Download `url` into `part`, resuming if asked and possible; True if it resumed."""
        start = part.stat().st_size if resume else 0
        total: int | None = None
        try:
            try:
                response = _open_url(url, start=start, timeout=self.timeout)
            except HTTPError as exc:
                if exc.code != 416 or not start:
                    raise
                exc.close()  # the .part is not a prefix the server can extend: start again
                start = 0
                response = _open_url(url, start=0, timeout=self.timeout)
            with response:
                if start and (
                    response.status != 206
                    or _range_start(response.headers.get("Content-Range")) != start
                ):
                    start = 0  # the server ignored Range and sends the whole file
                length = response.headers.get("Content-Length")
                total = start + int(length) if length and length.isdigit() else None
                with part.open("ab" if start else "wb") as out:
                    self._stream(response, out, part, sf, total=total, start=start)
        except (URLError, OSError, http.client.HTTPException) as exc:
            raise _Unreachable(_describe(exc)) from exc
        size = part.stat().st_size
        if total is not None and size != total:
            raise _Unreachable(
                f"the connection closed after {size} of {total} bytes; run again to resume"
            )
        return bool(start)

    def _stream(
        self,
        reader: BinaryIO | http.client.HTTPResponse,
        out: BinaryIO,
        out_path: Path,
        sf: SourceFile,
        *,
        total: int | None,
        start: int,
    ) -> None:
        task: TaskID | None = None
        if self.bar is not None:
            task = self.bar.add_task(sf.name, total=total, completed=start)
        while True:
            try:
                chunk = reader.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _Unreachable(f"transfer interrupted: {_describe(exc)}") from exc
            if not chunk:
                return
            try:
                out.write(chunk)
            except OSError as exc:
                raise LithoscopeError(
                    f"cannot write {out_path}: {_describe(exc)}; fix: free disk space or choose "
                    "another destination"
                ) from exc
            if self.bar is not None and task is not None:
                self.bar.advance(task, len(chunk))


def _range_start(content_range: str | None) -> int | None:
    match = _CONTENT_RANGE.match(content_range or "")
    return int(match.group(1)) if match else None
