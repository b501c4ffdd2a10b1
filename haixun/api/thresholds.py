"""Threshold configuration texts (``threshold_versions``) parsed with riskcode's validation."""

from __future__ import annotations

import json
from typing import Any

from haixun.riskcode.config import ConfigError, RiskConfig


class StoredConfigInvalid(ConfigError):
    """A stored threshold version that no longer validates (riskcode's rules changed since it was saved)."""

    def message(self) -> str:
        return "that version no longer validates"


def parse_config(fmt: str, text: str) -> RiskConfig:
    """riskcode's validation of a TOML or JSON configuration text; raises ConfigError."""
    if fmt == "toml":
        return RiskConfig.from_toml(text)
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise ConfigError([f"JSON syntax: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be an object"])
    return RiskConfig.from_dict(data)


def parse_stored_config(fmt: str, text: str) -> RiskConfig:
    """``parse_config`` of a stored version; raises StoredConfigInvalid."""
    try:
        return parse_config(fmt, text)
    except ConfigError as exc:
        raise StoredConfigInvalid(exc.errors) from None
