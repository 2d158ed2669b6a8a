"""A writer process for the kill tests: ``python writer.py ROOT KEY UPLOAD MODE START ROWS``.

It imports everything, prints ``ready``, waits for ``go`` on stdin (so the parent times the
write itself, not Python's start-up), then writes ROWS generated rows (ids START, START+1, …)
as one new version, slowly enough for a kill to land anywhere, and prints ``done <version>``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from beffroi.store.local import LocalDeltaStore

BATCH = 10_000
PAUSE = 0.01  # seconds per batch: a source that reads a file at a realistic pace
COLUMNS: dict[str, pa.DataType] = {
    "id": pa.int64(),
    "amount": pa.float64(),
    "code": pa.string(),
    "label": pa.string(),
}
SCHEMA = pa.schema(COLUMNS)


def batches(start: int, rows: int) -> Iterator[pa.RecordBatch]:
    """Deterministic rows: the id says everything about its row."""
    base = pa.array(range(BATCH), pa.int64())
    for offset in range(0, rows, BATCH):
        ids = pc.add(base.slice(0, min(BATCH, rows - offset)), start + offset)
        text = pc.cast(ids, pa.string())
        yield pa.record_batch(
            [
                ids,
                pc.divide(pc.cast(ids, pa.float64()), 100.0),
                pc.utf8_lpad(text, 9, "0"),
                pc.utf8_replace_slice(text, 0, 0, "ligne n°"),
            ],
            schema=SCHEMA,
        )
        time.sleep(PAUSE)


def main() -> None:
    root, key, upload_id, mode, start, rows = sys.argv[1:7]
    # Small files: a write produces several, so a kill can also strand complete ones.
    store = LocalDeltaStore(Path(root), target_file_size=2 * 1024 * 1024, row_group_rows=65_536)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return
    stored = store.write(
        key,
        batches(int(start), int(rows)),
        SCHEMA,
        upload_id=upload_id,
        mode=mode,  # type: ignore[arg-type]
        primary_key=["id"] if mode == "upsert" else None,
    )
    sys.stdout.write(f"done {stored.version}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
