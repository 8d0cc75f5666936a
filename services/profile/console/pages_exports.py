"""Export the list's current filters to CSV (Excel presets), follow the job, download it."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.datastructures import QueryParams

from services.profile import exporting
from services.profile.console import filters
from services.profile.console.i18n import N_
from services.profile.console.pages_customers import Venue
from services.profile.listing import customer_page
from services.profile.problems import Problem

router = APIRouter(prefix="/console", include_in_schema=False)
# Excel opens a `;` file with a BOM as UTF-8 columns in Belgian (nl/fr) settings, a `,` file
# in English ones.
PRESETS = {"excel_semicolon": (";", True), "excel_comma": (",", True), "plain": (",", False)}


def default_preset(language: str) -> str:
    """The preset a user of ``language`` in Belgium most likely needs."""
    return "excel_comma" if language == "en" else "excel_semicolon"


@router.get("/export")
async def export_form(ctx: Venue) -> Response:
    """What will be exported (the list's filters and their count) and the file's format."""
    query = filters.read(ctx.request.query_params)
    page = await customer_page(
        ctx.db,
        ctx.settings,
        ctx.venue(),
        query.filters,
        sort="-last_contact_at",
        limit=1,
        cursor=None,
        include_total=True,
    )
    return ctx.render(
        "export.html",
        query=query,
        total=page.total,
        preset=default_preset(ctx.language),
        hidden=[(k, v) for k, values in query.values.items() for v in _listed(values) if v],
    )


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@router.post("/exports")
async def start_export(ctx: Venue) -> Response:
    """Queue the export; its page shows the progress."""
    form = await ctx.form()
    if not ctx.may("export"):
        return ctx.render("error.html", status=403, message=N_("This token may not export."))
    params = QueryParams([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    query = filters.read(params)
    delimiter, bom = PRESETS.get(str(form.get("preset")), PRESETS["excel_semicolon"])
    export_id = await exporting.queue(
        ctx.db,
        ctx.request.app.state.export_requests,
        ctx.venue(),
        query.filters,
        delimiter=delimiter,
        bom=bom,
    )
    return ctx.redirect(f"/console/exports/{export_id}")


@router.get("/exports/{export_id}")
async def export_progress(ctx: Venue, export_id: uuid.UUID) -> Response:
    """Where the export stands; the page reloads itself until it is done."""
    try:
        job = await exporting.state(ctx.db, ctx.venue(), export_id)
    except Problem:
        return ctx.render("error.html", status=404, message=N_("This export does not exist."))
    return ctx.render("export_progress.html", job=job)


@router.get("/exports/{export_id}/download")
async def export_download(ctx: Venue, export_id: uuid.UUID) -> Response:
    """The finished CSV."""
    if not ctx.may("export"):
        return ctx.render("error.html", status=403, message=N_("This token may not export."))
    try:
        path, name = await exporting.finished_file(
            ctx.db, Path(ctx.settings.exports_path), ctx.venue(), export_id
        )
    except Problem:
        return ctx.render("error.html", status=404, message=N_("This export is not ready."))
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=name)
