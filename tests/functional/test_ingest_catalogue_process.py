"""`beffroi ingest` forks its catalogue side (:mod:`beffroi.ingest.catalogue`): the same version
as in one process, the same errors, and the catalogue process dies with the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Pipe
from pathlib import Path

import pytest
from sqlalchemy import select

from beffroi.catalog.db import engine_for, session_factory, transaction
from beffroi.catalog.models import Dataset, DatasetVersion, VersionConformance
from beffroi.errors import NotFoundError
from beffroi.ingest import catalogue
from beffroi.store import store_for
from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance

VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
SCHEMA = SHARED_DATA / "schemas" / "scdl-subventions" / "schema.json"
DATASET = "stationnement-cyclable"  # published by direction-mobilites in the demo

# Runs the CLI; BEFFROI_TEST_LOCAL=1 keeps the catalogue side in the command's process.
# Spies (no behaviour change) note the pid of each catalogue step in BEFFROI_TEST_PIDS.
_RUN = """
import json, os, sys
import beffroi.ingest.catalogue as catalogue
if os.environ.get("BEFFROI_TEST_LOCAL"):
    catalogue.can_fork = lambda: False
def note(step):
    with open(os.environ["BEFFROI_TEST_PIDS"], "a") as out:
        out.write(json.dumps({"step": step, "pid": os.getpid()}) + "\\n")
for step in ("ready", "record"):
    def spy(self, *args, _step=step, _real=getattr(catalogue.LocalCatalogue, step)):
        found = _real(self, *args)
        note(_step)
        return found
    setattr(catalogue.LocalCatalogue, step, spy)
if os.environ.get("BEFFROI_TEST_STALL"):  # the command stalls before writing (kill test)
    fork = catalogue.fork_catalogue
    def stalled(*args, **kwargs):
        forked = fork(*args, **kwargs)
        import time
        import beffroi.ingest.pipeline as pipeline
        pipeline.ReadAhead.take = lambda self: time.sleep(120)
        return forked
    catalogue.fork_catalogue = stalled
note("command")
from beffroi.cli import main
sys.argv = ["beffroi", *sys.argv[1:]]
main()
"""


def _run(
    demo: DemoInstance, *args: str, local: bool = False, stall: bool = False
) -> tuple[subprocess.Popen[str], Path]:
    pids = demo.settings.data_dir.parent / f"pids-{time.monotonic_ns()}.jsonl"
    env = {**os.environ, "BEFFROI_TEST_PIDS": str(pids), "BEFFROI_LANG": "fr"}
    if local:
        env["BEFFROI_TEST_LOCAL"] = "1"
    if stall:
        env["BEFFROI_TEST_STALL"] = "1"
    command = [sys.executable, "-c", _RUN, "--data-dir", str(demo.settings.data_dir), *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    return proc, pids


def _ingest(
    demo: DemoInstance, *extra: str, local: bool = False
) -> tuple[int, str, str, dict[str, int]]:
    proc, pids = _run(demo, "ingest", str(VALID), "--dataset", DATASET, *extra, local=local)
    out, err = proc.communicate(timeout=120)
    steps = {line["step"]: line["pid"] for line in map(json.loads, pids.read_text().splitlines())}
    return proc.returncode, out, err, steps


def _versions(demo: DemoInstance) -> list[DatasetVersion]:
    engine = engine_for(demo.settings)
    try:
        with transaction(session_factory(engine)) as session:
            dataset = session.scalar(select(Dataset).where(Dataset.slug == DATASET))
            assert dataset is not None
            found = list(
                session.scalars(
                    select(DatasetVersion)
                    .where(DatasetVersion.dataset_id == dataset.id)
                    .order_by(DatasetVersion.number)
                )
            )
            session.expunge_all()
            return found
    finally:
        engine.dispose()


def test_the_catalogue_side_runs_in_its_own_process_with_the_same_result(
    demo_instance: DemoInstance,
) -> None:
    code, out, err, steps = _ingest(demo_instance, "--publish")
    assert code == 0, err
    # Both catalogue steps ran in the forked process, not in the command.
    assert steps["ready"] == steps["record"] != steps["command"]
    code, local_out, err, local_steps = _ingest(demo_instance, "--publish", local=True)
    assert code == 0, err
    assert local_steps["ready"] == local_steps["record"] == local_steps["command"]
    forked, local = _versions(demo_instance)[-2:]
    assert local.number == forked.number + 1
    assert forked.row_count == local.row_count > 0
    assert forked.columns == local.columns
    assert forked.profile == local.profile
    assert forked.dialect == local.dialect
    assert "publiée" in out
    assert out.replace(forked.upload_id, "").replace(f"version {forked.number}", "") == (
        local_out.replace(local.upload_id, "").replace(f"version {local.number}", "")
    )
    engine = engine_for(demo_instance.settings)
    with transaction(session_factory(engine)) as session:
        key = session.scalars(select(Dataset).where(Dataset.slug == DATASET)).one().store_key
    engine.dispose()
    store = store_for(demo_instance.settings)
    assert store.read(key, forked.store_version).equals(store.read(key, local.store_version))


def test_an_error_of_the_catalogue_process_reads_as_in_one_process(
    demo_instance: DemoInstance,
) -> None:
    results = []
    for local in (False, True):
        proc, _ = _run(demo_instance, "ingest", str(VALID), "--dataset", "absent", local=local)
        _out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, err.strip()))
    assert results[0] == results[1]
    code, message = results[0]
    assert code != 0
    assert "absent" in message
    assert "Traceback" not in message


def test_a_conformance_check_in_the_catalogue_process_is_recorded(
    demo_instance: DemoInstance,
) -> None:
    code, out, err, steps = _ingest(demo_instance, "--schema", str(SCHEMA))
    assert code == 0, err
    assert steps["ready"] != steps["command"]
    assert "schéma :" in out
    assert "conforme" in out
    version = _versions(demo_instance)[-1]
    engine = engine_for(demo_instance.settings)
    with transaction(session_factory(engine)) as session:
        checked = session.get(VersionConformance, version.id)
        assert checked is not None
        assert checked.valid
        assert checked.rows == version.row_count
    engine.dispose()


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}  # a zombie nobody reaped yet is dead too


def test_kill_9_of_the_command_kills_the_catalogue_process(demo_instance: DemoInstance) -> None:
    before = _versions(demo_instance)
    proc, pids = _run(
        demo_instance, "ingest", str(VALID), "--dataset", DATASET, "--publish", stall=True
    )
    deadline = time.monotonic() + 60
    child = None
    while child is None and time.monotonic() < deadline:
        if pids.exists():
            steps = {
                line["step"]: line["pid"] for line in map(json.loads, pids.read_text().splitlines())
            }
            child = steps.get("ready")
        time.sleep(0.05)
    if child is None:
        proc.kill()
        pytest.fail(f"the catalogue process never got ready: {proc.communicate()}")
    assert child != proc.pid
    assert not _dead(child)  # waiting for the command's commit
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while not _dead(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(child)
    after = _versions(demo_instance)
    assert [v.number for v in after] == [v.number for v in before]


def test_no_fork_once_a_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not catalogue.can_fork()
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize(
    ("imports", "expected"), [("", True), ("import numpy", False), ("import pyarrow", False)]
)
def test_fork_only_before_native_threads(imports: str, expected: bool) -> None:
    code = f"{imports}\nimport beffroi.ingest.catalogue as c\nprint(c.can_fork())"
    # NumPy's default environment: OpenBLAS starts its threads on import.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == str(expected)


def test_errors_cross_the_pipe_whole() -> None:
    ours, theirs = Pipe()
    refused = NotFoundError(
        "Jeu de données introuvable : x", hint="beffroi dataset list", message_en="Not found: x"
    )
    catalogue._send_error(theirs, refused)
    kind, received = ours.recv()
    assert kind == "error"
    assert isinstance(received, NotFoundError)
    assert (received.message, received.hint, received.message_en) == (
        refused.message,
        refused.hint,
        refused.message_en,
    )
    assert any("catalogue process" in note for note in received.__notes__)

    class LocalError(Exception):  # cannot be pickled: defined in a function
        pass

    catalogue._send_error(theirs, LocalError("boom"))
    kind, received = ours.recv()
    assert isinstance(received, RuntimeError)
    assert "LocalError: boom" in str(received)
