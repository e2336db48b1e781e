"""Sources: the read-ahead SHA-256 of a file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.platform import sources
from fleetlake.platform.sources import sha256_of


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=5000), piece=st.integers(1, 700))
def test_sha256_read_ahead_equals_hashlib_whatever_the_piece_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, piece: int
) -> None:
    monkeypatch.setattr(sources, "HASH_READ_BYTES", piece)
    path = tmp_path / "any.bin"
    path.write_bytes(body)
    assert sha256_of(path) == hashlib.sha256(body).hexdigest()


def test_sha256_of_a_missing_file_raises_in_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sha256_of(tmp_path / "gone.csv")
