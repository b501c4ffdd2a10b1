"""Issue 17: one root for haixun's exceptions, and one handler that turns each into the API's error body.

Every exception class defined in haixun/ is found in the source (``ast``), so a new one that does not
derive from ``HaixunError``, or that has no expected answer in EXPECTED, fails here."""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from haixun.api import errors as api_errors
from haixun.errors import Conflict, HaixunError, InvalidInput, NotFound, Unavailable
from haixun.settings import Settings
from tests.support.api import add_key, running_api, sync_test_geography

ROOT = Path(__file__).resolve().parents[1] / "haixun"
INTERNAL = "internal error"
UNAVAILABLE = Unavailable.generic


@functools.cache
def _exception_classes() -> dict[str, type[BaseException]]:
    """module:qualname -> class, for every class in haixun/ that is an exception."""
    found: dict[str, type[BaseException]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "static" in path.parts or "npm" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        if not names:
            continue
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        mod = importlib.import_module(module)
        for name in names:
            cls = getattr(mod, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException) and cls.__module__ == module:
                found[f"{module}:{name}"] = cls
    return found


# class -> (a way to make one, expected status, code, message: None = its own text, else this one)
EXPECTED: dict[str, tuple[Callable[[type[Any]], BaseException], int, str, str | None]] = {
    "haixun.errors:HaixunError": (lambda c: c("secret detail"), 500, "internal", INTERNAL),
    "haixun.errors:InvalidInput": (lambda c: c("lat must be a number"), 422, "invalid_input", None),
    "haixun.errors:NotFound": (lambda c: c("unknown segment 'X'"), 404, "not_found", None),
    "haixun.errors:Conflict": (lambda c: c("already acknowledged"), 409, "conflict", None),
    "haixun.errors:Unavailable": (lambda c: c("db at 10.0.0.1:5432 refused"), 503, "unavailable", UNAVAILABLE),
    "haixun.contract:ContractError": (lambda c: c("malformed", "bad payload"), 422, "invalid_input", None),
    "haixun.riskcode.config:ConfigError": (lambda c: c(["wave.thresholds_m: must increase"]), 422, "invalid_input",
                                           "invalid riskcode configuration"),
    "haixun.api.thresholds:StoredConfigInvalid": (lambda c: c(["wave: gone"]), 422, "invalid_input",
                                                  "that version no longer validates"),
    "haixun.api.risk:OutsideServedArea": (lambda c: c(), 404, "not_found", None),
    "haixun.api.routes_tide:UnreadableTideModel": (lambda c: c("stored tidal model of 'T' is unreadable"), 500,
                                                   "internal", None),
    "haixun.api.auth:InsecureSecret": (lambda c: c("HAIXUN_JWT_SECRET is weak"), 500, "internal", INTERNAL),
    "haixun.engine.leader:LeadershipLost": (lambda c: c("lost"), 500, "internal", INTERNAL),
    "haixun.ingest.service:DbUnavailable": (lambda c: c("no db"), 503, "unavailable", UNAVAILABLE),
    "haixun.ingest.spool:SpoolFull": (lambda c: c("full"), 503, "unavailable", UNAVAILABLE),
    "haixun.ingest.qc:QcConfigError": (lambda c: c(["spike.fail: must be a number"]), 500, "internal", INTERNAL),
    "haixun.ingest.configfile:ConfigFileError": (lambda c: c(["x: unknown key"]), 500, "internal", INTERNAL),
    "haixun.ingest.admission:AdmissionConfigError": (lambda c: c(["version: required key is missing"]), 500,
                                                     "internal", INTERNAL),
    "haixun.ingest.slots:SlotTaken": (lambda c: c("slot 1 is held by pid 7"), 500, "internal", INTERNAL),
    "haixun.lifecycle:LifecycleError": (lambda c: c("IngestService.start() called twice"), 500, "internal", INTERNAL),
    "haixun.ingest.pipeline:NeedLookup": (lambda c: c("station", {"X"}), 500, "internal", INTERNAL),
    "haixun.data.geography:GeographyError": (lambda c: c("pinghu.geojson", ["bad"]), 500, "internal", INTERNAL),
    "haixun.gateways.broker:BrokerAuthError": (lambda c: c("no passwd"), 500, "internal", INTERNAL),
    "haixun.demo.services:ServiceUnavailable": (lambda c: c("no broker"), 503, "unavailable", UNAVAILABLE),
    "haixun.demo.embedded_broker:EmbeddedBrokerError": (lambda c: c("no start"), 500, "internal", INTERNAL),
    "haixun.demo.embedded_postgres:EmbeddedPostgresError": (lambda c: c("no start"), 500, "internal", INTERNAL),
    "haixun.simulators.gateway:_WentOffline": (lambda c: c(3.0), 500, "internal", INTERNAL),
}


def test_every_exception_of_haixun_derives_from_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 13, sorted(classes)  # the 13 of issue 17, and the root's own
    assert [k for k, c in classes.items() if not issubclass(c, HaixunError)] == []
    assert sorted(classes) == sorted(EXPECTED), "give each exception class its expected answer in EXPECTED"


def _app_raising(exc: BaseException) -> FastAPI:
    app = FastAPI()
    api_errors.install(app)

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        raise exc

    return app


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_domain_error_has_its_status_and_the_one_body(name: str) -> None:
    classes = _exception_classes()
    make, status, code, message = EXPECTED[name]
    exc = make(classes[name])
    transport = httpx.ASGITransport(app=_app_raising(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom")
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code
    want = message if message is not None else str(exc).splitlines()[0]
    assert body["error"]["message"] == want
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if status == 503:
        assert r.headers["retry-after"] == "5"
    if name in ("haixun.riskcode.config:ConfigError", "haixun.api.thresholds:StoredConfigInvalid"):
        assert body["error"]["details"]["errors"] == exc.errors  # type: ignore[attr-defined]
        assert body["detail"] == body["error"]["details"]  # what older clients read
    else:
        assert body["error"]["details"] is None and body["detail"] == want


def test_the_generic_errors_are_ordinary_exceptions_too() -> None:
    """InvalidInput stays a ValueError (pydantic validators report it), NotFound a LookupError."""
    assert issubclass(InvalidInput, ValueError) and issubclass(NotFound, LookupError)
    assert not issubclass(Conflict, ValueError)


async def test_routes_raising_domain_errors_answer_with_the_one_body(settings: Settings, db_url: str,
                                                                    tmp_path: Path) -> None:
    """Through the real app: OutsideServedArea, ConfigError and InvalidInput raised inside routes (none of
    which converts them) come out as their status with the error body."""
    sync_test_geography(db_url)
    admin = {"X-API-Key": add_key(db_url, "errs-admin", "admin")}
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        r = await c.get("/api/v1/risk", params={"lat": 31.5, "lon": 121.02})
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found" and "outside the served area" in r.json()["error"]["message"]
        r = await c.post("/api/v1/thresholds", json={"format": "json", "text": "[1]"}, headers=admin)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["message"] == "invalid riskcode configuration" and err["details"]["errors"] == [
            "(top level): must be an object"]
        r = await c.get("/api/v1/stations/ST1/tide", params={"from": "2021-07-25T00:00:00"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
        r = await c.get("/api/v1/stations/ST1/readings",
                        params={"quantity": "tide_level", "from": "2021-07-25T00:00:00"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_input" and "UTC offset" in r.json()["error"]["message"]
        r = await c.get("/api/v1/stations/ST1/readings", params={"quantity": "tide_level", "to": "9999-12-31T23:00:00Z"})
        assert r.status_code == 422 and "between the years" in r.json()["error"]["message"], r.text


async def test_no_error_body_is_a_bare_string(settings: Settings, db_url: str, tmp_path: Path) -> None:
    """Errors the framework raises (unknown path, wrong method, a static file or page that is not there,
    a body that is no JSON, missing credentials, a wrong role) carry the one error body too."""
    sync_test_geography(db_url)
    (tmp_path / "web" / "static").mkdir(parents=True)
    viewer = {"X-API-Key": add_key(db_url, "errs-viewer", "viewer")}
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        cases = [
            (await c.get("/api/v1/no-such-route"), 404),
            (await c.delete("/api/v1/segments"), 405),
            (await c.get("/static/no-such-file.js"), 404),
            (await c.get("/screen"), 404),  # screen.html is not installed in this web folder
            (await c.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}),
             422),
            (await c.get("/api/v1/overrides"), 401),
            (await c.get("/api/v1/audit", headers=viewer), 403),
        ]
        for r, status in cases:
            assert r.status_code == status, (r.request.url, r.status_code, r.text)
            body = r.json()
            assert isinstance(body, dict) and set(body["error"]) == {"code", "message", "details"}, r.text
            assert isinstance(body["error"]["message"], str) and body["error"]["message"], r.text
