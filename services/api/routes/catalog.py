"""The catalog, served the expensive way and the cheap ways.

Expensive: ``GET /catalog`` (over 1 MB, every time) and ``GET /catalog/items/{id}``
once per item (N+1). Cheap: ``Accept-Encoding: gzip`` (precompressed bytes),
``If-None-Match`` (304, no body), ``?page=&per_page=`` with ``Link`` headers, and
``/catalog/batch`` with ``fields`` projection and a ``compact`` row format.
"""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web

from services.api.catalog import FIELDS, Catalog, Representation
from services.api.encoding import accepts_gzip
from services.api.middleware import IDENTITY_SHA256
from services.api.routes._io import int_param, is_int, json_response, parse_object
from services.api.state import state_of
from services.common.errors import FieldError
from services.common.http import json_error

routes = web.RouteTableDef()

CATALOG_VERSION = "X-Fallacies-Catalog-Version"
FORMATS = ("objects", "compact")


def _send(request: web.Request, rep: Representation, version: int) -> web.Response:
    """The precomputed bytes in the coding the client accepts, or 304 when it has them."""
    gzip = accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING))
    headers = {
        hdrs.ETAG: rep.etag_gzip if gzip else rep.etag,
        hdrs.VARY: hdrs.ACCEPT_ENCODING,
        hdrs.CACHE_CONTROL: "no-cache",
        CATALOG_VERSION: str(version),
    }
    if rep.matches(request.headers.get(hdrs.IF_NONE_MATCH)):
        return web.Response(status=304, headers=headers)
    response = web.Response(
        body=rep.gzipped if gzip else rep.identity,
        headers=headers,
        content_type="application/json",
    )
    if gzip:
        response.headers[hdrs.CONTENT_ENCODING] = "gzip"
    response[IDENTITY_SHA256] = rep.sha256
    return response


def _link_header(number: int, pages: int, per_page: int) -> str:
    def link(page: int, rel: str) -> str:
        return f'</catalog?page={page}&per_page={per_page}>; rel="{rel}"'

    links = [link(1, "first"), link(pages, "last")]
    if number > 1:
        links.append(link(min(number - 1, pages), "prev"))
    if number < pages:
        links.append(link(number + 1, "next"))
    return ", ".join(links)


@routes.get("/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    state = state_of(request)
    catalog = state.catalog
    query = request.query
    if "page" not in query and "per_page" not in query:
        return _send(request, catalog.full, catalog.version)
    config = state.config
    number = int_param(query, "page", default=1, low=1)
    per_page = int_param(
        query, "per_page", default=config.catalog_per_page, low=1, high=config.catalog_max_per_page
    )
    page = catalog.page(number, per_page)
    response = _send(request, page.body, catalog.version)
    response.headers[hdrs.LINK] = _link_header(number, page.pages, per_page)
    return response


@routes.get("/catalog/items/{id}")
async def get_item(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    try:
        item_id = int(raw)
    except ValueError:
        raise FieldError("id", f"expected an integer item id, got {raw!r}") from None
    item = state_of(request).catalog.item(item_id)
    if item is None:
        return json_error(404, "no such item", reason="NoSuchItem")
    return json_response(item)


def _batch(catalog: Catalog, ids: list[int], fields: list[str] | None, fmt: str) -> dict[str, Any]:
    wanted = list(dict.fromkeys(ids))
    found = [item for item in (catalog.item(i) for i in wanted) if item is not None]
    missing = [i for i in wanted if catalog.item(i) is None]
    columns = fields or list(FIELDS)
    if fmt == "compact":
        rows = [[item[c] for c in columns] for item in found]
        return {"version": catalog.version, "fields": columns, "rows": rows, "missing": missing}
    items = found if fields is None else [{c: item[c] for c in columns} for item in found]
    return {"version": catalog.version, "items": items, "missing": missing}


def _check_ids(raw: Any, limit: int) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise FieldError("ids", "expected a non-empty list of item ids")
    if len(raw) > limit:
        raise FieldError("ids", f"at most {limit} ids per batch, got {len(raw)}")
    if not all(is_int(i) for i in raw):
        raise FieldError("ids", "every id must be an integer")
    return list(raw)


def _check_fields(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise FieldError("fields", "expected a non-empty list of field names")
    unknown = [f for f in raw if f not in FIELDS]
    if unknown:
        raise FieldError("fields", f"unknown {unknown}; known: {', '.join(FIELDS)}")
    return list(dict.fromkeys(raw))


def _check_format(raw: Any) -> str:
    if raw is None:
        return "objects"
    if raw not in FORMATS:
        raise FieldError("format", f"expected one of {', '.join(FORMATS)}")
    return str(raw)


def _split(raw: str | None) -> list[str] | None:
    return None if raw is None else [part for part in raw.split(",") if part]


@routes.post("/catalog/batch")
async def post_batch(request: web.Request) -> web.Response:
    """``{"ids": [...], "fields": [...]?, "format": "objects"|"compact"?}``"""
    state = state_of(request)
    doc = parse_object(await request.read(), allowed=("ids", "fields", "format"))
    ids = _check_ids(doc.get("ids"), state.config.batch_max_ids)
    result = _batch(
        state.catalog, ids, _check_fields(doc.get("fields")), _check_format(doc.get("format"))
    )
    return json_response(result)


@routes.get("/catalog/batch")
async def get_batch(request: web.Request) -> web.Response:
    """``?ids=1,2,3&fields=id,name&format=compact`` — the same as the POST, cacheable."""
    state = state_of(request)
    query = request.query
    raw_ids = _split(query.get("ids"))
    ids: list[Any] | None = None
    if raw_ids is not None:
        try:
            ids = [int(i) for i in raw_ids]
        except ValueError:
            raise FieldError("ids", "every id must be an integer") from None
    result = _batch(
        state.catalog,
        _check_ids(ids, state.config.batch_max_ids),
        _check_fields(_split(query.get("fields"))),
        _check_format(query.get("format")),
    )
    return json_response(result)
