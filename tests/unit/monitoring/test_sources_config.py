"""Monitoring's tables of the sources file: read with secrets from the environment, typos
named, and a file without them (or none at all) meaning no monitoring sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlake.errors import InvalidParameter
from fleetlake.monitoring.sources_config import load_monitoring_sources

OMNIA = """
[[http]]
name = "fleet"
url = "https://api.example.com/t"

[[monitoring.omnia]]
name = "omnia"
url = "https://api.example.com/plant/timeseries/v1.7"
token_url = "https://login.example.com/token"
client_id = "me"
client_secret_env = "OMNIA_TEST_SECRET"
scope = "r/.default"
calls_per_day = 900
every_s = 30
good_statuses = [192, 0]

[[monitoring.mqtt]]
name = "gas"
url = "mqtt://broker:1883"
topics = ["gas/+"]
"""


def test_both_kinds_of_source_are_read_with_the_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIA_TEST_SECRET", "hush")
    path = tmp_path / "sources.toml"
    path.write_text(OMNIA)
    found = load_monitoring_sources(path)
    [omnia], [gas] = found.omnia, found.mqtt
    assert (omnia.every_s, omnia.good_statuses, omnia.page_size) == (30.0, (192, 0), 10_000)
    assert (omnia.access.client_secret, omnia.access.scope) == ("hush", "r/.default")
    assert (omnia.access.calls_per_day, omnia.access.name) == (900, "omnia")
    assert gas.topics == ("gas/+",) and found.omnia_source("omnia") is omnia
    with pytest.raises(InvalidParameter, match=r"no \[\[monitoring.omnia\]\] source 'x'"):
        found.omnia_source("x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[monitoring.omnia]]\nname = "o"\nurl = "u"\nevery = 3\n', "unknown key 'every'"),
        ('[[monitoring.omnia]]\nname = "o"\nurl = "u"\nclient_secret_env = "NOPE_X"\n',
         "environment variable NOPE_X is not set"),
        ('[[monitoring.mqtt]]\nname = "m"\nurl = "u"\ntopics = "gas/+"\n', "a list"),
        ('[[monitoring.mqtt]]\nname = "m"\nurl = "u"\n', "needs name and url and topics"),
        ('[[monitoring.omnia]]\nname = "o"\nurl = "u"\nevery_s = "often"\n', "not a number"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(InvalidParameter, match=message):
        load_monitoring_sources(path)


def test_no_file_or_no_section_is_no_sources(tmp_path: Path) -> None:
    missing = load_monitoring_sources(tmp_path / "none.toml", missing_ok=True)
    assert (missing.omnia, missing.mqtt) == ([], [])
    (tmp_path / "s.toml").write_text('[[http]]\nname = "a"\nurl = "b"\n')
    assert load_monitoring_sources(tmp_path / "s.toml").omnia == []
