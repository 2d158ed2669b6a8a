"""Alert delivery: late sources alerted once by the scheduler's tick, bilingual messages,
recipients, and unreachable SMTP / webhook servers logged, never raised."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from beffroi.catalog.db import transaction
from beffroi.catalog.models import (
    Dataset,
    Indicator,
    IndicatorSourceAlert,
    Membership,
    Organization,
    Role,
    User,
    utcnow,
)
from beffroi.indicators import notify
from beffroi.indicators.demo import PARTNER_SLUG
from beffroi.indicators.schedule import tick
from beffroi.jobs import JobRunner
from tests.unit.indicators.conftest import Instance

LATE = "stationnement-cyclable"  # QUARTERLY: late after 93 days
READER = "places-stationnement-velo"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield received, f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_late_source_is_alerted_once(
    instance: Instance, webhook: tuple[list[dict[str, Any]], str]
) -> None:
    received, url = webhook
    settings = instance.settings.model_copy(update={"alert_webhook_url": url})
    notified: set[tuple[int, str, str]] = set()
    assert tick(instance.factory, settings, notified) == 0  # nothing stale, nothing late
    with transaction(instance.factory) as session:
        dataset = session.scalar(select(Dataset).where(Dataset.slug == LATE))
        assert dataset is not None
        assert dataset.published_version is not None
        dataset.published_version.published_at = utcnow() - dt.timedelta(days=200)
    for _ in range(3):
        tick(instance.factory, settings, notified)
    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a repeated alert would have arrived by now
    assert [(b["kind"], b["indicator"], b["dataset"]) for b in received] == [
        ("late-source", READER, LATE)
    ]
    assert received[0]["frequency"] == "QUARTERLY"
    # The in-app record is kept once, and a restarted server (a fresh memory) repeats nothing.
    restarted: set[tuple[int, str, str]] = set()
    tick(instance.factory, settings, restarted)
    time.sleep(0.3)
    assert len(received) == 1
    with transaction(instance.factory) as session:
        rows = session.scalars(select(IndicatorSourceAlert)).all()
        assert [(r.dataset, r.frequency, r.read_at) for r in rows] == [(LATE, "QUARTERLY", None)]
        indicator = session.get(Indicator, rows[0].indicator_id)
        assert indicator is not None
        assert indicator.code == READER


def test_messages_are_french_then_english() -> None:
    payload = {
        "kind": "threshold",
        "indicator": "x",
        "title": "Consommation",
        "unit": "m³",
        "commune": "56121",
        "period": "2025-12",
        "value": 5.2,
        "previous": 4.1,
        "threshold": 4.8,
    }
    subject, body = notify.message_text(payload)
    assert subject == "[Beffroi] Alerte : Consommation (x) a franchi le seuil"
    french, english = body.split("---")
    assert "a franchi son seuil d'alerte (4.8 m³) : 5.2 pour 56121" in french
    assert "crossed its alert threshold (4.8 m³): 5.2 for 56121" in english
    late = {
        "kind": "late-source",
        "indicator": "x",
        "title": "T",
        "dataset": "d",
        "frequency": "MONTHLY",
        "published_at": "2025-01-01",
    }
    subject, body = notify.message_text(late)
    assert subject == "[Beffroi] Source en retard : d (x)"
    assert "est en retard" in body
    assert "is late" in body


def test_recipients_are_the_owner_stewards(instance: Instance) -> None:
    with instance.factory() as session:
        partner = session.scalar(select(Organization).where(Organization.slug == PARTNER_SLUG))
        assert partner is not None
        assert notify.recipients(session, partner.id) == []  # the demo partner: an editor
        for name, role in (("gardienne", Role.STEWARD), ("redacteur", Role.EDITOR)):
            user = User(username=name, email=f"{name}@x.example", password_hash="!")
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id, organization_id=partner.id, role=role))
        session.flush()
        assert notify.recipients(session, partner.id) == ["gardienne@x.example"]
        session.rollback()


def test_unreachable_servers_are_logged_not_raised(
    instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    settings = instance.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": closed_port(),
            "alert_webhook_url": f"http://127.0.0.1:{closed_port()}/",
        }
    )
    payload = {
        "kind": "late-source",
        "indicator": READER,
        "title": "T",
        "dataset": LATE,
        "frequency": "QUARTERLY",
        "published_at": None,
    }
    with caplog.at_level(logging.WARNING, logger="beffroi.indicators.notify"):
        notify.deliver(settings, ["a@x.example"], [payload])
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"alert e-mail for {READER} not sent",
        f"alert webhook for {READER} failed",
    ]
    # and the transaction is unaffected: it commits, delivery fails in the background
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="beffroi.indicators.notify"),
        transaction(instance.factory) as session,
    ):
        indicator = session.scalar(select(Indicator).where(Indicator.code == READER))
        assert indicator is not None
        notify.after_commit(session, settings, indicator, [payload])
        assert not [t for t in threading.enumerate() if t.name == "beffroi-alerts"]
    for thread in [t for t in threading.enumerate() if t.name == "beffroi-alerts"]:
        thread.join(timeout=30)
    assert len(caplog.records) == 1  # the webhook (no steward: no e-mail)


def test_scheduler_runs_with_the_runner_and_stops_with_it(instance: Instance) -> None:
    off = JobRunner(
        instance.settings.model_copy(update={"indicators_refresh_s": 0}), instance.factory
    )
    off.start_scheduler()
    assert off._scheduler is None
    off.shutdown()
    on = JobRunner(
        instance.settings.model_copy(update={"indicators_refresh_s": 0.05}), instance.factory
    )
    on.start_scheduler()
    thread = on._scheduler
    assert thread is not None
    assert thread.is_alive()
    on.shutdown()
    assert not thread.is_alive()


def test_nothing_is_delivered_when_the_transaction_rolls_back(
    instance: Instance, webhook: tuple[list[dict[str, Any]], str]
) -> None:
    received, url = webhook
    settings = instance.settings.model_copy(update={"alert_webhook_url": url})
    payload = {"kind": "late-source", "indicator": READER, "title": "T", "dataset": LATE}
    with instance.factory() as session:
        indicator = session.scalar(select(Indicator).where(Indicator.code == READER))
        assert indicator is not None
        notify.after_commit(session, settings, indicator, [payload])
        session.rollback()
        session.commit()  # a later commit of the same session does not send them either
        notify.after_commit(session, settings, indicator, [payload | {"dataset": "sent"}])
        session.commit()
    deadline = time.monotonic() + 30
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert [b["dataset"] for b in received] == ["sent"]
