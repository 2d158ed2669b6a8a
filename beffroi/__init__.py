"""Beffroi: the shared data platform of a French intercommunality and its member communes."""

__version__ = "0.1.0"
