"""Delivering indicator alerts beyond the in-app record: e-mail and webhook.

An alert (a threshold crossing, a source late against its declared frequency) is e-mailed
to the stewards of the indicator's owner organisation through the SMTP settings
(``BEFFROI_SMTP_*``; no host, no e-mail) and POSTed as JSON to
``BEFFROI_ALERT_WEBHOOK_URL`` when set. Delivery runs after the catalogue transaction
committed, in a background thread; a failure is logged and never breaks a computation.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import urllib.request
from email.message import EmailMessage
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from beffroi.catalog.models import Indicator, IndicatorAlert, Membership, Role, User
from beffroi.settings import Settings

log = logging.getLogger(__name__)

#: Roles whose members receive the alerts of their organisation's indicators.
RECIPIENT_ROLES = [r.value for r in Role if r.rank >= Role.STEWARD.rank]


def recipients(session: Session, organization_id: int) -> list[str]:
    """E-mail addresses of the active stewards (and administrators) of an organisation."""
    return sorted(
        session.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == organization_id,
                Membership.role.in_(RECIPIENT_ROLES),
                User.is_active.is_(True),
            )
        )
    )


def threshold_payload(indicator: Indicator, alert: IndicatorAlert) -> dict[str, Any]:
    """The JSON body of a threshold crossing."""
    return {
        "kind": "threshold",
        "id": alert.id,
        "indicator": indicator.code,
        "title": indicator.title,
        "unit": indicator.unit,
        "commune": alert.commune,
        "period": alert.period,
        "value": alert.value,
        "previous": alert.previous,
        "threshold": alert.threshold,
        "direction": indicator.direction,
    }


def late_payload(indicator: Indicator, source: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a source late against its declared update frequency."""
    return {
        "kind": "late-source",
        "indicator": indicator.code,
        "title": indicator.title,
        "dataset": source["dataset"],
        "frequency": source["frequency"],
        "published_at": source["published_at"],
    }


def message_text(payload: dict[str, Any]) -> tuple[str, str]:
    """Subject and body (French, then English) of an alert e-mail."""
    code, title = payload["indicator"], payload["title"]
    if payload["kind"] == "late-source":
        subject = f"[Beffroi] Source en retard : {payload['dataset']} ({code})"
        body = (
            f"La source « {payload['dataset']} » de l'indicateur « {title} » ({code}) est en "
            f"retard sur sa fréquence de mise à jour déclarée ({payload['frequency']}) ; "
            f"dernière publication : {payload['published_at']}.\n\n"
            f"---\n\nThe source '{payload['dataset']}' of indicator '{title}' ({code}) is late "
            f"against its declared update frequency ({payload['frequency']}); last published: "
            f"{payload['published_at']}.\n"
        )
        return subject, body
    where = payload["commune"] or "territoire / territory"
    subject = f"[Beffroi] Alerte : {title} ({code}) a franchi le seuil"
    body = (
        f"L'indicateur « {title} » ({code}) a franchi son seuil d'alerte "
        f"({payload['threshold']} {payload['unit']}) : {payload['value']} pour {where}, "
        f"période {payload['period'] or '-'} (valeur précédente : {payload['previous']}).\n\n"
        f"---\n\nIndicator '{title}' ({code}) crossed its alert threshold "
        f"({payload['threshold']} {payload['unit']}): {payload['value']} for {where}, period "
        f"{payload['period'] or '-'} (previous value: {payload['previous']}).\n"
    )
    return subject, body


def send_mail(settings: Settings, to: list[str], payload: dict[str, Any]) -> None:
    """E-mail one alert (raises on an SMTP failure)."""
    assert settings.smtp_host is not None  # noqa: S101 - checked by the caller
    subject, body = message_text(payload)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def post_webhook(settings: Settings, payload: dict[str, Any]) -> None:
    """POST one alert as JSON to the configured webhook (raises on a failure)."""
    assert settings.alert_webhook_url is not None  # noqa: S101 - checked by the caller
    request = urllib.request.Request(  # noqa: S310 - an administrator's URL, any scheme
        settings.alert_webhook_url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "Beffroi alerts"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.alert_webhook_timeout_s):  # noqa: S310
        pass


def deliver(settings: Settings, to: list[str], payloads: list[dict[str, Any]]) -> None:
    """Send each alert by e-mail and webhook; failures are logged, never raised."""
    for payload in payloads:
        if settings.smtp_host and to:
            try:
                send_mail(settings, to, payload)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("alert e-mail for %s not sent: %s", payload["indicator"], exc)
        if settings.alert_webhook_url:
            try:
                post_webhook(settings, payload)
            except (OSError, ValueError) as exc:
                log.warning("alert webhook for %s failed: %s", payload["indicator"], exc)


def enabled(settings: Settings) -> bool:
    """Whether any delivery beyond the in-app record is configured."""
    return bool(settings.smtp_host or settings.alert_webhook_url)


def after_commit(
    session: Session, settings: Settings, indicator: Indicator, payloads: list[dict[str, Any]]
) -> None:
    """Deliver ``payloads`` in a background thread once ``session`` commits (not on rollback)."""
    if not payloads or not enabled(settings):
        return
    to = recipients(session, indicator.owner_id)

    def start(_: Session) -> None:
        threading.Thread(
            target=deliver, args=(settings, to, payloads), name="beffroi-alerts", daemon=True
        ).start()

    def forget(_: Session) -> None:  # rolled back: the alerts were never recorded
        if event.contains(session, "after_commit", start):
            event.remove(session, "after_commit", start)

    event.listen(session, "after_commit", start, once=True)
    event.listen(session, "after_rollback", forget, once=True)
