"""Public data sources: the registry, and fetching with mirrors, checksums and resume."""

from lithoscope.data.fetch import (
    ChecksumError,
    FetchedFile,
    FetchResult,
    SourceUnavailableError,
    fetch,
    local_path,
    open_source_file,
)
from lithoscope.data.sources import SOURCES, DataSource, SourceFile, get_source

__all__ = [
    "SOURCES",
    "ChecksumError",
    "DataSource",
    "FetchResult",
    "FetchedFile",
    "SourceFile",
    "SourceUnavailableError",
    "fetch",
    "get_source",
    "local_path",
    "open_source_file",
]
