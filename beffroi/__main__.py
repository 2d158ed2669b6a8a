"""Allow ``python -m beffroi``."""

from beffroi.cli import main

main()
