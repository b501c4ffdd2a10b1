"""Engine timing knobs (defaults documented in docs/engine.md)."""

from __future__ import annotations

from dataclasses import dataclass

from haixun.riskcode.tides import MIN_FIT_DAYS


@dataclass(frozen=True, slots=True)
class EngineOptions:
    # leadership
    lock_poll_s: float = 1.0            # standby: try the lock this often
    heartbeat_s: float = 1.0            # leader: prove the lock session is alive this often
    heartbeat_timeout_s: float = 3.0    # a heartbeat slower than this = leadership lost
    # triggers
    debounce_s: float = 0.15            # coalesce haixun_ingest notifications for this long after the first
    # outputs
    snapshot_every_s: float = 300.0     # kind='snapshot' state_log row (and at start)
    station_refresh_s: float = 10.0     # all stations' ages in a delta at least this often
    history_every_s: float = 600.0      # a decisions row per subject at least this often
    state_log_keep_s: float = 86_400.0  # prune state_log rows older than this
    prune_every_s: float = 600.0
    retention_every_s: float = 86_400.0  # run the store's retention rule (haixun_apply_retention) this often
    retention_first_s: float = 60.0      # ... first this long after taking the lead
    camera_window_s: float = 1800.0     # camera events considered (riskcode applies its own windows)
    # tide
    tide_refit_every_s: float = 6 * 3600.0
    tide_check_every_s: float = 60.0    # stations without a model: fit as soon as their history suffices
    tide_late_suspect_s: float = 7 * 86400.0  # suspect readings this late at receipt count (ingest max_age_suspect_s)
    tide_min_days: float = MIN_FIT_DAYS  # history before a station gets a model (tide_fit.toml min_days: 15, with
    #                                     N2/K2/P1 inferred below full_days 29; issue 13)
    tide_history_days: float = 30.0     # history used for a fit
    tide_horizon_s: float = 12 * 3600.0  # prediction look-ahead kept in memory
    tide_lookback_s: float = 27 * 3600.0  # prediction kept behind now: surge at the observation time and the
    # skew surges of the last two high waters (riskcode surge projection, 26 h of levels)
    tide_step_s: float = 300.0          # prediction step
    tide_recompute_s: float = 3600.0    # re-predict from the cached model this often
