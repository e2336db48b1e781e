"""Secrets in URLs are masked wherever a source is shown; the rest of the URL stays readable."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fleetlake.platform.redact import hide_home, redact, redact_text, redact_url

SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=12, max_size=30)
NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)


def test_known_shapes() -> None:
    assert (
        redact_url("https://ann:pw@example.com:8443/a.csv")
        == "https://ann:***@example.com:8443/a.csv"
    )
    assert (
        redact_url("https://example.com/a.csv?token=abc&day=2")
        == "https://example.com/a.csv?token=***&day=2"
    )
    assert redact_url("mqtts://fleet:pw@broker:8883") == "mqtts://fleet:***@broker:8883"
    assert redact_url("https://tok@example.com/x") == "https://***@example.com/x"  # a bare token
    assert redact_url("https://example.com/a.csv") == "https://example.com/a.csv"
    assert redact_text("example.com/a.csv (no scheme)") == "example.com/a.csv (no scheme)"


@given(
    user=NAME,
    password=SECRET,
    token=SECRET,
    name=st.sampled_from(
        ["token", "access_token", "api_key", "X-Amz-Signature", "secret", "password", "sig"]
    ),
)
def test_no_secret_survives_in_any_shown_text(
    user: str, password: str, token: str, name: str
) -> None:
    url = f"https://{user}:{password}@data.example.com/trips.csv?{name}={token}&day=2026-11-16"
    for shown in (
        redact_url(url),
        redact_text(f"source {url}: answered HTTP 404"),
        redact({"params": {"sources": [url]}, "error": f"{url} failed"}),
    ):
        text = str(shown)
        assert password not in text and token not in text
        assert "data.example.com/trips.csv" in text and "day=2026-11-16" in text and user in text


def test_the_home_is_written_home() -> None:
    home = Path("/srv/fleetlake/var")
    job = {"params": {"sources": ["/srv/fleetlake/var/data/uploads/ab12-trips.csv"]}, "id": 3}
    assert hide_home(job, home=home) == {
        "params": {"sources": ["<home>/data/uploads/ab12-trips.csv"]},
        "id": 3,
    }
