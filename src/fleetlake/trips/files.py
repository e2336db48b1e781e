"""Reading a trips CSV (plain or gzip) as whole-line blocks, resumable at a byte offset."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetlake.errors import SourceRejected
from fleetlake.platform.page_cache import drop_cached
from fleetlake.trips.schema import CSV_HEADER

MAX_LINE_BYTES = 1 << 20
LONG_LINE = "line longer than the 1 MiB limit"  # the reader's reason and the parser's
FIRST_BLOCK_BYTES = 1 << 20
BlockBytes = bytes | bytearray  # a block is the read buffer itself, not a copy of it


Refused = tuple[tuple[int, str, str], ...]  # (line, raw prefix, reason) per refused line
NOTHING_REFUSED: Refused = ()


@dataclass(frozen=True)
class Block:
    offset: int  # position of the block in the (decompressed) stream
    end_offset: int
    first_line: int
    end_line: int  # the line just past the block: where a resumed read starts counting
    data: BlockBytes
    raw_position: int  # bytes of the file on disk consumed so far (progress)
    # Lines the reader refused itself, as (line, raw prefix, reason): the data holds an
    # empty line in their place, so that line numbers stay exact.
    refused: Refused = NOTHING_REFUSED


class Gunzip(io.RawIOBase):
    """A .gz file (one member or several) as a stream of its text that gives every byte it
    could decompress before a break: GzipFile loses the bytes of a read that meets the end
    of a truncated file. A break raises EOFError or zlib.error on the read after them."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw, self._inflate = raw, zlib.decompressobj(31)
        self._input = self._pending = b""
        self._started = self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, view: Any) -> int:
        while not self._pending:
            if self._done:
                return 0
            self._fill()
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _fill(self) -> None:
        if not self._input:
            self._input = self._raw.read(1 << 16)
            if not self._input:
                if self._started and not self._inflate.eof:
                    raise EOFError("the compressed file ends before its end-of-stream marker")
                self._done = True
                return
        if self._inflate.eof:  # the next member of a concatenated .gz
            self._inflate = zlib.decompressobj(31)
        self._started = True
        self._pending = self._inflate.decompress(self._input, 1 << 20)
        self._input = self._inflate.unconsumed_tail or self._inflate.unused_data


def _open(raw: io.BufferedIOBase, path: Path) -> io.BufferedIOBase | Gunzip:
    return Gunzip(raw) if path.name.endswith(".gz") else raw


def _read_up_to(stream: io.BufferedIOBase | Gunzip, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end (a raw stream may answer short reads)."""
    pieces, wanted = [], size
    while wanted and (piece := stream.read(wanted)):
        pieces.append(piece)
        wanted -= len(piece)
    return b"".join(pieces)


def read_header(path: Path) -> tuple[str, int]:
    """The header line and its length in bytes; rejects empty, binary and foreign files."""
    with path.open("rb") as raw:
        stream = _open(raw, path)
        try:
            head = _read_up_to(stream, 8192)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceRejected(f"{path.name}: cannot be read as gzip ({exc})") from exc
    if not head.strip():
        raise SourceRejected(f"{path.name} is empty: there is no header and no trip")
    line = head.split(b"\n", 1)[0]
    if b"\x00" in line:  # a NUL in a data line is that line's problem, not the file's
        raise SourceRejected(f"{path.name} is a binary file, not a CSV text file")
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
    A line longer than MAX_LINE_BYTES is refused whole (memory stays bounded: it is
    skipped, never held), and a compressed file that breaks off ends with the line it
    cut refused: every line before the break is kept.
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
            buffer, broken = _read_after(stream, carry, size)
            size = min(size * 4, chunk_bytes)
            cut = buffer.rfind(b"\n")
            tail = len(buffer) - cut - 1  # bytes of the unfinished last line
            if broken is not None or len(buffer) == len(carry):  # the end, or a break
                if buffer or broken is not None:
                    yield _last_block(buffer, offset, line, raw.tell(), broken)
                return
            if tail < MAX_LINE_BYTES:
                if cut == -1:
                    carry = bytes(buffer)
                    continue
                carry = bytes(buffer[cut + 1 :])
                del buffer[cut + 1 :]  # in place: the block is the buffer itself, not a copy
                skipped, refused = 0, NOTHING_REFUSED
            else:
                long_line = line + buffer.count(b"\n", 0, cut + 1)
                prefix = bytes(buffer[cut + 1 : cut + 201]).decode("utf-8", "replace")
                skipped, carry = _skip_line(stream, already=tail)
                del buffer[cut + 1 :]
                buffer += b"\n"  # the refused line's place
                refused, skipped = ((long_line, prefix + "…", LONG_LINE),), skipped - 1
            end_line = line + buffer.count(b"\n")
            end = offset + len(buffer) + skipped
            yield Block(offset, end, line, end_line, buffer, raw.tell(), refused)
            offset, line = end, end_line
            # The input is read once: its cached pages go first, not the database's.
            drop_cached(raw, raw.tell())


def _last_block(
    buffer: bytearray, offset: int, line: int, raw_position: int, broken: str | None
) -> Block:
    """What is left at the end of the stream; when it broke off, its cut line is refused."""
    refused: Refused = NOTHING_REFUSED
    if broken is not None:
        cut = buffer.rfind(b"\n")
        cut_line = line + buffer.count(b"\n", 0, cut + 1)
        prefix = bytes(buffer[cut + 1 : cut + 201]).decode("utf-8", "replace")
        why = f"the file breaks off here ({broken}): this line and anything after it are lost"
        refused = ((cut_line, prefix, why),)
        del buffer[cut + 1 :]
        buffer += b"\n"
    end_line = line + buffer.count(b"\n")
    return Block(offset, offset + len(buffer), line, end_line, buffer, raw_position, refused)


def _skip_line(stream: io.BufferedIOBase | Gunzip, *, already: int) -> tuple[int, bytes]:
    """Read past the rest of an overlong line: (its bytes with the newline, what follows)."""
    skipped = already
    while chunk := stream.read(1 << 20):
        newline = chunk.find(b"\n")
        if newline != -1:
            return skipped + newline + 1, chunk[newline + 1 :]
        skipped += len(chunk)
    return skipped + 1, b""  # the file ended inside the line


def _read_after(
    stream: io.BufferedIOBase | Gunzip, carry: bytes, size: int
) -> tuple[bytearray, str | None]:
    """`carry` then up to `size` bytes of the stream, read straight into one buffer; and
    why the stream broke off, when it did (a truncated or corrupt .gz)."""
    buffer = bytearray(len(carry) + size)
    buffer[: len(carry)] = carry
    view = memoryview(buffer)
    filled, broken = len(carry), None
    while filled < len(buffer):
        try:
            count = stream.readinto(view[filled:])
        except (EOFError, OSError, zlib.error) as exc:  # what was read before it is kept
            broken = f"{type(exc).__name__}: {exc}"
            break
        if not count:
            break
        filled += count
    view.release()
    del buffer[filled:]
    return buffer, broken


def _skip(stream: io.BufferedIOBase | Gunzip, offset: int) -> None:
    if stream.seekable() and not isinstance(stream, Gunzip):
        stream.seek(offset)
        return
    remaining = offset
    while remaining:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        remaining -= len(chunk)
