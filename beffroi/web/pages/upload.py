"""The upload wizard for référents: file → preview and types → schema and report → submit.

1. ``GET /jeux-de-donnees/{slug}/deposer``: choose a file (signed-in editors of the publisher).
2. ``POST`` the file: it is kept in a private wizard folder (nothing stored as a version) and
   previewed (:func:`beffroi.ingest.preview.preview_file`): encoding, delimiter, column types,
   first rows. Types can be corrected, a schema chosen.
3. ``POST …/{token}/verifier``: the preview again with the corrected types, and the validation
   report (:func:`beffroi.validate.validate`) against the chosen schema — or against the
   columns' types when none is chosen — in plain French.
4. ``POST …/{token}/envoyer``: the file goes to the jobs runner as a new version, published
   or left staged, exactly as the upload API does; ``…/suivi/{job}`` follows the job and,
   when the version was validated (dataset bound to a schema), links to its report.

Every form carries the CSRF token. The wizard folder is bound to the user and the dataset.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from beffroi.access import Action, Actor, require
from beffroi.catalog import services
from beffroi.catalog.models import Dataset
from beffroi.errors import BeffroiError, InvalidInputError, NotFoundError
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.preview import FilePreview, preview_file
from beffroi.jobs import get_job, job_view
from beffroi.settings import Settings
from beffroi.validate import Options, Report, parse_schema, validate
from beffroi.validate.catalogue import ERRORS
from beffroi.validate.registry import Registry
from beffroi.web.deps import ActorDep, JobsDep, SessionDep, SettingsDep
from beffroi.web.pages.rendering import render
from beffroi.web.security import check_csrf
from beffroi.web.uploads import save_upload

router = APIRouter()

SHOWN_ERRORS = 50
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
KIND_LABELS = {
    "string": "texte",
    "integer": "nombre entier",
    "number": "nombre décimal",
    "boolean": "oui / non",
    "date": "date",
    "datetime": "date et heure",
    "geometry": "géométrie",
}
DELIMITERS = {"": "détecté", ";": "point-virgule ;", ",": "virgule ,", "\t": "tabulation"}
ENCODINGS = {"": "détecté", "utf-8": "UTF-8", "cp1252": "Windows-1252", "iso-8859-15": "Latin-9"}


def _wizard_root(settings: Settings) -> Path:
    return settings.data_dir / "wizard"


def _editable(session: SessionDep, actor: Actor, slug: str) -> Dataset:
    dataset = services.get_dataset(session, actor, slug)
    require(actor, Action.DATASET_UPDATE, dataset.publisher_id)
    return dataset


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)


class Wizard:
    """A wizard folder: the uploaded file and the choices made so far (``state.json``)."""

    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        self.directory = directory
        self.state = state

    @property
    def token(self) -> str:
        """The folder's name, in the wizard's URLs."""
        return self.directory.name

    @property
    def source(self) -> Path:
        """The uploaded file."""
        return self.directory / str(self.state["file"])

    def options(self) -> ReadOptions:
        """The reading options chosen (``None``: detected)."""
        return ReadOptions(
            encoding=self.state.get("encoding") or None,
            delimiter=self.state.get("delimiter") or None,
        )

    def save(self) -> None:
        """Write the state back."""
        (self.directory / "state.json").write_text(json.dumps(self.state), encoding="utf-8")

    @classmethod
    def create(cls, settings: Settings, actor: Actor, slug: str) -> Wizard:
        """A new private folder for this user and dataset."""
        directory = _wizard_root(settings) / secrets.token_urlsafe(24)
        directory.mkdir(parents=True, mode=0o700)
        return cls(directory, {"user": actor.user_id, "slug": slug})

    @classmethod
    def load(cls, settings: Settings, actor: Actor, slug: str, token: str) -> Wizard:
        """The folder of ``token`` if it belongs to this user and dataset (404 otherwise)."""
        directory = _wizard_root(settings) / token
        state_file = directory / "state.json"
        if _TOKEN.match(token) and state_file.is_file():
            state = json.loads(state_file.read_text(encoding="utf-8"))
            if state.get("user") == actor.user_id and state.get("slug") == slug:
                return cls(directory, state)
        raise NotFoundError(
            "Ce dépôt n'existe plus ou ne vous appartient pas",
            hint="recommencez le dépôt du fichier depuis la page du jeu de données",
            message_en="This upload no longer exists or is not yours",
            hint_en="start the upload again from the dataset page",
        )


def _schemas(settings: Settings, dataset: Dataset) -> dict[str, str]:
    """Schema choices: the columns' own types, the dataset's schema, the registry's."""
    choices = {"": "aucun : vérifier les types des colonnes ci-dessus"}
    if dataset.schema_ref:
        choices[dataset.schema_ref] = f"schéma du jeu de données ({dataset.schema_ref})"
    for name, entry in sorted(Registry(settings.data_dir / "schemas").entries().items()):
        choices.setdefault(name, f"{entry.get('title') or name} ({name})")
    return choices


def _preview(wizard: Wizard) -> tuple[FilePreview | None, BeffroiError | None]:
    try:
        return preview_file(
            wizard.source, wizard.options(), declared=wizard.state.get("declared") or None
        ), None
    except BeffroiError as exc:
        return None, exc


def _context(
    actor: Actor,
    dataset: Dataset,
    settings: Settings,
    wizard: Wizard,
    **extra: Any,
) -> dict[str, Any]:
    preview, error = _preview(wizard)
    return {
        "actor": actor,
        "dataset": dataset,
        "wizard": wizard,
        "preview": preview,
        "read_error": error,
        "kinds": KIND_LABELS,
        "delimiters": DELIMITERS,
        "encodings": ENCODINGS,
        "schemas": _schemas(settings, dataset),
        **extra,
    }


@router.get("/jeux-de-donnees/{slug}/deposer", response_class=HTMLResponse, name="upload_start")
def upload_start(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """Step 1: choose the file."""
    if not actor.is_authenticated:
        return _login_redirect(request)
    dataset = _editable(session, actor, slug)
    return render(request, "upload_start.html", {"actor": actor, "dataset": dataset})


@router.post("/jeux-de-donnees/{slug}/deposer", name="upload_file")
def upload_file(
    slug: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str | None, Form()] = None,
    encoding: Annotated[str, Form()] = "",
    delimiter: Annotated[str, Form()] = "",
) -> Response:
    """Step 2: keep the file privately and show how it reads."""
    check_csrf(request, csrf_token, settings.signing_key())
    dataset = _editable(session, actor, slug)
    name = (PurePath(file.filename or "").name or "")[:200]
    if not name:
        return render(
            request,
            "upload_start.html",
            {
                "actor": actor,
                "dataset": dataset,
                "error": InvalidInputError(
                    "Aucun fichier choisi",
                    hint="choisissez le fichier à déposer (CSV, Excel, ODS, JSON…)",
                ),
            },
            status_code=422,
        )
    wizard = Wizard.create(settings, actor, dataset.slug)
    suffix = "".join(c for c in PurePath(name).suffix.lower() if c.isalnum() or c == ".")[:10]
    try:
        save_upload(file, wizard.directory / f"source{suffix}", settings.upload_max_mb)
    except BaseException:
        shutil.rmtree(wizard.directory, ignore_errors=True)
        raise
    wizard.state.update(
        file=f"source{suffix}",
        name=name,
        encoding=encoding if encoding in ENCODINGS else "",
        delimiter=delimiter if delimiter in DELIMITERS else "",
    )
    wizard.save()
    return RedirectResponse(
        f"/jeux-de-donnees/{dataset.slug}/deposer/{wizard.token}", status_code=303
    )


@router.get(
    "/jeux-de-donnees/{slug}/deposer/{token}", response_class=HTMLResponse, name="upload_preview"
)
def upload_preview(
    slug: str,
    token: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> Response:
    """Step 2: the preview, with the types and reading options to correct."""
    if not actor.is_authenticated:
        return _login_redirect(request)
    dataset = _editable(session, actor, slug)
    wizard = Wizard.load(settings, actor, dataset.slug, token)
    return render(request, "upload_preview.html", _context(actor, dataset, settings, wizard))


def _declared(form: FormData, preview: FilePreview | None) -> dict[str, str]:
    """The types the user changed (``type-<position>`` fields), by column name."""
    if preview is None:
        return {}
    declared = {}
    for index, column in enumerate(preview.columns):
        chosen = form.get(f"type-{index}")
        if isinstance(chosen, str) and chosen in KIND_LABELS and chosen != column.kind:
            declared[column.name] = chosen
        elif column.declared:
            declared[column.name] = column.kind
    return declared


def _report(settings: Settings, wizard: Wizard, preview: FilePreview) -> Report:
    reference = wizard.state.get("schema") or ""
    if reference:
        schema = Registry(settings.data_dir / "schemas").resolve(reference)
        if schema is None:
            raise InvalidInputError(
                f"Schéma introuvable dans le registre de la plateforme : « {reference} »",
                hint="choisissez « aucun » pour vérifier les types des colonnes, ou demandez à "
                "l'équipe données d'ajouter ce schéma (beffroi schema sync)",
                message_en=f"Schema not found in the platform's registry: “{reference}”",
                hint_en="choose “none” to check the columns' types, or ask the data team to add "
                "this schema (beffroi schema sync)",
            )
    else:
        schema = parse_schema(preview.table_schema(), "types des colonnes")
    return validate(wizard.source, schema, Options(read=wizard.options(), max_errors=1000))


@router.post(
    "/jeux-de-donnees/{slug}/deposer/{token}/verifier",
    response_class=HTMLResponse,
    name="upload_check",
)
async def upload_check(
    slug: str,
    token: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> Response:
    """Step 3: apply the corrections, then validate the whole file and show the report."""
    form = await request.form()
    csrf = form.get("csrf_token")
    check_csrf(request, csrf if isinstance(csrf, str) else None, settings.signing_key())
    # Reading and validating the file is blocking work: off the event loop.
    response: Response = await run_in_threadpool(
        _check, slug, token, request, session, actor, settings, form
    )
    return response


def _check(
    slug: str,
    token: str,
    request: Request,
    session: SessionDep,
    actor: Actor,
    settings: Settings,
    form: FormData,
) -> Response:
    dataset = _editable(session, actor, slug)
    wizard = Wizard.load(settings, actor, dataset.slug, token)
    encoding, delimiter = form.get("encoding", ""), form.get("delimiter", "")
    before, _error = _preview(wizard)
    old = (wizard.state.get("encoding") or "", wizard.state.get("delimiter") or "")
    wizard.state["encoding"] = encoding if encoding in ENCODINGS else ""
    wizard.state["delimiter"] = delimiter if delimiter in DELIMITERS else ""
    reread = old != (wizard.state["encoding"], wizard.state["delimiter"])
    # Read differently, the columns may differ: the corrected types start afresh.
    wizard.state["declared"] = {} if reread else _declared(form, before)
    schema = form.get("schema", "")
    wizard.state["schema"] = schema if schema in _schemas(settings, dataset) else ""
    wizard.save()
    context = _context(actor, dataset, settings, wizard)
    preview: FilePreview | None = context["preview"]
    report = report_error = None
    if preview is not None and form.get("action") == "verifier":
        try:
            report = _report(settings, wizard, preview)
        except BeffroiError as exc:
            report_error = exc
    context.update(
        report=report,
        report_error=report_error,
        errors_shown=report.errors[:SHOWN_ERRORS] if report else [],
        catalogue=ERRORS,
    )
    return render(request, "upload_preview.html", context)


@router.post("/jeux-de-donnees/{slug}/deposer/{token}/envoyer", name="upload_submit")
def upload_submit(
    slug: str,
    token: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    jobs: JobsDep,
    csrf_token: Annotated[str | None, Form()] = None,
    publish: Annotated[str, Form()] = "",
) -> Response:
    """Step 4: hand the file to the jobs runner as the next version (published or staged)."""
    check_csrf(request, csrf_token, settings.signing_key())
    dataset = _editable(session, actor, slug)
    wizard = Wizard.load(settings, actor, dataset.slug, token)
    job_id, directory = jobs.new_upload_dir()
    target = directory / str(wizard.state["file"])
    shutil.move(str(wizard.source), target)
    shutil.rmtree(wizard.directory, ignore_errors=True)
    params = {
        "publish": publish == "oui",
        "mode": "replace",
        "encoding": wizard.state.get("encoding") or None,
        "delimiter": wizard.state.get("delimiter") or None,
        "declared": wizard.state.get("declared") or None,
    }
    job = jobs.submit_ingest(
        actor,
        dataset.slug,
        dataset.id,
        job_id,
        target,
        {k: v for k, v in params.items() if v is not None},
        source_name=str(wizard.state.get("name") or target.name),
    )
    return RedirectResponse(
        f"/jeux-de-donnees/{dataset.slug}/deposer/suivi/{job.id}", status_code=303
    )


@router.get(
    "/jeux-de-donnees/{slug}/deposer/suivi/{job_id}",
    response_class=HTMLResponse,
    name="upload_status",
)
def upload_status(
    slug: str, job_id: str, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """Step 5: the job's progress and outcome; a version validated against the dataset's
    schema links to its validation report and invalid rows (``…/versions/{n}/rapport``)."""
    if not actor.is_authenticated:
        return _login_redirect(request)
    dataset = _editable(session, actor, slug)
    job = job_view(get_job(session, actor, job_id))
    result = job["result"] or {}
    report_url = None
    if job["status"] == "succeeded" and result.get("conformance") and result.get("version"):
        report_url = f"/jeux-de-donnees/{dataset.slug}/versions/{int(result['version'])}/rapport"
    return render(
        request,
        "upload_status.html",
        {"actor": actor, "dataset": dataset, "job": job, "report_url": report_url},
    )
