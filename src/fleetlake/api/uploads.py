"""Uploads shared by the domains' import routes: a multipart file saved under home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from fleetlake.errors import InvalidParameter, UploadTooLarge
from fleetlake.platform import fetch
from fleetlake.settings import Settings


async def save_upload(request: Request, settings: Settings) -> Path:
    """A multipart upload (field `file`) saved under home, within the size limit."""
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise InvalidParameter("file", "uploads need a numeric Content-Length header")
    if int(declared) > limit + 64 * 1024:  # multipart framing adds a little
        raise UploadTooLarge(
            f"upload of {declared} bytes exceeds the limit of {limit} bytes",
            field="file",
            limit_bytes=limit,
        )
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidParameter("file", "multipart body needs a file in field 'file'")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(1 << 20):
            yield chunk

    return await fetch.save_stream(
        chunks(),
        dest_dir=settings.home_dir / "data" / "uploads",
        name=upload.filename or "upload.csv",
        max_bytes=limit,
    )
