"""The web pages, their static files, the pages' settings and Swagger UI.

Everything is served from the package (docs/web.md): the pages' own files
under ``haixun/web/static/`` and the third-party assets installed by
``python -m haixun.web.build_assets`` under ``/static/vendor/``. ``/docs``
loads Swagger UI from there, so it works with no network.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from haixun.api.models import WebConfigOut
from haixun.riskcode.config import RiskConfig
from haixun.riskcode.levels import Level
from haixun.settings import Settings
from haixun.web import assets_installed, vocabulary

log = logging.getLogger(__name__)

SWAGGER = "/static/vendor/swagger-ui"


LEVELS = ("blue", "yellow", "orange", "red")


def chart_lines(config: RiskConfig) -> dict[str, Any]:
    """The warning lines the duty screen draws on the wind/wave chart: the gale
    signal table's mean-wind force per level and the wave bands (riskcode.toml)."""
    w = config.wind
    wind = [{"level": lv, "value": w.mps(w.gale.signal(Level(lv)).mean_bft),
             "label": f"{w.gale.signal(Level(lv)).mean_bft}级 {w.mps(w.gale.signal(Level(lv)).mean_bft):g} m/s"}
            for lv in LEVELS]
    wave = [{"level": lv, "value": float(getattr(config.wave.thresholds_m, lv))} for lv in LEVELS]
    return {"wind_mean_mps": wind, "wind_source": w.gale.source, "wave_m": wave, "wave_source": config.wave.source}


def install_web(app: FastAPI, *, web_dir: Path, geo_file: Path, settings: Settings) -> None:
    # the pages' words and level colours, generated from haixun/web/vocabulary.py (before the
    # /static mount, which would otherwise answer these paths)
    script, css = vocabulary.javascript(), vocabulary.stylesheet()

    @app.get("/static/vocabulary.js", include_in_schema=False)
    async def vocabulary_js() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    @app.get("/static/levels.css", include_in_schema=False)
    async def levels_css() -> Response:
        return Response(css, media_type="text/css; charset=utf-8")

    static = web_dir / "static"
    if static.is_dir():
        if not assets_installed(static):
            log.warning("web assets are not installed (%s): the map, charts, Chinese font and /docs need "
                        "`python -m haixun.web.build_assets`", static / "vendor")
        app.mount("/static", StaticFiles(directory=static), name="static")

    def page(name: str) -> FileResponse:
        path = web_dir / name
        if not path.is_file():
            raise HTTPException(404, f"{name} is not installed")
        return FileResponse(path, media_type="text/html; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return page("index.html")

    @app.get("/screen", include_in_schema=False)
    async def screen() -> FileResponse:
        return page("screen.html")

    @app.get("/api/v1/geography", tags=["public"],
             summary="The served geography (GeoJSON, docs/data-model.md) drawn by the web pages",
             responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}},
                              "description": "a GeoJSON FeatureCollection with a top-level meta object"}})
    async def geography() -> FileResponse:
        return FileResponse(geo_file, media_type="application/geo+json")

    @app.get("/api/v1/web-config", tags=["public"],
             summary="Settings of the web pages: basemap, chart lines from the active risk configuration",
             response_model=WebConfigOut)
    async def web_config() -> dict[str, Any]:
        url = settings.basemap_url.strip()
        clock = settings.clock
        return {"basemap": {"url": url, "attribution": settings.basemap_attribution} if url else None,
                "chart_lines": chart_lines(app.state.ctx.risk_config),
                # a station reading older than this is stale (riskcode.toml [staleness.max_age_s], data time)
                "staleness_s": dict(app.state.ctx.risk_config.staleness.max_age_s),
                "clock": {"replay": clock.is_replay, "speed": clock.speed,
                          "sim_start": clock.sim_start.isoformat() if clock.sim_start else None,
                          "wall_start": clock.wall_start.isoformat() if clock.wall_start else None}}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · docs",
                                   swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{SWAGGER}/swagger-ui.css",
                                   swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png")
