"""The one error hierarchy of Beffroi.

Every error a user can cause or meet derives from :class:`BeffroiError`. Each carries a
message that names the bad value, an optional *hint* that says how to fix it (French first,
with ``message_en``/``hint_en`` where written; :meth:`BeffroiError.localized`), a stable
machine ``code`` (used as the problem+json ``type`` fragment and documented in
``docs/reference/errors.md``), and the HTTP status it maps to::

    BeffroiError                       (500 internal-error)
    ├── UserError                      (400 bad-request)        terminal: fix the input
    │   ├── InvalidInputError          (422 invalid-input)
    │   │   ├── InvalidFileError       (422 invalid-file)       where: file, line, column
    │   │   └── NonConformingFileError (422 non-conforming-file) blocked by its schema
    │   ├── NotFoundError              (404 not-found)
    │   ├── ConflictError              (409 conflict)
    │   ├── MethodNotAllowedError      (405 method-not-allowed)
    │   ├── PayloadTooLargeError       (413 payload-too-large)
    │   └── ConfigurationError         (500 configuration-error) settings or data dir
    ├── AuthError                      (401 / 403)
    │   ├── AuthenticationError        (401 authentication-required)
    │   │   └── TooManyAttemptsError   (429 too-many-attempts)  sign-in locked: Retry-After
    │   ├── PermissionDeniedError      (403 permission-denied)
    │   └── CsrfError                  (403 csrf-failed)
    └── ServiceUnavailableError        (503 service-unavailable) transient: retry later

Transient errors (``transient = True``) may succeed if retried; all others are terminal.
The web layer renders every one of them in one place (``beffroi.web.errors``); the CLI
renders them as one line plus the hint (``beffroi.cli``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class BeffroiError(Exception):
    """Base of every Beffroi error."""

    code: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Erreur interne"
    title_en: ClassVar[str] = "Internal error"
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        message_en: str | None = None,
        hint_en: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details or {}
        self.message_en = message_en
        self.hint_en = hint_en

    def localized(self, lang: str) -> tuple[str, str | None]:
        """``(message, hint)`` in ``"fr"`` or ``"en"``; French where no English was written.

        A missing English hint falls back to the French one: a fix in French beats none.
        """
        if lang == "en" and self.message_en:
            return self.message_en, self.hint_en if self.hint_en is not None else self.hint
        return self.message, self.hint

    def localized_title(self, lang: str) -> str:
        """The error kind's title in ``"fr"`` or ``"en"``."""
        return self.title_en if lang == "en" else self.title

    def record(self) -> dict[str, Any]:
        """The error as a background job stores it: French and English side by side (None
        where none was written), and where (file, line, column…) when the error says."""
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.message,
            "hint": self.hint,
            "title_en": self.title_en,
            "message_en": self.message_en,
            "hint_en": self.hint_en,
            **({"where": self.details} if self.details else {}),
        }

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UserError(BeffroiError):
    """The request or command is wrong; fixing the input fixes it."""

    code = "bad-request"
    status = 400
    title = "Requête incorrecte"
    title_en = "Bad request"


class InvalidInputError(UserError):
    """A value does not have the expected form (one field or several)."""

    code = "invalid-input"
    status = 422
    title = "Donnée invalide"
    title_en = "Invalid input"


class InvalidFileError(InvalidInputError):
    """An uploaded file cannot be read as a table; ``details`` say where (file, line, column,
    value) and the hint says how to fix it."""

    code = "invalid-file"
    status = 422
    title = "Fichier illisible"
    title_en = "Unreadable file"


class NonConformingFileError(InvalidInputError):
    """A file does not follow the Table Schema its dataset requires and the dataset blocks
    such uploads; ``details`` hold the validation summary and first errors."""

    code = "non-conforming-file"
    status = 422
    title = "Fichier non conforme"
    title_en = "Non-conforming file"


class NotFoundError(UserError):
    """The object does not exist, or the actor may not know it exists."""

    code = "not-found"
    status = 404
    title = "Introuvable"
    title_en = "Not found"


class ConflictError(UserError):
    """The change clashes with what is stored (a slug already used, a duplicate member)."""

    code = "conflict"
    status = 409
    title = "Conflit"
    title_en = "Conflict"


class MethodNotAllowedError(UserError):
    """The HTTP method is not accepted at this address."""

    code = "method-not-allowed"
    status = 405
    title = "Méthode non autorisée"
    title_en = "Method not allowed"


class PayloadTooLargeError(UserError):
    """An uploaded file is larger than the instance accepts."""

    code = "payload-too-large"
    status = 413
    title = "Fichier trop volumineux"
    title_en = "Payload too large"


class ConfigurationError(UserError):
    """A setting, the configuration file or the data directory is wrong."""

    code = "configuration-error"
    status = 500
    title = "Configuration incorrecte"
    title_en = "Configuration error"


class AuthError(BeffroiError):
    """Authentication or authorisation failed."""

    code = "auth-error"
    status = 401
    title = "Accès refusé"
    title_en = "Access denied"


class AuthenticationError(AuthError):
    """No valid credentials were given (missing, wrong, expired or revoked)."""

    code = "authentication-required"
    status = 401
    title = "Authentification requise"
    title_en = "Authentication required"


class PermissionDeniedError(AuthError):
    """The actor is known but may not perform this action."""

    code = "permission-denied"
    status = 403
    title = "Action non autorisée"
    title_en = "Permission denied"


class CsrfError(AuthError):
    """A form was posted without the anti-forgery token of the session."""

    code = "csrf-failed"
    status = 403
    title = "Jeton anti-falsification invalide"
    title_en = "CSRF token check failed"


class ServiceUnavailableError(BeffroiError):
    """A backing service (database, storage) is unreachable; retrying may succeed."""

    code = "service-unavailable"
    status = 503
    title = "Service indisponible"
    title_en = "Service unavailable"
    transient = True


class TooManyAttemptsError(AuthenticationError):
    """Sign-in is locked for a while after too many failed passwords (``Retry-After``)."""

    code = "too-many-attempts"
    status = 429
    title = "Trop de tentatives"
    title_en = "Too many attempts"


def all_error_classes() -> list[type[BeffroiError]]:
    """Every error class of the tree, parents first (used to generate the docs)."""
    found: list[type[BeffroiError]] = []
    todo: list[type[BeffroiError]] = [BeffroiError]
    while todo:
        cls = todo.pop(0)
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found
