"""``beffroi serve`` for real: a separate process, a real socket, then a clean stop."""

from __future__ import annotations

import html
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from beffroi import reference
from beffroi.catalog.demo import DEMO_EPCI_SIREN
from beffroi.cli import cli

STARTUP_DEADLINE = 90.0  # seconds; a bound on waiting, not a performance assertion


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, accept: str = "text/html") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8")


def wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """Poll /health until it answers 200 (bounded); fail with the server log otherwise."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            status, body = fetch(url, accept="application/json")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
            continue
        if status == 200:
            health: dict[str, str] = json.loads(body)
            return health
        time.sleep(0.1)
    pytest.fail(f"/health did not answer 200 within {STARTUP_DEADLINE} s:\n{log.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's graceful stop), then kill if it has not stopped within 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_serve(data_dir: Path, port: int, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """``beffroi serve`` in a process of its own, with no BEFFROI_* setting but ``settings``,
    its output into ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")} | settings
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), "serve",
             "--port", str(port)],
            cwd=log.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.mark.slow
def test_serve_answers_health_and_the_home_page(tmp_path: Path) -> None:
    data_dir = tmp_path / "instance"
    runner = CliRunner()
    for command in ("init", "demo"):
        result = runner.invoke(cli, ["--data-dir", str(data_dir), command])
        assert result.exit_code == 0, result.output

    port = free_port()
    log = tmp_path / "serve.log"
    process = start_serve(data_dir, port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_for_health(f"{base}/health", process, log)
        assert health["status"] == "ok"
        assert health["database"] == "sqlite"
        assert health["mode"] == "embedded"

        status, page = fetch(f"{base}/")
        assert status == 200
        text = html.unescape(page)
        assert '<html lang="fr">' in text
        assert reference.epci(DEMO_EPCI_SIREN).name in text
        for commune in reference.epci_members(DEMO_EPCI_SIREN):
            assert commune.name in text, commune.name
        assert "Subventions versées aux associations" in text

        status, body = fetch(f"{base}/api/v1/datasets/atlantide", accept="application/json")
        assert status == 404
        assert json.loads(body)["code"] == "not-found"
    finally:
        stop_server(process)
    # Stopped by the signal: uvicorn shuts down gracefully, then re-raises SIGTERM.
    assert process.returncode in {0, -signal.SIGTERM}
    assert "Beffroi est servi sur" in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_serve_with_two_workers(tmp_path: Path) -> None:
    """``BEFFROI_WORKERS=2``: uvicorn imports each worker's application from its factory."""
    data_dir = tmp_path / "instance"
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "init"])
    assert result.exit_code == 0, result.output
    port = free_port()
    log = tmp_path / "serve.log"
    process = start_serve(data_dir, port, log, BEFFROI_WORKERS="2")
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/health", process, log)
        assert health["status"] == "ok"
        status, _ = fetch(f"http://127.0.0.1:{port}/")
        assert status == 200
    finally:
        stop_server(process)
    assert "(2 workers)" in log.read_text(encoding="utf-8")
