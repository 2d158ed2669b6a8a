"""The running server recomputes stale indicators in the background and delivers the
alerts by e-mail (a real local SMTP server, aiosmtpd) and webhook (a real local HTTP
server)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction
from beffroi.catalog.models import (
    Dataset,
    Indicator,
    IndicatorComputation,
    IndicatorValue,
    Membership,
    Organization,
    Role,
    User,
)
from beffroi.indicators.demo import PARTNER_SLUG, load_demo_indicators
from beffroi.indicators.schedule import TRIGGER
from beffroi.store import store_for
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance, bearer
from tests.unit.indicators.conftest import with_secrecy

CODE = "consommation-eau-par-habitant"  # owned by the water partner, alert above 4.8
SLUG = "consommation-eau-potable-par-commune"
LORIENT = "56121"
STEWARD_EMAIL = "intendante-eau@demo.example.org"


def wait_for(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@dataclass
class Mailbox:
    messages: list[tuple[list[str], str]] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8")))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            assert self.headers["Content-Type"] == "application/json"
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{httpd.server_port}/alerts"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def instance(demo_instance: DemoInstance) -> DemoInstance:
    """The demo instance with its indicators computed and a steward for the water partner."""
    engine = make_engine(demo_instance.settings.catalog_url)
    try:
        with transaction(session_factory(engine)) as session:
            load_demo_indicators(session, Actor.system(name="test"), demo_instance.settings)
            with_secrecy(session, demo_instance.settings)
            partner = session.scalar(select(Organization).where(Organization.slug == PARTNER_SLUG))
            assert partner is not None
            steward = User(
                username="intendante-eau", email=STEWARD_EMAIL, password_hash="!", full_name=""
            )
            session.add(steward)
            session.flush()
            session.add(
                Membership(user_id=steward.id, organization_id=partner.id, role=Role.STEWARD)
            )
    finally:
        engine.dispose()
    return demo_instance


def doubled_lorient(instance: DemoInstance, target: Path) -> Path:
    """The water volumes with Lorient's December 2025 doubled, as a Parquet file."""
    engine = make_engine(instance.settings.catalog_url)
    try:
        with session_factory(engine)() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.slug == SLUG))
            assert dataset is not None
            assert dataset.published_version is not None
            key, version = dataset.store_key, dataset.published_version.store_version
    finally:
        engine.dispose()
    table = store_for(instance.settings).read(key, version)
    table = table.drop_columns([n for n in table.column_names if n.startswith("__")])
    december = pa.scalar(pa.array(["2025-12-01"]).cast(pa.date32())[0])
    hit = pc.and_(pc.equal(table["code_insee"], LORIENT), pc.equal(table["mois"], december))
    doubled = pc.if_else(hit, pc.multiply(table["volume_m3"], 2.0), table["volume_m3"])
    table = table.set_column(table.column_names.index("volume_m3"), "volume_m3", doubled)
    pq.write_table(table, target)
    return target


def lorient_december(instance: DemoInstance) -> tuple[int, float | None, list[Any], str]:
    """The latest computation of the indicator: id, Lorient's Dec. 2025 value, sources."""
    engine = make_engine(instance.settings.catalog_url)
    try:
        with session_factory(engine)() as session:
            indicator = session.scalar(select(Indicator).where(Indicator.code == CODE))
            assert indicator is not None
            run = session.scalar(
                select(IndicatorComputation)
                .where(IndicatorComputation.indicator_id == indicator.id)
                .order_by(IndicatorComputation.id.desc())
                .limit(1)
            )
            assert run is not None
            value = session.scalar(
                select(IndicatorValue.value).where(
                    IndicatorValue.computation_id == run.id,
                    IndicatorValue.commune == LORIENT,
                    IndicatorValue.period == "2025-12",
                )
            )
            return run.id, value, run.sources, run.trigger
    finally:
        engine.dispose()


def test_new_version_is_recomputed_in_background_and_alert_delivered(
    instance: DemoInstance,
    smtp: tuple[Mailbox, int],
    webhook: tuple[list[dict[str, Any]], str],
    tmp_path: Path,
) -> None:
    box, smtp_port = smtp
    received, url = webhook
    settings = instance.settings.model_copy(
        update={
            "indicators_refresh_s": 0.2,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_from": "alertes@demo.example.org",
            "alert_webhook_url": url,
        }
    )
    first, old, _, _ = lorient_december(instance)
    assert old is not None
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            headers = bearer(client, "partenaire-eau")
            with doubled_lorient(instance, tmp_path / "v2.parquet").open("rb") as handle:
                answer = client.post(
                    f"/api/v1/datasets/{SLUG}/uploads",
                    files={"file": ("v2.parquet", handle, "application/octet-stream")},
                    data={"publish": "true"},
                    headers=headers,
                )
            assert answer.status_code == 202, answer.text
            job = wait_for(
                lambda: (
                    j
                    if (j := client.get(answer.headers["location"], headers=headers).json())[
                        "status"
                    ]
                    in {"succeeded", "failed"}
                    else None
                ),
                "the ingestion job",
            )
            assert job["status"] == "succeeded", job
            assert job["result"]["published"] is True
            # no read of the indicator: the scheduler alone recomputes it
            run, new, sources, trigger = wait_for(
                lambda: r if (r := lorient_december(instance))[0] != first else None,
                "the background recomputation",
            )
            assert trigger == TRIGGER
            assert [s["version"] for s in sources] == [job["result"]["version"]]
            assert new is not None
            assert abs(new - 2 * old) < 1e-9
            wait_for(lambda: box.messages and received, "the e-mail and the webhook")
    finally:
        app.state.engine.dispose()
    [(recipients, content)] = box.messages
    assert recipients == [STEWARD_EMAIL]  # the partner's steward, nobody else
    assert f"Subject: [Beffroi] Alerte : Consommation d'eau potable par habitant ({CODE})" in (
        content.replace("\r\n ", " ")
    )
    assert "From: alertes@demo.example.org" in content
    [body] = received
    assert body["kind"] == "threshold"
    assert body["indicator"] == CODE
    assert body["commune"] == LORIENT
    assert body["period"] == "2025-12"
    assert body["value"] == pytest.approx(new)
    assert body["previous"] == pytest.approx(old)
    assert body["threshold"] == 4.8
    assert run > first
