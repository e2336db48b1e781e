"""The Parquet lake: paths under one root URI, atomic writes, partition listing."""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """zstd, dictionaries for text columns only: numbers and timestamps of measurements are
    mostly distinct, and trying a dictionary on them first doubled the write time."""
    text = [
        field.name
        for field in schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    return {"compression": "zstd", "use_dictionary": text}


_THREAD_LOCKS: dict[tuple[str, str], threading.Lock] = {}


def is_data_file(path: str, base: str, suffix: str = ".parquet") -> bool:
    """Whether `path` under `base` is data: buffers, quarantine, state and temporaries live in
    folders or files named `_…` or `.…` (the Hive convention Spark and DuckDB users know)."""
    if not path.endswith(suffix):
        return False
    path, base = path.lstrip("/"), base.lstrip("/")
    relative = path[len(base) :] if path.startswith(base) else path
    return not any(part.startswith(("_", ".")) for part in relative.split("/"))


def temporary_path(parent: str) -> str:
    """Where a file is written before its rename into place: hidden (`.…`) and without a data
    suffix, so that no reader's glob (`**/*.parquet`) sees a half-written or crashed file."""
    return f"{parent}/.tmp-{uuid.uuid4().hex}.partial"


@lru_cache(maxsize=32)
def _filesystem(root_uri: str) -> tuple[Any, str]:
    """The URI's filesystem and root, parsed once: a Lake is made per request (~0.1 ms)."""
    fs, root = fsspec.core.url_to_fs(root_uri)
    return fs, str(root)


def _modified(info: dict[str, Any]) -> float:
    """A file's modification time whatever the filesystem calls it."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if value is not None:
            return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)
    return 0.0


class Lake:
    """A lake rooted at a local path or any fsspec URI (`s3://bucket/prefix`, `memory://…`)."""

    def __init__(self, root_uri: str) -> None:
        self.fs, root = _filesystem(root_uri)
        self.root = root.rstrip("/")
        self.is_local = self.fs.protocol in ("file", "local") or "file" in self.fs.protocol

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def write_parquet(self, table: pa.Table, *parts: str) -> str:
        """Write whole or not at all: a temp file beside the target, then a rename."""
        target = self.path(*parts)
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        options = parquet_options(table.schema)
        if not self.is_local:
            # Object stores commit a single PUT atomically.
            with self.fs.open(target, "wb") as out:
                pq.write_table(table, out, **options)
            return target
        temp = temporary_path(parent)
        try:
            pq.write_table(table, temp, **options)
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.remove(temp)
        return target

    def write_json(self, value: Any, *parts: str) -> None:
        """A small JSON document (a stage's state), whole or not at all, like Parquet files."""
        target = self.path(*parts)
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        data = json.dumps(value, indent=1, sort_keys=True, default=str).encode()
        if not self.is_local:
            self.fs.pipe_file(target, data)
            return
        temp = temporary_path(parent)
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def read_json(self, *parts: str, default: Any = None) -> Any:
        if not self.exists(*parts):
            return default
        return json.loads(self.fs.cat_file(self.path(*parts)))

    def modified_files(self, *parts: str, suffix: str = ".parquet") -> dict[str, float]:
        """Path → modification time (epoch seconds) of every data file under `parts`."""
        base = self.path(*parts)
        if not self.fs.exists(base):
            return {}
        found: dict[str, Any] = self.fs.find(base, detail=True)
        return {
            str(path): _modified(info)
            for path, info in found.items()
            if is_data_file(str(path), base, suffix)
        }

    def read_parquet(self, *parts: str) -> pa.Table:
        with self.fs.open(self.path(*parts), "rb") as handle:
            return pq.read_table(handle)

    def duckdb(self, *, memory_limit_mb: int) -> Any:
        """A DuckDB connection that reads this lake, bounded in memory: past the limit its
        sorts and aggregations spill under `<lake>/_tmp/duckdb` (local lakes)."""
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET threads = 2")
        connection.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        connection.execute("SET preserve_insertion_order = false")
        if self.is_local:
            spill = self.path("_tmp", "duckdb")
            self.fs.makedirs(spill, exist_ok=True)
            connection.execute(f"SET temp_directory = '{spill}'")  # our own path
        else:
            connection.register_filesystem(self.fs)  # DuckDB reads the lake through fsspec
        return connection

    def duckdb_paths(self, paths: list[str]) -> list[str]:
        """Paths as DuckDB opens them: plain for local files, protocol-prefixed otherwise."""
        if self.is_local:
            return paths
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return [f"{protocol}://{p}" for p in paths]

    def remove_dir(self, *parts: str) -> None:
        target = self.path(*parts)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def exists(self, *parts: str) -> bool:
        return bool(self.fs.exists(self.path(*parts)))

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lake's lock `name` (waiting for it): work that rewrites the same files
        runs one at a time — across threads and, on a local lake, across processes."""
        with _THREAD_LOCKS.setdefault((self.root, name), threading.Lock()):
            if not self.is_local:
                yield
                return
            path = self.path("_state", "locks", f"{name}.lock")
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
            with open(path, "a") as handle:  # the kernel drops the lock if the process dies
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_temporaries(self, *parts: str, older_than_s: float = 3600.0) -> int:
        """Remove what crashed writers left under `parts` (`.tmp-….partial`, hidden from every
        glob but taking space); a file younger than `older_than_s` may be a live writer's."""
        base = self.path(*parts)
        if not self.fs.exists(base):
            return 0
        now, removed = time.time(), 0
        for path, info in self.fs.find(base, detail=True).items():
            name = str(path).rsplit("/", 1)[-1]
            stale = now - _modified(info) >= older_than_s
            if name.startswith(".tmp-") and name.endswith(".partial") and stale:
                self.fs.rm(path)
                removed += 1
        return removed

    def remove_files_except(self, *parts: str, keep: set[str]) -> int:
        """Remove the data files under `parts` whose path is not in `keep` (what a rewrite of
        the whole folder did not write again); returns how many."""
        stale = [path for path in self.list_files(*parts) if path not in keep]
        for path in stale:
            self.fs.rm(path)
        return len(stale)

    def list_files(self, *parts: str, suffix: str = ".parquet") -> list[str]:
        """The data files under `parts`, sorted (see `is_data_file`)."""
        base = self.path(*parts)
        if not self.fs.exists(base):
            return []
        found: list[Any] = self.fs.find(base)
        return sorted(str(p) for p in found if is_data_file(str(p), base, suffix))
