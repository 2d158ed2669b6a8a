"""Screenshots of the portal's main pages, into docs/screenshots/ (PNG).

Builds a throw-away instance with the real command line (``init``, ``demo``, a few real files
from ``../shared/data`` ingested and published), serves it on 127.0.0.1, and drives Debian's
Chromium with Playwright::

    .venv/bin/python scripts/screenshots.py [--data ../shared/data] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 1000}
IRVE = "bornes-recharge-vehicules-electriques"
STEWARD = "referent-mobilites"
STEWARD_PASSWORD = "référent des mobilités, captures"  # noqa: S105 - throw-away instance


def cli(data_dir: Path, *args: str) -> str:
    """Run ``beffroi`` on the instance; its output."""
    result = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def build(data_dir: Path, data: Path) -> dict[str, str]:
    """The demo instance with real files; the demo passwords."""
    cli(data_dir, "init")
    output = cli(data_dir, "demo")
    passwords = dict(
        re.findall(r"^\s+(\S+)\s+(\S+)\s*$", output.split("une seule fois)")[-1], re.M)
    )
    cli(data_dir, "ingest", str(data / "messy" / "bornes-irve-20190805.csv"), "--dataset", IRVE,
        "--publish")  # fmt: skip
    cli(data_dir, "dataset", "create", "Codes postaux des communes", "--publisher",
        "lorient-agglomeration", "--slug", "codes-postaux", "--description",
        "Base officielle des codes postaux (La Poste).", "--spatial", "epci:200042174")  # fmt: skip
    cli(data_dir, "ingest", str(data / "messy" / "laposte-codes-postaux-2014-10.csv"),
        "--dataset", "codes-postaux", "--publish")  # fmt: skip
    # The mobility department requires review; its steward decides on /relecture.
    cli(data_dir, "user", "create", STEWARD, "--email", f"{STEWARD}@demo.example.org",
        "--password", STEWARD_PASSWORD)  # fmt: skip
    cli(data_dir, "member", "add", STEWARD, "direction-mobilites", "--role", "steward")
    cli(data_dir, "review", "require", "direction-mobilites")
    passwords[STEWARD] = STEWARD_PASSWORD
    return passwords


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    """Through the login form."""
    page.context.clear_cookies()
    page.goto(f"{base}/connexion")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_label("Mot de passe").press("Enter")
    page.wait_for_url(f"{base}/")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait(url: str, deadline: float = 30) -> None:
    """Until ``url`` answers (bounded)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - 127.0.0.1 only
                return
        except OSError:
            time.sleep(0.2)
    msg = f"{url} did not answer within {deadline} s"
    raise SystemExit(msg)


def shoot(page: Page, out: Path, name: str) -> None:
    """One PNG of the visible part of the page."""
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def back_office(page: Page, base: str, out: Path, data: Path, passwords: dict[str, str]) -> None:
    """The référent's pages: upload wizard, metadata form; the steward's review queue."""
    sign_in(page, base, "editeur-mobilites", passwords["editeur-mobilites"])
    page.goto(f"{base}/jeux-de-donnees/stationnement-cyclable/deposer")
    shoot(page, out, "upload-1-file")
    hotel = data / "messy" / "hotel-occupancy-latin1-decimal-comma.csv"
    page.locator("#fichier").set_input_files(str(hotel))
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector("#colonnes")
    shoot(page, out, "upload-2-preview")
    page.locator("button[value=verifier]").click()
    page.wait_for_selector("#rapport")
    page.locator("#rapport").scroll_into_view_if_needed()
    shoot(page, out, "upload-3-report")
    # Submitted for review (the department requires it), then a metadata change.
    page.get_by_label("publier la version aussitôt").check()
    page.get_by_role("button", name="Envoyer le fichier").click()
    page.wait_for_url("**/deposer/suivi/**")
    page.get_by_text("chargée").wait_for(timeout=120_000)
    page.goto(f"{base}/jeux-de-donnees/stationnement-cyclable/modifier")
    page.locator("#md-description").fill(
        "Places de stationnement vélo des communes de l'agglomération : arceaux, "
        "abris et consignes, relevés par les services techniques chaque année."
    )
    page.locator("#md-frequency").select_option("ANNUAL")
    shoot(page, out, "metadata-form")
    page.locator("form.edit-form button[type=submit]").click()
    page.wait_for_url("**etat=proposee")
    sign_in(page, base, STEWARD, passwords[STEWARD])
    page.goto(f"{base}/relecture")
    shoot(page, out, "review")


def main() -> None:
    """Build, serve, screenshot, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="beffroi-screens-") as tmp:
        data_dir = Path(tmp) / "instance"
        passwords = build(data_dir, options.data)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "beffroi", "--data-dir", str(data_dir), "serve",
             "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait(f"{base}/health")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=ARGS
                )
                page = browser.new_page(viewport=VIEWPORT, locale="fr-FR")
                page.goto(f"{base}/")
                shoot(page, options.out, "home")
                page.goto(f"{base}/jeux-de-donnees?q=bornes")
                shoot(page, options.out, "search")
                page.goto(f"{base}/jeux-de-donnees/{IRVE}?colonne=acces_recharge&valeur=payant")
                page.locator("#apercu").scroll_into_view_if_needed()
                shoot(page, options.out, "dataset")
                page.goto(f"{base}/jeux-de-donnees/{IRVE}?graphique=n_amenageur#graphique")
                shoot(page, options.out, "dataset-chart")
                page.goto(f"{base}/communes/56121")
                shoot(page, options.out, "commune")
                page.goto(f"{base}/#carte")
                page.locator("#carte").scroll_into_view_if_needed()
                shoot(page, options.out, "home-map")
                page.goto(f"{base}/jeux-de-donnees?theme=TRAN&tri=titre")
                shoot(page, options.out, "search-facets")
                page.goto(f"{base}/jeux-de-donnees/{IRVE}/carte")
                shoot(page, options.out, "dataset-map")
                back_office(page, base, options.out, options.data, passwords)
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
