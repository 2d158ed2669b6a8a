"""Shared by the benchmarks: a fresh demo instance created through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BEFFROI = str(Path(sys.prefix) / "bin" / "beffroi")


def clean_env() -> dict[str, str]:
    """The environment without the developer's BEFFROI_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}


def demo_instance(prefix: str) -> tuple[Path, Path]:
    """``beffroi init`` + ``beffroi demo`` in a new temporary directory: (work dir, data dir)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir = work / "instance"
    for command in ("init", "demo"):
        subprocess.run(
            [BEFFROI, "--data-dir", str(data_dir), command],
            check=True,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
        )
    return work, data_dir
