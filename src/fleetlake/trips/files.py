"""Reading a trips CSV (plain or gzip) as whole-line blocks, resumable at a byte offset."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fleetlake.errors import SourceRejected
from fleetlake.platform.page_cache import drop_cached
from fleetlake.trips.schema import CSV_HEADER

MAX_LINE_BYTES = 1 << 20
FIRST_BLOCK_BYTES = 1 << 20
BlockBytes = bytes | bytearray  # a block is the read buffer itself, not a copy of it


@dataclass(frozen=True)
class Block:
    offset: int  # position of the block in the (decompressed) stream
    end_offset: int
    first_line: int
    end_line: int  # the line just past the block: where a resumed read starts counting
    data: BlockBytes
    raw_position: int  # bytes of the file on disk consumed so far (progress)


def _open(raw: io.BufferedIOBase, path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def read_header(path: Path) -> tuple[str, int]:
    """The header line and its length in bytes; rejects empty, binary and foreign files."""
    with path.open("rb") as raw:
        stream = _open(raw, path)
        try:
            head = stream.read(8192)
        except (OSError, EOFError) as exc:
            raise SourceRejected(f"{path.name}: cannot be read as gzip ({exc})") from exc
    if not head.strip():
        raise SourceRejected(f"{path.name} is empty: there is no header and no trip")
    if b"\x00" in head:
        raise SourceRejected(f"{path.name} is a binary file, not a CSV text file")
    line = head.split(b"\n", 1)[0]
    try:
        header = line.rstrip(b"\r").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceRejected(f"{path.name}: the header is not UTF-8 text") from exc
    names = tuple(name.strip().strip('"').lower() for name in header.split(","))
    if names != CSV_HEADER:
        raise SourceRejected(
            f"{path.name}: header is {header[:200]!r}; expected {','.join(CSV_HEADER)}",
            header=header[:200],
        )
    return header, len(line) + 1


def read_blocks(
    path: Path, *, start_offset: int, start_line: int, chunk_bytes: int
) -> Iterator[Block]:
    """Blocks of whole lines from `start_offset` (just past the header when 0).

    The first blocks are small (FIRST_BLOCK_BYTES, then 4x larger up to `chunk_bytes`) so
    that the first commit, and the first progress, come early; later ones `chunk_bytes`.
    """
    _, header_bytes = read_header(path)
    offset = max(start_offset, header_bytes)
    line = start_line if start_offset >= header_bytes else 2
    size = min(FIRST_BLOCK_BYTES, chunk_bytes)
    with path.open("rb") as raw:
        stream = _open(raw, path)
        _skip(stream, offset)
        carry = b""
        while True:
            buffer = _read_after(stream, carry, size)
            size = min(size * 4, chunk_bytes)
            if len(buffer) == len(carry):  # end of the stream
                if buffer:
                    end_line = line + buffer.count(b"\n")
                    yield Block(offset, offset + len(buffer), line, end_line, buffer, raw.tell())
                return
            cut = buffer.rfind(b"\n")
            if cut == -1 and len(buffer) < MAX_LINE_BYTES:
                carry = bytes(buffer)
                continue
            # A line longer than MAX_LINE_BYTES is cut so that memory stays bounded.
            cut = cut if cut != -1 else len(buffer) - 1
            carry = bytes(buffer[cut + 1 :])
            del buffer[cut + 1 :]  # in place: the block is the buffer itself, not a copy
            end_line = line + buffer.count(b"\n")
            yield Block(offset, offset + len(buffer), line, end_line, buffer, raw.tell())
            offset, line = offset + len(buffer), end_line
            # The input is read once: its cached pages go first, not the database's.
            drop_cached(raw, raw.tell())


def _read_after(stream: io.BufferedIOBase, carry: bytes, size: int) -> bytearray:
    """`carry` then up to `size` bytes of the stream, read straight into one buffer."""
    buffer = bytearray(len(carry) + size)
    buffer[: len(carry)] = carry
    view = memoryview(buffer)
    filled = len(carry)
    while filled < len(buffer):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    view.release()
    del buffer[filled:]
    return buffer


def _skip(stream: io.BufferedIOBase, offset: int) -> None:
    if stream.seekable() and not isinstance(stream, gzip.GzipFile):
        stream.seek(offset)
        return
    remaining = offset
    while remaining:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        remaining -= len(chunk)
