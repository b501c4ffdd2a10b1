"""Admission: what a contract-valid message must also satisfy to be stored.

The contract (haixun/contract.py) checks syntax. Admission checks a parsed
message against the geography and the clock (docs/contract.md, "Admission"):

* station -> quantity: an observation may only carry quantities its station
  measures (``stations.quantities`` from the geography; a station without
  declared quantities, which the shipped geography never has, accepts any);
* a gateway status must name a gateway the geography knows (some station or
  camera belongs to it): a stranger's gateway id is not stored;
* history window: readings and camera events older than ``history_max_days``
  before the clock's time at receipt are refused (``too_old``).

Station -> gateway for observations and camera -> gateway for events is the
broker's job: the topic names the station, not the gateway, and only the
broker knows who published. ``haixun gateways acl`` writes one ACL per
gateway (docs/operations.md, "Broker authentication").

Pure: no I/O. ``Directory`` is built from the database by the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from haixun.clock import SYSTEM_CLOCK, Clock
from haixun.contract import ContractError, ObsMessage, Reason, TopicKind
from haixun.ingest.configfile import ConfigFileError, NonNeg, StrictModel, Version, naming_file, parse_toml, validate


class AdmissionConfigError(ConfigFileError):
    """admission.toml is invalid; ``errors`` lists "key: problem" lines."""

    label = "admission configuration"


class _History(StrictModel):
    history_max_days: NonNeg  # 0 disables the rule


class AdmissionFile(StrictModel):
    """The whole of admission.toml: every key required, no unknown key (haixun/ingest/configfile.py)."""

    version: Version
    history: _History


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    version: str
    history_max_days: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AdmissionConfig:
        """Validate a parsed admission.toml; raises ``AdmissionConfigError`` naming each bad key."""
        f = validate(AdmissionFile, dict(d), AdmissionConfigError)
        return cls(f.version, f.history.history_max_days)

    def with_history_max_days(self, days: float) -> AdmissionConfig:
        if days < 0:
            raise ValueError(f"history_max_days must be >= 0, got {days}")
        return AdmissionConfig(self.version, float(days))


def load_admission_config(path: Path | None = None) -> AdmissionConfig:
    """The packaged ``admission.toml``, or the file at ``path``."""
    if path is None:
        text = (resources.files("haixun.ingest") / "admission.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    try:
        return AdmissionConfig.from_dict(parse_toml(text, AdmissionConfigError))
    except AdmissionConfigError as exc:
        raise naming_file(exc, str(path or "admission.toml (packaged)")) from None


@dataclass(frozen=True, slots=True)
class Directory:
    """What the geography says, as loaded from the database."""

    station_quantities: Mapping[str, frozenset[str]] = field(default_factory=dict)
    gateways: frozenset[str] = frozenset()


class Admission:
    def __init__(self, config: AdmissionConfig, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.directory = Directory()

    def _receipt_time(self, received_at: datetime) -> datetime:
        return self.clock.at_wall(received_at.timestamp()) if self.clock.is_replay else received_at

    def _check_age(self, oldest: datetime, received_at: datetime, what: str) -> None:
        days = self.config.history_max_days
        if days > 0 and oldest < self._receipt_time(received_at) - timedelta(days=days):
            raise ContractError(Reason.TOO_OLD, f"{what} at {oldest.isoformat()} is older than the history window "
                                                f"of {days:g} days (admission.toml history_max_days)")

    def check(self, kind: TopicKind, parsed: Any, received_at: datetime) -> None:
        """Raise ``ContractError`` (its reason is the dead-letter reason) if the message is refused."""
        if kind is TopicKind.OBS:
            obs_list: list[ObsMessage] = parsed
            sid = obs_list[0].station_id
            allowed = self.directory.station_quantities.get(sid)
            if allowed:
                for obs in obs_list:
                    extra = obs.values.keys() - allowed
                    if extra:
                        raise ContractError(Reason.UNMEASURED_QUANTITY,
                                            f"station {sid!r} does not measure {sorted(extra)} "
                                            f"(geography: {sorted(allowed)})")
            self._check_age(min(o.ts for o in obs_list), received_at, "reading")
        elif kind is TopicKind.EVENT:
            self._check_age(parsed.ts, received_at, "camera event")
        elif kind is TopicKind.STATUS:
            gw = parsed.gateway_id
            if gw not in self.directory.gateways:
                raise ContractError(Reason.UNKNOWN_GATEWAY,
                                    f"gateway {gw!r} owns no station or camera in the geography")
