"""Fetching data sources: folder and HTTP mirrors, checksums, resume, pinning, clear errors.

Only 127.0.0.1 is ever contacted: an autouse guard fails any test that tries another host, and
official URLs are redirected to local servers or closed local ports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import pytest

from lithoscope.config import get_settings
from lithoscope.data.fetch import (
    ChecksumError,
    SourceUnavailableError,
    fetch,
    local_path,
    open_source_file,
)
from lithoscope.data.sources import SOURCES, get_source
from lithoscope.errors import InputError

IR = "rruff/infrared/Processed.zip"
IMA = [f.mirror_path for f in SOURCES["rruff-ima"].files]
IMA_0731 = "rruff/ima/RRUFF_Export_20220731_223900.csv"


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Fail loudly if anything tries to reach a host other than 127.0.0.1."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a test tried to reach {address[0]!r}; only 127.0.0.1 is allowed")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def cache_dir() -> Path:
    return get_settings().cache_dir


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_sha(mirror: Path, mirror_path: str) -> str:
    """The checksum a mirror folder's MANIFEST.sha256 gives for a file (parsed independently)."""
    folder, rel = mirror_path.split("/", 1)
    for line in (mirror / folder / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        if name.removeprefix("./") == rel:
            return digest
    raise AssertionError(f"{mirror_path} not in its manifest")


def manifest_entries(folder: Path) -> set[str]:
    lines = (folder / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    return {line.split(maxsplit=1)[1].removeprefix("./") for line in lines if line.strip()}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Plain static server (ignores Range, like SimpleHTTPRequestHandler) that logs requests."""

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        super().do_GET()


class _RangeHandler(_Handler):
    """Static server that honours ``Range: bytes=N-`` with 206 Partial Content."""

    def do_GET(self):
        header = self.headers.get("Range")
        if header is None:
            return super().do_GET()
        self.server.requests.append((self.path, header))
        path = Path(self.translate_path(self.path))
        match = re.fullmatch(r"bytes=(\d+)-", header)
        if not path.is_file():
            return self.send_error(404)
        size = path.stat().st_size
        if match is None or int(match.group(1)) >= size:
            return self.send_error(416)
        start = int(match.group(1))
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            shutil.copyfileobj(f, self.wfile)
        self.server.sent.append(size - start)


class _FlakyHandler(_RangeHandler):
    """Like `_RangeHandler`, but the first whole-file answer breaks off halfway."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if self.headers.get("Range") is not None or self.server.broke or not path.is_file():
            return super().do_GET()
        self.server.broke = True
        self.server.requests.append((self.path, None))
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True


@contextmanager
def serve(directory: Path, handler: type = _Handler) -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(directory))
    )
    server.requests = []
    server.sent = []
    server.broke = False
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=partial(server.serve_forever, poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url(path: str = "") -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def set_official_url(monkeypatch, source: str, url: str) -> None:
    src = SOURCES[source]
    files = tuple(dataclasses.replace(f, official_url=url) for f in src.files)
    monkeypatch.setitem(SOURCES, source, dataclasses.replace(src, files=files))


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def small_mirror(shared_data: Path, root: Path) -> Path:
    """A writable copy of the mirror holding only rruff/MANIFEST.sha256 and the IMA CSVs."""
    (root / "rruff" / "ima").mkdir(parents=True)
    shutil.copyfile(shared_data / "rruff" / "MANIFEST.sha256", root / "rruff" / "MANIFEST.sha256")
    for mirror_path in IMA:
        shutil.copyfile(shared_data / mirror_path, root / mirror_path)
    return root


# ------------------------------------------------------------------------------------ registry
def test_registry_covers_every_data_file_of_the_shared_mirror(shared_data):
    registered: dict[str, set[str]] = {}
    for src in SOURCES.values():
        for f in src.files:
            registered.setdefault(f.folder, set()).add(f.path_in_folder)
    with_manifest = {p.parent.name for p in shared_data.glob("*/MANIFEST.sha256")}
    assert set(registered) == with_manifest
    for folder, paths in registered.items():
        assert paths == manifest_entries(shared_data / folder) - {"PROVENANCE.md"}, folder


def test_only_the_rruff_zips_have_official_urls():
    official = {
        f.mirror_path: f.official_url
        for src in SOURCES.values()
        for f in src.files
        if f.official_url is not None
    }
    assert official == {
        "rruff/raman/excellent_unoriented.zip": (
            "https://rruff.info/zipped_data_files/raman/excellent_unoriented.zip"
        ),
        IR: "https://rruff.info/zipped_data_files/infrared/Processed.zip",
    }
    assert {"rruff-raman", "rruff-ir", "rruff-ima", "occurrence", "libs", "vnir"} <= set(SOURCES)
    assert "atomic-lines" in SOURCES
    assert all(src.citation and src.description for src in SOURCES.values())


def test_unknown_source_lists_the_valid_names():
    with pytest.raises(InputError, match=r"'rruff-irr' is unknown; valid names: .*rruff-ir\b"):
        get_source("rruff-irr")
    with pytest.raises(ValueError, match="atomic-lines"):
        fetch("nope", progress=False)


# ------------------------------------------------------------------------------------ mirrors
def test_folder_mirror_copies_verifies_and_is_idempotent(shared_data):
    result = fetch("rruff-ir", mirror=shared_data, progress=False)

    path = cache_dir() / "sources" / "rruff" / "infrared" / "Processed.zip"
    assert result.paths == (path,)
    assert sha256_of(path) == manifest_sha(shared_data, IR) == result.files[0].sha256
    assert not path.is_symlink()
    assert result.files[0].status == "downloaded"
    assert result.files[0].origin == str(shared_data / IR)
    assert result.files[0].size == (shared_data / IR).stat().st_size
    assert [p.name for p in path.parent.iterdir()] == ["Processed.zip"]

    before = path.stat().st_mtime_ns
    again = fetch("rruff-ir", mirror=shared_data, progress=False)
    assert [f.status for f in again.files] == ["present"]
    assert again.downloaded == ()
    assert path.stat().st_mtime_ns == before


@pytest.mark.parametrize("form", ["path string", "file URL", "LITHOSCOPE_MIRROR"])
def test_mirror_can_be_given_as_path_file_url_or_environment(form, shared_data, monkeypatch):
    mirror: str | None = {"path string": str(shared_data), "file URL": shared_data.as_uri()}.get(
        form
    )
    if form == "LITHOSCOPE_MIRROR":
        monkeypatch.setenv("LITHOSCOPE_MIRROR", str(shared_data))
        get_settings.cache_clear()
    result = fetch("rruff-ima", mirror=mirror, progress=False)
    assert [f.mirror_path for f in result.files] == IMA
    for f in result.files:
        assert f.status == "downloaded"
        assert sha256_of(f.path) == manifest_sha(shared_data, f.mirror_path)


def test_http_mirror_fetches_verifies_and_reports_json(shared_data):
    with serve(shared_data) as server:
        result = fetch("rruff-ima", mirror=server.url + "/", progress=False)
        requested = [path for path, _ in server.requests]
        again = fetch("rruff-ima", mirror=server.url, progress=False)
        requested_again = [path for path, _ in server.requests[len(requested) :]]

    assert requested == ["/rruff/MANIFEST.sha256", *(f"/{p}" for p in IMA)]
    for f in result.files:
        assert sha256_of(f.path) == manifest_sha(shared_data, f.mirror_path)
        assert f.origin == f"{server.url}/{f.mirror_path}"
    assert requested_again == ["/rruff/MANIFEST.sha256"]  # nothing downloaded again
    assert {f.status for f in again.files} == {"present"}

    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["source"] == "rruff-ima"
    first = as_json["files"][0]
    assert set(first) >= {"path", "sha256", "size", "status", "origin"}
    assert first["status"] == "downloaded"
    assert first["size"] == (shared_data / IMA[0]).stat().st_size
    assert Path(first["path"]).is_file()


def test_http_download_resumes_a_partial_file_with_range(shared_data):
    full = (shared_data / IR).read_bytes()
    target = cache_dir() / "sources" / IR
    target.parent.mkdir(parents=True)
    cut = 5_000_000
    target.with_name("Processed.zip.part").write_bytes(full[:cut])

    with serve(shared_data, _RangeHandler) as server:
        result = fetch("rruff-ir", mirror=server.url, progress=False)

    assert (f"/{IR}", f"bytes={cut}-") in server.requests
    assert server.sent == [len(full) - cut]  # only the rest travelled
    assert sha256_of(target) == manifest_sha(shared_data, IR)
    assert result.files[0].status == "downloaded"
    assert files_under(target.parent) == [target]


def test_http_download_restarts_when_the_server_ignores_range(shared_data):
    full = (shared_data / IR).read_bytes()
    target = cache_dir() / "sources" / IR
    target.parent.mkdir(parents=True)
    target.with_name("Processed.zip.part").write_bytes(full[:1_000_000])

    with serve(shared_data, _Handler) as server:  # answers 200 with the whole file
        fetch("rruff-ir", mirror=server.url, progress=False)

    assert [r for r in server.requests if r[0] == f"/{IR}"] == [(f"/{IR}", "bytes=1000000-")]
    assert target.stat().st_size == len(full)
    assert sha256_of(target) == manifest_sha(shared_data, IR)


def test_a_stale_part_that_is_not_a_prefix_is_discarded_and_downloaded_again(shared_data):
    target = cache_dir() / "sources" / IMA_0731
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(b"not the start of this file\n" * 100)

    with serve(shared_data, _RangeHandler) as server:
        fetch("rruff-ima", mirror=server.url, progress=False)

    gets = [rng for path, rng in server.requests if path == f"/{IMA_0731}"]
    assert gets == ["bytes=2700-", None]
    assert sha256_of(target) == manifest_sha(shared_data, IMA_0731)


def test_raman_zip_from_the_folder_mirror(shared_data):
    result = fetch("rruff-raman", mirror=shared_data, progress=False)
    raman = "rruff/raman/excellent_unoriented.zip"
    assert sha256_of(result.files[0].path) == manifest_sha(shared_data, raman)


def test_progress_bar_is_quiet_when_not_a_terminal(shared_data, capsys):
    fetch("rruff-ima", mirror=shared_data, progress=True)
    assert capsys.readouterr() == ("", "")


def test_dest_puts_files_under_another_root(shared_data, tmp_path):
    result = fetch("rruff-ima", mirror=shared_data, dest=tmp_path / "elsewhere", progress=False)
    assert result.paths == tuple(tmp_path / "elsewhere" / p for p in IMA)
    assert all(p.is_file() for p in result.paths)
    assert not (cache_dir() / "sources").exists()


# ------------------------------------------------------------------------------------ failures
def test_corrupt_mirror_file_is_rejected_and_nothing_is_left(shared_data, tmp_path):
    mirror = small_mirror(shared_data, tmp_path / "mirror")
    with (mirror / IMA_0731).open("ab") as f:
        f.write(b"tampered")

    with pytest.raises(ChecksumError, match=r"'rruff-ima' file '.*20220731.*sha256.*MANIFEST") as e:
        fetch("rruff-ima", mirror=mirror, progress=False)

    assert "\n" not in str(e.value)
    target = cache_dir() / "sources" / IMA_0731
    assert not target.exists()
    assert not target.with_name(target.name + ".part").exists()
    assert not target.with_name(target.name + ".part.origin").exists()


@pytest.mark.parametrize("mirror_kind", ["closed port", "unplugged folder", "file missing", "404"])
def test_no_reachable_origin_gives_a_one_line_error(
    mirror_kind, shared_data, tmp_path, monkeypatch
):
    official = closed_port_url("/zipped_data_files/infrared/Processed.zip")
    set_official_url(monkeypatch, "rruff-ir", official)
    with ExitStack() as stack:
        if mirror_kind == "closed port":
            mirror, reason = closed_port_url(), "Connection refused"
        elif mirror_kind == "unplugged folder":
            mirror, reason = str(tmp_path / "usb-drive"), "no such folder"
        elif mirror_kind == "file missing":
            mirror, reason = str(small_mirror(shared_data, tmp_path / "m")), "missing from it"
        else:
            (tmp_path / "empty").mkdir()
            mirror, reason = stack.enter_context(serve(tmp_path / "empty")).url, "MANIFEST"
        with pytest.raises(SourceUnavailableError) as e:
            fetch("rruff-ir", mirror=mirror, progress=False, timeout=5)

    message = str(e.value)
    assert "\n" not in message
    assert "'rruff-ir'" in message
    assert f"mirror '{mirror}'" in message
    assert reason in message
    assert f"official URL {official} (Connection refused)" in message
    assert "--mirror DIR_OR_URL" in message and "LITHOSCOPE_MIRROR" in message
    assert "check the network connection to 127.0.0.1" in message
    assert files_under(cache_dir() / "sources") == []


def test_mirror_only_source_without_a_mirror_says_so():
    with pytest.raises(
        SourceUnavailableError,
        match=r"'rruff-ima' .*no mirror given; no official URL .*--mirror DIR_OR_URL",
    ):
        fetch("rruff-ima", progress=False)


@pytest.mark.parametrize(
    ("mirror", "match"),
    [
        ("ftp://example.org/data", "unsupported scheme 'ftp'"),
        ("", "is empty"),
        ("http:///data", "no host"),
    ],
)
def test_malformed_mirror_argument(mirror, match):
    with pytest.raises(InputError, match=match):
        fetch("rruff-ir", mirror=mirror, progress=False)


def test_malformed_manifest_names_file_and_line(tmp_path):
    (tmp_path / "rruff").mkdir()
    (tmp_path / "rruff" / "MANIFEST.sha256").write_text("deadbeef  ./infrared/Processed.zip\n")
    with pytest.raises(InputError, match=r"MANIFEST.sha256 line 1: expected '<64 hex digits>"):
        fetch("rruff-ir", mirror=tmp_path, progress=False)


def test_timeout_must_be_positive():
    with pytest.raises(InputError, match="timeout 0"):
        fetch("rruff-ir", timeout=0, progress=False)


# ------------------------------------------------------------------------------------ official
def test_official_download_pins_its_checksum_and_rejects_a_changed_file(tmp_path, monkeypatch):
    served = tmp_path / "publisher"
    served.mkdir()
    original = bytes(range(256)) * 4000
    (served / "Processed.zip").write_bytes(original)
    with serve(served) as server:
        url = f"{server.url}/Processed.zip"
        set_official_url(monkeypatch, "rruff-ir", url)
        target = cache_dir() / "sources" / IR

        first = fetch("rruff-ir", progress=False)
        assert first.files[0].status == "downloaded"
        assert first.files[0].origin == url
        assert target.read_bytes() == original
        pins = json.loads((cache_dir() / "checksums.json").read_text())["pinned"]
        assert pins[url]["sha256"] == hashlib.sha256(original).hexdigest()

        n = len(server.requests)
        assert fetch("rruff-ir", progress=False).files[0].status == "present"
        assert len(server.requests) == n  # present and pinned: no network at all

        target.unlink()
        assert fetch("rruff-ir", progress=False).files[0].status == "downloaded"

        (served / "Processed.zip").write_bytes(original[::-1])
        assert fetch("rruff-ir", progress=False).files[0].status == "present"
        target.unlink()
        with pytest.raises(ChecksumError, match=r"differs from the checksum pinned at its first"):
            fetch("rruff-ir", progress=False)
    assert files_under(target.parent) == []


def test_an_interrupted_first_official_download_resumes_and_pins_the_whole_file(
    tmp_path, monkeypatch
):
    served = tmp_path / "publisher"
    served.mkdir()
    original = bytes(range(256)) * 4000
    (served / "Processed.zip").write_bytes(original)
    target = cache_dir() / "sources" / IR
    with serve(served, _FlakyHandler) as server:
        url = f"{server.url}/Processed.zip"
        set_official_url(monkeypatch, "rruff-ir", url)
        with pytest.raises(SourceUnavailableError, match=r"after 512000 of 1024000 bytes; run"):
            fetch("rruff-ir", progress=False)
        assert target.with_name("Processed.zip.part").stat().st_size == len(original) // 2

        result = fetch("rruff-ir", progress=False)

    assert server.requests == [("/Processed.zip", None), ("/Processed.zip", "bytes=512000-")]
    assert result.files[0].status == "downloaded"
    assert target.read_bytes() == original
    pins = json.loads((cache_dir() / "checksums.json").read_text())["pinned"]
    assert pins[url]["sha256"] == hashlib.sha256(original).hexdigest()
    assert files_under(target.parent) == [target]


def test_a_verified_copy_is_used_offline(shared_data, monkeypatch):
    set_official_url(monkeypatch, "rruff-ir", closed_port_url("/Processed.zip"))
    fetch("rruff-ir", mirror=shared_data, progress=False)
    fetch("rruff-ima", mirror=shared_data, progress=False)

    offline = fetch("rruff-ir", progress=False)  # no mirror; official URL unreachable
    assert offline.files[0].status == "present"
    assert offline.files[0].origin == str(shared_data / IR)
    assert offline.warnings == ()
    assert {f.status for f in fetch("rruff-ima", progress=False).files} == {"present"}

    dead_mirror = closed_port_url()
    result = fetch("rruff-ima", mirror=dead_mirror, progress=False)
    assert {f.status for f in result.files} == {"present"}
    assert len(result.warnings) == len(IMA)
    assert all(dead_mirror in w and "Connection refused" in w for w in result.warnings)


# ------------------------------------------------------------------------------------ helpers
def test_local_path_and_open_source_file_fetch_only_what_is_asked(shared_data, monkeypatch):
    monkeypatch.setenv("LITHOSCOPE_MIRROR", str(shared_data))
    get_settings.cache_clear()

    path = local_path("rruff-ima", "RRUFF_Export_20220731_223900.csv", progress=False)
    assert path == cache_dir() / "sources" / IMA_0731
    assert path.read_bytes() == (shared_data / IMA_0731).read_bytes()
    assert files_under(cache_dir() / "sources") == [path]

    other = "rruff/ima/RRUFF_Export_20220228_102415.csv"
    with open_source_file("rruff-ima", other, progress=False) as f:
        assert f.read() == (shared_data / other).read_bytes()

    with pytest.raises(InputError, match=r"no file named 'x.csv'; valid names: RRUFF_Export"):
        local_path("rruff-ima", "x.csv")
