"""Bring outside files in safely: URL downloads and uploads, with size, time and address limits."""

from __future__ import annotations

import ipaddress
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from fleetlake.errors import InvalidParameter, SourceRejected, UploadTooLarge

MAX_REDIRECTS = 5


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def check_url_allowed(url: str, *, allow_private: bool, field: str = "sources") -> None:
    """Refuse URLs whose host resolves to a private, loopback or link-local address (a first
    check, to fail early with a clear message; `guarded_http` checks again at connect time)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(field, f"{url!r} is not an http(s) URL with a host")
    if not allow_private:
        public_address(parts.hostname, parts.port or 443, label=url, field=field)


def public_address(host: str, port: int, *, label: str, field: str = "sources") -> str:
    """The address to connect to for `host`: every address it resolves to must be public."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise SourceRejected(f"cannot resolve host of {label!r}: {exc}", field=field) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise SourceRejected(
                f"{label!r} points to the non-public address {address}; "
                "set FLEETLAKE_ALLOW_PRIVATE_URLS=true to allow it",
                field=field,
                address=str(address),
            )
    return str(infos[0][4][0])


def download(
    url: str, *, dest_dir: Path, max_bytes: int, timeout_s: float, allow_private: bool
) -> Path:
    """Stream a URL to a file under `dest_dir`; every redirect hop is checked again."""
    from fleetlake.platform.guarded_http import guarded_client

    dest_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urlsplit(url).path).name or "download.csv"
    target = dest_dir / f"{uuid.uuid4().hex[:12]}-{name}"
    deadline = time.monotonic() + timeout_s
    with guarded_client(timeout_s=timeout_s, allow_private=allow_private) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url_allowed(url, allow_private=allow_private)
            with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise SourceRejected(
                        f"{url} answered HTTP {response.status_code}", status=response.status_code
                    )
                _write_limited(response.iter_bytes(), target, max_bytes, deadline, url)
                return target
    raise SourceRejected(f"{url} redirected more than {MAX_REDIRECTS} times")


def _write_limited(
    chunks: Iterable[bytes], target: Path, max_bytes: int, deadline: float, label: str
) -> None:
    written = 0
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(
                        f"{label} is larger than the limit of {max_bytes} bytes; "
                        "raise FLEETLAKE_MAX_UPLOAD_BYTES to accept it",
                        limit_bytes=max_bytes,
                    )
                if time.monotonic() > deadline:
                    raise SourceRejected(f"{label} took longer than the download time limit")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


async def save_stream(
    chunks: AsyncIterator[bytes], *, dest_dir: Path, name: str, max_bytes: int
) -> Path:
    """Save an uploaded body to `dest_dir`, refusing it past `max_bytes`."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    safe_name = Path(name).name or "upload.csv"
    target = dest_dir / f"{uuid.uuid4().hex[:12]}-{safe_name}"
    written = 0
    try:
        with target.open("wb") as out:
            async for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(
                        f"upload {safe_name!r} is larger than the limit of {max_bytes} bytes",
                        field="file",
                        limit_bytes=max_bytes,
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
