"""What a user names to ingest — files, folders, URLs — checked before a job is queued,
and made local when the job runs."""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path
from urllib.parse import urlsplit

from fleetlake.errors import InvalidParameter, SourceRejected
from fleetlake.platform import fetch
from fleetlake.platform.page_cache import read_sequentially
from fleetlake.settings import Settings


def resolve_sources(
    specs: list[str],
    *,
    settings: Settings,
    suffixes: tuple[str, ...],
    restrict_to: list[Path] | None = None,
) -> list[str]:
    """Expand folders to their files ending in `suffixes` and refuse what cannot be ingested.

    `restrict_to` (used by the API) keeps remote callers inside the import folders, and a
    relative path is then looked up in those folders (the server's working directory means
    nothing to a remote caller).
    """
    if not specs:
        raise InvalidParameter("sources", "give at least one path, folder or URL to ingest")
    resolved: list[str] = []
    for spec in specs:
        if fetch.is_url(spec):
            fetch.check_url_allowed(spec, allow_private=settings.allow_private_urls)
            resolved.append(spec)
            continue
        try:
            path = _local_path(spec, import_dirs=restrict_to)
            is_dir, is_file = path.is_dir(), path.is_file()
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the system
            raise InvalidParameter(
                "sources", f"{spec[:200]!r} is not a usable path: {exc}"
            ) from exc
        if is_dir:
            found = sorted(p for p in path.iterdir() if p.name.endswith(suffixes))
            if not found:
                wanted = " or ".join(suffixes)
                raise InvalidParameter("sources", f"folder {spec} holds no {wanted} file")
            resolved.extend(str(p) for p in found)
        elif is_file:
            resolved.append(str(path))
        elif restrict_to is not None and not Path(spec).expanduser().is_absolute():
            folders = ", ".join(str(d) for d in restrict_to)
            raise InvalidParameter(
                "sources",
                f"{spec} does not exist in the import folders ({folders}): relative paths are "
                "looked up there; give an absolute path or one relative to an import folder",
            )
        else:
            raise InvalidParameter("sources", f"{spec} does not exist")
    return resolved


def _local_path(spec: str, *, import_dirs: list[Path] | None) -> Path:
    """The absolute path `spec` names: relative to the first import folder holding it (API),
    or to the working directory (CLI); outside the import folders is refused."""
    given = Path(spec).expanduser()
    if import_dirs is None:
        return given.resolve()
    if given.is_absolute():
        path = given.resolve()
    else:
        candidates = [(d / given).resolve() for d in import_dirs]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not any(path.is_relative_to(d) for d in import_dirs):
        allowed = ", ".join(str(d) for d in import_dirs)
        raise InvalidParameter("sources", f"{spec} is outside the import folders ({allowed})")
    return path


def source_name(source: str) -> str:
    """What a result calls a source: the file's name (a URL's without its query, where
    tokens travel), or the host for a URL without a path."""
    if fetch.is_url(source):
        parts = urlsplit(source)
        return Path(parts.path).name or parts.hostname or "download"
    return Path(source).name or source


HASH_READ_BYTES = 8 << 20


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read by a thread while this one hashes: on a file not in the page
    cache the time is the larger of reading and hashing, not their sum (100 M trips: 15 -> 10 s)."""
    pieces: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=4)

    def read_ahead() -> None:
        try:
            with path.open("rb", buffering=0) as handle:
                read_sequentially(handle)
                while piece := handle.read(HASH_READ_BYTES):
                    pieces.put(piece)
            pieces.put(b"")
        except BaseException as exc:  # handed to the hashing side, which raises it
            pieces.put(exc)

    threading.Thread(target=read_ahead, name="sha256-read", daemon=True).start()
    digest = hashlib.sha256()
    while piece := pieces.get():
        if isinstance(piece, BaseException):
            raise piece
        digest.update(piece)  # releases the GIL: the reader runs meanwhile
    return digest.hexdigest()


def materialise(source: str, *, settings: Settings, job_id: int) -> Path:
    """A local file for the source: URLs are downloaded under home first."""
    if fetch.is_url(source):
        return fetch.download(
            source,
            dest_dir=settings.home_dir / "data" / "downloads" / f"job-{job_id}",
            max_bytes=settings.max_upload_bytes,
            timeout_s=settings.url_timeout_s,
            allow_private=settings.allow_private_urls,
        )
    path = Path(source)
    if not path.is_file():
        raise SourceRejected(f"{source} does not exist or is not a file")
    return path
