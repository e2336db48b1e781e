"""The README's tour, every command as written, in a second shell while `fleetlake demo`
serves (what `make demo` runs after installing): a command that fails here fails a user."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_mosquitto, require_service

pytestmark = [pytest.mark.slow, pytest.mark.services]
README = Path(__file__).parents[2] / "README.md"
LONG_RUNNING = "runs until Ctrl-C"
FAILURE = re.compile(
    r'^error:|"error"\s*:\s*\{|Traceback', re.M
)  # the CLI's and the API's error shapes


def tour_commands() -> list[str]:
    """The command lines of the tour's bash blocks (comment lines are sample outputs)."""
    section = README.read_text().split("## A short tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def user_shell() -> dict[str, str]:
    """A user's environment after `source .venv/bin/activate`: no FLEETLAKE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    return env | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}


def run_until_interrupted(command: str, *, cwd: Path, env: dict[str, str]) -> None:
    """A command that serves: still running after a few seconds, and stops on Ctrl-C."""
    process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    time.sleep(6)
    if process.poll() is not None:
        pytest.fail(f"{command!r} exited {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert "Traceback" not in output, (command, output)


def test_every_tour_command_runs_as_written(tmp_path: Path) -> None:
    require_mosquitto()  # the tour subscribes to the local broker
    for port in (8000, 8001):
        if not port_is_free(port):
            require_service(f"port {port}", "the tour's commands name localhost:8000 and 8001")
    commands = tour_commands()
    assert len(commands) > 20 and any("curl" in c for c in commands)
    project = tmp_path / "project"  # the repository's folder: home is ./var
    project.mkdir()
    env = user_shell()
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen(
        [sys.executable, "-m", "fleetlake", "demo"],
        cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not _healthy() and demo.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _healthy(), (tmp_path / "demo.log").read_text()
        exports: list[str] = []
        for command in commands:
            if command.startswith("export "):
                exports.append(command)
                continue
            script = "; ".join([*exports, command])
            if LONG_RUNNING in command:
                run_until_interrupted(script, cwd=project, env=env)
                continue
            done = subprocess.run(["bash", "-c", script], cwd=project, env=env, text=True,
                                  capture_output=True, timeout=300, check=False)  # fmt: skip
            output = done.stdout + done.stderr
            assert done.returncode == 0, (command, output)
            assert not FAILURE.search(output), (command, output)
            if command.startswith("curl") and "-N" not in command:
                json.loads(done.stdout)  # an answer, not an HTML error page
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(60)


def _healthy() -> bool:
    try:
        return httpx.get("http://127.0.0.1:8000/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
