"""Helpers of the harvest tests: a real static HTTP server on 127.0.0.1, a catalogue
session factory for an instance, a live ``beffroi serve``, and what a harvest left."""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import engine_for, session_factory, transaction
from beffroi.catalog.models import Dataset, DatasetVersion, HarvestRecord
from beffroi.harvest import service
from beffroi.settings import Settings


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, with the media types RDF catalogues are served as, and no log noise."""

    extensions_map = {  # noqa: RUF012 - the base class's own attribute
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/rdf+xml",
        ".jsonld": "application/ld+json",
        ".ttl": "text/turtle",
        ".json": "application/json",
        ".csv": "text/csv",
    }

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Silence: the tests read the server's files, not its log."""


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Serve ``root`` at ``http://127.0.0.1:<port>`` while the block runs."""
    handler = partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def catalogue(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on the instance's catalogue, disposed afterwards."""
    engine = engine_for(settings)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, deadline_s: float = 120
) -> None:
    """Poll ``url`` until it answers 200; fail with the server log when the process exits or
    the (generous: the test machine is shared) deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {deadline_s} s:\n{log.read_text()}")


def harvested(settings: Settings, name: str) -> dict[str, Dataset]:
    """The datasets the source ``name`` harvested, by their remote identifier."""
    with catalogue(settings) as factory, transaction(factory) as session:
        source = service.get_source(session, Actor.system(name="test"), name)
        rows = session.execute(
            select(HarvestRecord.remote_id, Dataset)
            .join(Dataset, Dataset.id == HarvestRecord.dataset_id)
            .where(HarvestRecord.source_id == source.id)
        )
        return {str(remote_id): dataset for remote_id, dataset in rows}


def version_count(settings: Settings, dataset_id: int) -> int:
    """How many versions a dataset has."""
    with catalogue(settings) as factory, transaction(factory) as session:
        query = select(func.count()).where(DatasetVersion.dataset_id == dataset_id)
        return int(session.scalar(query) or 0)
