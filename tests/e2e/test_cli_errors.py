"""Every way a user gets a command wrong ends in one line that names the value and the fix,
and exit code 1 — never a traceback, a class name or the same error twice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import cli, cli_env, free_port

pytestmark = pytest.mark.slow


def one_line_error(run: object, *words: str) -> str:
    assert run.returncode == 1, (run.stdout, run.stderr)  # type: ignore[attr-defined]
    lines = [line for line in run.stderr.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    for leak in ("Traceback", "BadParameter", "Value error", "__init__", "pydantic"):
        assert leak not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("trips", "weekly-average", "--region", "Turin", "--start", "2018-02-30"),
         ("--start", "'2018-02-30' is not a day YYYY-MM-DD", "day is out of range")),
        (("telemetry", "compact", "--date", "16/11/2026"),
         ("--date", "'16/11/2026' is not a day YYYY-MM-DD")),
        (("simulate", "telemetry", "--start", "2026-13-01", "--out", "x"),
         ("--start", "month must be in 1..12")),
        (("trips", "weekly-average", "--regoin", "Turin"), ("No such option: --regoin",)),
        (("jobs", "show", "999"), ("job 999 does not exist", "fleetlake jobs list")),
    ],
)  # fmt: skip
def test_wrong_values_and_options(tmp_path: Path, args: tuple[str, ...], words: tuple[str]) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    one_line_error(cli(env, *args), *words)


def test_sources_file_mistakes(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}",
                  FLEETLAKE_SOURCES_FILE=str(sources))  # fmt: skip
    one_line_error(cli(env, "worker"), f"no sources file at {sources}", "FLEETLAKE_SOURCES_FILE")
    sources.write_text('[[mqtt]]\nname = "m"\nurl = "mqtt://127.0.0.1:1883"\ntopic = ["a/#"]\n')
    one_line_error(cli(env, "worker"), "mqtt[0]: unknown key 'topic'", "topics")
    sources.write_text('[[http]]\nname = "h"\nurl = "https://x.example"\nevery_s = "often"\n')
    one_line_error(cli(env, "worker"), "http[0].every_s: 'often' is not a number")


def test_a_busy_port(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        run = cli(env, "serve", "--port", str(port))
    one_line_error(run, f"cannot listen on 127.0.0.1:{port}", "choose another --port")


def test_subscribers_that_cannot_start_say_so_once(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    dead = f"mqtt://127.0.0.1:{free_port()}"
    run = cli(env, "telemetry", "subscribe", "--mqtt", dead, "--topic", "a/#", "--processes", "2")
    one_line_error(run, "cannot reach the MQTT broker", "check the URL")
    run = cli(env, "telemetry", "subscribe", "--mqtt", dead, "--topic", "a/#", "--processes", "2",
              "--provider", "teslamate")  # fmt: skip
    one_line_error(run, "unknown provider 'teslamate'")
