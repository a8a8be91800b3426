"""Each HTTP API is described once, and the description is true: a valid OpenAPI 3.1
document, equal to the app's route table both ways, served as it is, and rendered into
docs/http-apis.md."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from services.common import openapi
from services.workload.service import create_app as workload_app
from tests.common.apis import TARGETS, Running

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_every_document_is_valid_openapi_with_named_operations(generate: ModuleType) -> None:
    for api in generate.APIS:
        doc = api.document()
        validate(doc)
        ids = [op.get("operationId") for _, _, op in openapi.operations(doc)]
        assert all(ids) and len(ids) == len(set(ids)), (api.slug, ids)
        assert all(op.get("summary") for _, _, op in openapi.operations(doc)), api.slug


@pytest.mark.parametrize("name", sorted(set(TARGETS) - {"gate"}))
def test_each_app_serves_exactly_its_document(name: str) -> None:
    target = TARGETS[name]
    with Running(target.make()) as running:
        endpoints = running.service.endpoints
        served = dict(running.apps())
        for site, document in target.sites.items():
            doc = document()
            app = served[endpoints[site]]
            assert openapi.mismatches(app, doc) == [], (name, site)
            with urllib.request.urlopen(endpoints[site] + openapi.PATH, timeout=10) as answer:
                assert json.load(answer) == json.loads(json.dumps(doc)), (name, site)


def test_the_workload_app_serves_exactly_its_document() -> None:
    service: Any = SimpleNamespace(registry=CollectorRegistry())
    app = workload_app(service)
    assert openapi.mismatches(app, openapi.load("services.workload")) == []


def test_mismatches_name_both_directions() -> None:
    from aiohttp import web

    app = web.Application()

    async def ok(_: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/a", ok)
    doc = {"paths": {"/b": {"post": {"summary": "x"}}}}
    assert openapi.mismatches(app, doc) == ["undocumented: GET /a", "not served: POST /b"]


def test_every_operation_lists_the_shared_answers_once() -> None:
    doc = openapi.load("services.dns")
    for path, _, op in openapi.operations(doc):
        if path in openapi.OPEN_PATHS:
            assert "401" not in op["responses"], path
        else:
            assert {"401", "403", "405", "413"} <= set(op["responses"]), path


def test_docs_page_is_what_the_documents_render(generate: ModuleType) -> None:
    assert not generate.stale(), "docs/http-apis.md is stale: run python docs/generate.py"


@pytest.mark.parametrize("ttl", ["86401", "1e12", "inf", "-1", "0"])
def test_a_node_fault_ttl_beyond_a_day_is_a_400_and_nothing_is_done(ttl: str) -> None:
    """Every number range-checked before anything is applied: the control API's ttl too."""
    with Running(TARGETS["control"].make()) as running:
        base = running.service.endpoints["api"]
        request = urllib.request.Request(f"{base}/nodes/dns/stop?ttl={ttl}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert json.load(refused.value)["field"] == "ttl"
        with urllib.request.urlopen(f"{base}/nodes", timeout=10) as answer:
            assert {n["name"]: n["state"] for n in json.load(answer)}["dns"] == "running"
