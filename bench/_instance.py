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


def peer_python(name: str, *requirements: str) -> Path:
    """The python of ``bench/.venv-<name>``, a virtual environment of its own for a peer tool.

    Peers never share Beffroi's environment: their packages would change what Beffroi
    imports (pyarrow, for one, imports pandas whenever it is installed).
    """
    venv = Path(__file__).resolve().parent / f".venv-{name}"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements)
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *requirements,
            ],
            check=True,
        )
        stamp.write_text(wanted)
    return python
