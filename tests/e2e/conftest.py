"""A real fleetlake server (uvicorn in a subprocess on a free port) for end-to-end tests."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, require_service


def cli_env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: this test's home and database, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    return env | {
        "FLEETLAKE_HOME": str(tmp_path / "home"),
        "FLEETLAKE_DATABASE_URL": db_url,
        "FLEETLAKE_API_KEYS": API_KEY,
        **extra,
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetlake", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": API_KEY}, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def running_server(tmp_path: Path, db_url: str | None = None, **extra_env: str) -> Iterator[Server]:
    """A server on a fresh `<tmp_path>/home` (SQLite there unless `db_url`), stopped after."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    server = start_server(home, db_url or f"sqlite:///{home / 'fleetlake.db'}", **extra_env)
    try:
        yield server
    finally:
        server.stop()


def start_server(home: Path, db_url: str, *serve_args: str, **extra_env: str) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    env |= {
        "FLEETLAKE_HOME": str(home),
        "FLEETLAKE_DATABASE_URL": db_url,
        "FLEETLAKE_API_KEYS": API_KEY,
        "FLEETLAKE_ALLOW_PRIVATE_URLS": "true",
        **extra_env,
    }
    log = (home.parent / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetlake", "serve", "--port", str(port), *serve_args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(home.parent / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return Server(url, home, env, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start in 30 s")


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[Server]:
    with running_server(tmp_path, db_url, FLEETLAKE_CHUNK_BYTES="100000") as running:
        yield running


# ---- the dashboard in headless Chromium
ROOT = Path(__file__).parents[2]
SCREENSHOTS = Path(os.environ.get("FLEETLAKE_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser() -> Iterator[Any]:
    paths = chromium_paths()
    if paths is None:
        require_service("Chromium", "install Debian's chromium and chromium-driver packages")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser: Any, name: str, element: Any = None) -> Path:
    """The whole page (not just the window), or one element of it, into the test output
    folder, kept for reading."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if element is not None:
        path.write_bytes(element.screenshot_as_png)
        return path
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def wait_until(condition: Any, *, timeout: float = 20, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the element may not be rendered yet
            pass
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
