"""Import a customer file: the template, drag-and-drop or picker, the dry-run report, confirm,
and the import's progress while ingest applies it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from starlette.datastructures import UploadFile

from schemas.customer_csv import template_csv
from services.profile.console import uploads
from services.profile.console.fields import FIELD_LABELS
from services.profile.console.i18n import N_
from services.profile.console.pages_customers import Venue
from services.profile.console.web import Ctx
from services.profile.csvimport import FIELDS, ColumnMapping, ImportFileError, peek
from services.profile.import_history import import_state as state_of
from services.profile.import_history import past_imports, take_back
from services.profile.import_runs import import_file, import_state
from services.profile.importing import TooLarge, spool
from services.profile.problems import Problem

router = APIRouter(prefix="/console", include_in_schema=False)
SAMPLE_ROWS = 5  # the first rows of a file shown under its columns while staff map them


def _refused(ctx: Ctx) -> Response | None:
    if ctx.may("import"):
        return None
    return ctx.render("error.html", status=403, message=N_("This token may not import."))


PAST = 20


async def _page(ctx: Ctx, status: int = 200, error: str | None = None) -> Response:
    past = await past_imports(ctx.db, ctx.venue(), PAST)
    return ctx.render("import.html", status=status, error=error, past=past)


@router.get("/import")
async def import_page(ctx: Venue) -> Response:
    """The template, the upload form and the past imports, each with an undo."""
    return _refused(ctx) or await _page(ctx)


@router.post("/imports/{import_id}/undo")
async def undo(ctx: Venue, import_id: uuid.UUID) -> Response:
    """Take an import back: every change it made goes."""
    await ctx.form()
    if refused := _refused(ctx):
        return refused
    try:
        await take_back(
            ctx.db,
            ctx.request.app.state.publisher,
            ctx.settings,
            ctx.venue(),
            import_id,
            token_id=ctx.principal.token_id if ctx.principal else None,
        )
    except Problem:
        return ctx.redirect("/console/import", flash=N_("This import cannot be undone now."))
    return ctx.redirect("/console/import", flash=N_("The import is undone."))


@router.get("/import/template.csv")
async def template(ctx: Venue) -> Response:
    """The CSV template (the export's columns)."""
    return _refused(ctx) or PlainTextResponse(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts-template.csv"'},
    )


@router.post("/import")
async def dry_run(ctx: Venue) -> Response:
    """Read the file, report every row's verdict and error; nothing is written."""
    form = await ctx.form()
    if refused := _refused(ctx):
        return refused
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(ctx, 422, N_("Choose a CSV file first."))

    async def parts() -> AsyncIterator[bytes]:
        while chunk := await upload.read(1024 * 1024):
            yield chunk

    try:
        file, sha256 = await spool(parts())
    except TooLarge:
        return await _page(ctx, 413, N_("The file is too large."))
    try:
        name = uploads.keep(ctx.venue(), file)
        ctx.session.set("upload", {"name": name, "sha256": sha256, "file": upload.filename[:80]})
        return await _report(ctx, file, sha256, upload.filename, None)
    finally:
        file.close()


async def _report(
    ctx: Ctx, file: IO[bytes], sha256: str, filename: str, mapping: ColumnMapping | None
) -> Response:
    """The dry run's report; the column mapping form when the header cannot be read."""
    try:
        report, _ = await import_file(
            ctx.db,
            ctx.request.app.state.publisher,
            ctx.settings,
            ctx.venue(),
            file,
            sha256,
            dry_run=True,
            mapping=mapping,
        )
    except Problem as problem:
        header, rows = peek(file, SAMPLE_ROWS)
        if not header:
            return await _page(ctx, 422, N_("This file cannot be read as CSV."))
        chosen: dict[str, str | None] = dict(mapping.columns) if mapping else {}
        return _mapping_form(
            ctx,
            (header, rows),
            chosen,
            filename,
            problem.detail,
            status=422,
            date_format=_format_of(mapping),
        )
    current = {c["column"]: c["field"] for c in report.columns if c["column"] is not None}
    header, rows = peek(file, SAMPLE_ROWS)
    return ctx.render(
        "import_report.html",
        report=report,
        filename=filename,
        header=list(enumerate(header)),
        rows=rows,
        current=current,
        fields=[(f, FIELD_LABELS.get(f, f)) for f in FIELDS],
        mapped=mapping is not None,
        date_format=_format_of(mapping),
    )


def _format_of(mapping: ColumnMapping | None) -> str:
    """The date format staff gave, as they wrote it (shown again in the form)."""
    return (mapping.date_format or "") if mapping else ""


def _mapping_form(
    ctx: Ctx,
    sample: tuple[list[str], list[list[str]]],
    current: dict[str, str | None],
    filename: str,
    problem: str | None = None,
    status: int = 200,
    date_format: str = "",
) -> Response:
    fields = [(f, FIELD_LABELS.get(f, f)) for f in FIELDS]
    header, rows = sample
    return ctx.render(
        "import_mapping.html",
        status=status,
        header=list(enumerate(header)),
        rows=rows,
        current=current,
        fields=fields,
        filename=filename,
        problem=problem,
        date_format=date_format,
    )


def _kept(ctx: Ctx) -> tuple[Path, str, str] | None:
    """The file of the last dry run: its path, sha256 and name as uploaded."""
    pending = ctx.session.get("upload")
    if not isinstance(pending, dict) or not isinstance(pending.get("name"), str):
        return None
    path = uploads.path_of(ctx.venue(), pending["name"])
    return (path, str(pending["sha256"]), str(pending.get("file") or "")) if path else None


@router.post("/import/mapping")
async def apply_mapping(ctx: Venue) -> Response:
    """The dry run again, the columns read as staff said (remembered for this header)."""
    form = await ctx.form()
    if refused := _refused(ctx):
        return refused
    kept = _kept(ctx)
    if kept is None:
        return ctx.redirect("/console/import", flash=N_("Upload the file again, please."))
    path, sha256, filename = kept
    with path.open("rb") as file:
        header, rows = peek(file, SAMPLE_ROWS)
        chosen = {label: str(form.get(f"col-{i}") or "ignore") for i, label in enumerate(header)}
        date_format = str(form.get("date_format") or "").strip() or None
        try:
            mapping = ColumnMapping.parse({**chosen, "date_format": date_format})
        except ImportFileError as exc:
            current: dict[str, str | None] = dict(chosen)
            return _mapping_form(ctx, (header, rows), current, filename, exc.message, status=422)
        return await _report(ctx, file, sha256, filename, mapping)


@router.post("/import/confirm")
async def confirm(ctx: Venue) -> Response:
    """Import the file of the dry run just shown."""
    await ctx.form()
    if refused := _refused(ctx):
        return refused
    kept = _kept(ctx)
    if kept is None:
        return ctx.redirect("/console/import", flash=N_("Upload the file again, please."))
    path, sha256, _ = kept
    ctx.session.drop("upload")
    try:
        with path.open("rb") as file:
            _, import_id = await import_file(
                ctx.db,
                ctx.request.app.state.publisher,
                ctx.settings,
                ctx.venue(),
                file,
                sha256,
                dry_run=False,  # the columns as the dry run read them (the venue's mapping)
            )
    except Problem:
        return ctx.redirect("/console/import", flash=N_("This file cannot be read as CSV."))
    finally:
        path.unlink(missing_ok=True)
    return ctx.redirect(f"/console/imports/{import_id}")


@router.get("/imports/{import_id}")
async def progress(ctx: Venue, import_id: uuid.UUID) -> Response:
    """How many of the import's rows ingest has applied; reloads itself until done."""
    if refused := _refused(ctx):
        return refused
    try:
        row = await import_state(ctx.db, ctx.venue(), import_id)
    except Problem:
        return ctx.render("error.html", status=404, message=N_("This import does not exist."))
    return ctx.render("import_progress.html", job=row, state=state_of(dict(row)))
