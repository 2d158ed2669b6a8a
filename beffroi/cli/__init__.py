"""The ``beffroi`` command line (click). One module per command group.

Every :class:`~beffroi.errors.BeffroiError` is shown as one line plus a fix hint, with a
non-zero exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import beffroi.cli.agreement
import beffroi.cli.indicator
import beffroi.cli.privacy
import beffroi.cli.publish
import beffroi.cli.review
import beffroi.cli.sql  # noqa: F401 - register the command
from beffroi.cli import (  # noqa: F401 - register commands
    dataset,
    ingest,
    instance,
    org,
    user,
    validate,
)
from beffroi.cli.base import cli


def main() -> None:
    """Entry point of the ``beffroi`` script."""
    cli(prog_name="beffroi")


__all__ = ["cli", "main"]
