"""The duty screen and resident page (static files served by the API)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def assets_installed(static: Path = STATIC_DIR) -> bool:
    """The third-party web assets (Leaflet, uPlot, the font subset, Swagger UI) that
    ``python -m haixun.web.build_assets`` installs under ``static/vendor``."""
    return (static / "vendor" / "manifest.json").is_file()
