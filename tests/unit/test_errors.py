"""The error tree: one root, unique codes, sensible statuses, titles, and its generated docs."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from beffroi import errors
from beffroi.docs import errors_markdown
from beffroi.errors import BeffroiError, all_error_classes

REPO = Path(__file__).resolve().parents[2]
CLASSES = all_error_classes()


def test_all_error_classes_finds_every_class_of_the_module() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == errors.__name__
    }
    assert set(CLASSES) == defined
    assert len(CLASSES) == len(set(CLASSES))
    assert CLASSES[0] is BeffroiError  # parents first
    for index, cls in enumerate(CLASSES):
        assert all(CLASSES.index(base) < index for base in cls.__mro__[1:] if base in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_error_class_contract(cls: type[BeffroiError]) -> None:
    assert issubclass(cls, BeffroiError)
    assert 400 <= cls.status <= 599
    assert cls.code == cls.code.lower()
    assert cls.code.replace("-", "").isalpha()
    assert cls.title.strip()
    assert cls.title_en.strip()
    assert cls.title != cls.title_en  # actually translated
    assert (cls.__doc__ or "").strip(), "the docs list each class's one-line meaning"
    # Each class restates what it is: inheriting a parent's code would make them ambiguous.
    assert "code" in vars(cls) or cls is BeffroiError


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes))


def test_only_service_unavailable_is_transient() -> None:
    assert [cls.__name__ for cls in CLASSES if cls.transient] == ["ServiceUnavailableError"]
    assert errors.ServiceUnavailableError.status == 503


def test_client_and_server_statuses() -> None:
    assert all(400 <= cls.status < 500 for cls in (errors.InvalidInputError, errors.NotFoundError))
    assert errors.AuthenticationError.status == 401
    assert errors.PermissionDeniedError.status == errors.CsrfError.status == 403
    # A broken configuration is the operator's problem, not the visitor's.
    assert errors.ConfigurationError.status == 500


def test_message_hint_and_details() -> None:
    error = errors.InvalidInputError("valeur « x » invalide", hint="donnez y", details={"a": 1})
    assert error.message == "valeur « x » invalide"
    assert str(error) == "valeur « x » invalide (donnez y)"
    assert error.details == {"a": 1}
    bare = errors.NotFoundError("introuvable")
    assert (str(bare), bare.hint, bare.details) == ("introuvable", None, {})
    assert isinstance(bare, errors.UserError)


def test_module_docstring_draws_the_whole_tree() -> None:
    lines = {
        line.split("── ")[-1].split()[0]: line
        for line in (errors.__doc__ or "").splitlines()
        if "Error " in line
    }
    for cls in CLASSES:
        line = lines.get(cls.__name__)
        assert line is not None, f"{cls.__name__} missing from the drawing"
        assert str(cls.status) in line, cls.__name__
        # Abstract AuthError shows its children's range (401 / 403) instead of its own code.
        assert cls.code in line or cls is errors.AuthError, cls.__name__


def test_errors_reference_is_up_to_date() -> None:
    path = REPO / "docs" / "reference" / "errors.md"
    assert path.read_text(encoding="utf-8") == errors_markdown(), (
        "docs/reference/errors.md is stale: run `beffroi docs`"
    )
    for cls in CLASSES:
        assert f"`{cls.code}`" in errors_markdown()
