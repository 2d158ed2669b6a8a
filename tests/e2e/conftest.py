"""Browser fixtures: a real ``beffroi serve`` process and Debian's Chromium driven by Playwright.

The instance is built once per session by the real command line (``init``, ``demo``, then a
few real files from ``../shared/data`` ingested and published). Tests skip when
``/usr/bin/chromium`` is absent, unless ``BEFFROI_REQUIRE_SERVICES`` is set (CI), where they
fail instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import SHARED_DATA, skip_or_fail
from tests.functional.test_serve import free_port, stop_server, wait_for_health

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MESSY = SHARED_DATA / "messy"
#: Files ingested and published in the instance: (dataset slug, file, ``dataset create`` args).
INGESTED: list[tuple[str, Path, list[str] | None]] = [
    ("bornes-recharge-vehicules-electriques", MESSY / "bornes-irve-20190805.csv", None),
    (
        "codes-postaux",
        MESSY / "laposte-codes-postaux-2014-10.csv",
        [
            "Codes postaux des communes",
            "--publisher",
            "lorient-agglomeration",
            "--slug",
            "codes-postaux",
            "--description",
            "Base officielle des codes postaux (La Poste, octobre 2014).",
            "--theme",
            "REGI",
            "--keyword",
            "codes postaux",
            "--spatial",
            "epci:200042174",
            "--granularity",
            "fr:commune",
        ],
    ),
]
_CREDENTIAL = re.compile(r"^\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)
STEWARD = "referent-mobilites"
STEWARD_PASSWORD = "référent des mobilités, en test"  # a throw-away instance


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}


def _cli(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"beffroi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass
class Portal:
    """A served instance: its address and the demo passwords."""

    base_url: str
    data_dir: Path
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """The absolute URL of a path of the portal."""
        return self.base_url + path


def require_chromium() -> None:
    """Skip (locally) or fail (CI) when Debian's Chromium is missing."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} absent: apt-get install chromium")


def build_instance(data_dir: Path) -> dict[str, str]:
    """``init``, ``demo`` and the ingestion of :data:`INGESTED`; returns the passwords."""
    _cli(data_dir, "init")
    output = _cli(data_dir, "demo")
    passwords = dict(_CREDENTIAL.findall(output.split("(mot de passe affiché une seule fois)")[-1]))
    for slug, path, create in INGESTED:
        if create:
            _cli(data_dir, "dataset", "create", *create)
        _cli(data_dir, "ingest", str(path), "--dataset", slug, "--publish")
    # A steward (référent) of the mobility department, who approves on the review page.
    email = f"{STEWARD}@demo.example.org"
    _cli(data_dir, "user", "create", STEWARD, "--email", email, "--password", STEWARD_PASSWORD)
    _cli(data_dir, "member", "add", STEWARD, "direction-mobilites", "--role", "steward")
    passwords[STEWARD] = STEWARD_PASSWORD
    return passwords


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """``beffroi serve`` in a separate process on 127.0.0.1, stopped at the end."""
    require_chromium()
    root = tmp_path_factory.mktemp("e2e")
    data_dir = root / "instance"
    passwords = build_instance(data_dir)
    port = free_port()
    log = root / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), "serve",
             "--port", str(port)],
            cwd=root,
            env=_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(f"{base}/health", process, log)
        yield Portal(base_url=base, data_dir=data_dir, passwords=passwords)
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page, French locale."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def sign_in(page: Page, portal: Portal, username: str) -> None:
    """Sign in through the login form, with the keyboard."""
    page.goto(portal.url("/connexion"))
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(portal.passwords[username])
    page.get_by_label("Mot de passe").press("Enter")
    page.wait_for_url(lambda url: "/connexion" not in url)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core violations of the page at WCAG 2.0/2.1 A and AA."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable list of violations (rule, impact, first failing nodes)."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['html'][:160]}" for node in violation["nodes"][:3])
    return "\n".join(lines)
