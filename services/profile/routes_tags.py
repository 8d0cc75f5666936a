"""The tag vocabulary and staff setting a customer's tags."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.tags import BUILTIN_TAGS
from services.profile import models, staff_tags
from services.profile.data import tags
from services.profile.deps import CustomerId, Db, Language, Reader, TenantId, Writer
from services.profile.problems import Problem, problem_responses
from services.profile.tagging import label, vocabulary

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["tags"])


def _tag(code: str, labels: dict[str, str], language: str) -> models.Tag:
    return models.Tag(
        code=code,
        label=label({code: labels}, code, language),
        labels=models.Labels(**labels),
        builtin=code in BUILTIN_TAGS,
    )


@router.get(
    "/tags",
    response_model=models.TagList,
    responses=problem_responses(401, 403, 422, 429, 503),
    summary="The tag vocabulary",
)
async def list_tags(tenant: TenantId, _: Reader, db: Db, lang: Language) -> models.TagList:
    """Built-in tags, then the tenant's custom tags."""
    async with db.tenant(tenant) as conn:
        vocab = vocabulary(await tags.custom(conn, tenant))
    return models.TagList(items=[_tag(code, labels, lang) for code, labels in vocab.items()])


@router.post(
    "/tags",
    response_model=models.Tag,
    status_code=201,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 429, 503),
    summary="Add a custom tag",
)
async def create_tag(
    tenant: TenantId, body: models.TagCreate, _: Writer, db: Db, lang: Language
) -> models.Tag:
    """A new tag code with nl / fr / en labels; 409 if the code exists."""
    labels = body.labels.model_dump()
    if body.code in BUILTIN_TAGS:
        raise Problem(409, f"{body.code!r} is a built-in tag")
    async with db.tenant(tenant) as conn:
        if not await tags.create(conn, tenant, body.code, labels):
            raise Problem(409, f"tag {body.code!r} exists")
    return _tag(body.code, labels, lang)


@router.put(
    "/customers/{customer_id}/tags",
    response_model=models.CustomerCard,
    responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 503),
    summary="Replace a customer's tags",
)
async def put_tags(
    tenant: TenantId,
    customer_id: CustomerId,
    body: models.TagsUpdate,
    _: Writer,
    db: Db,
    lang: Language,
) -> models.CustomerCard:
    """The body is the full desired set; auto tags left out are never re-added by ingest."""
    return await staff_tags.set_tags(db, tenant, customer_id, body.tags, lang)
