"""Pure risk engine: numbers in, decisions out (docs/riskcode.md).

No database, network or clock: time is always passed in.
"""

from haixun.riskcode.config import ConfigError, RiskConfig, load_config
from haixun.riskcode.dynamics import LevelState, active_override, step
from haixun.riskcode.feeds import FeedStatus, effective_feeds, feed_statuses
from haixun.riskcode.geometry import Exposure, LocationCode, SeawallIndex, exposure_zone, locate, location_code
from haixun.riskcode.levels import Level, Status, combine, parse_level, worst
from haixun.riskcode.model import (
    FEED_KINDS,
    MSG_TYPES,
    CameraEventInput,
    FeedItem,
    FeedKind,
    HazardReason,
    Observation,
    Override,
    SegmentDecision,
    SegmentSpec,
)
from haixun.riskcode.overtopping import OvertoppingResult, mean_overtopping
from haixun.riskcode.rollup import AreaIndex, AreaSpec, Rollup, roll_up
from haixun.riskcode.segment import evaluate_segment
from haixun.riskcode.shoreline import (
    LevelChange,
    SegmentResult,
    ShorelineInputs,
    ShorelineResult,
    ShorelineState,
    evaluate_shoreline,
)
from haixun.riskcode.tides import TideModel, TidePrediction, fit_tide, next_high_water, predict, time_to_level

__all__ = [
    "FEED_KINDS", "MSG_TYPES", "FeedStatus", "Status", "combine", "effective_feeds", "feed_statuses", "AreaIndex", "AreaSpec", "CameraEventInput", "ConfigError", "Exposure", "FeedItem", "FeedKind", "HazardReason", "Level",
    "LevelChange", "LevelState", "LocationCode", "Observation", "Override", "OvertoppingResult", "RiskConfig",
    "Rollup", "SeawallIndex", "SegmentDecision", "SegmentResult", "SegmentSpec", "ShorelineInputs",
    "ShorelineResult", "ShorelineState", "TideModel", "TidePrediction", "active_override", "evaluate_segment",
    "evaluate_shoreline", "exposure_zone", "fit_tide", "load_config", "locate", "location_code",
    "mean_overtopping", "next_high_water", "parse_level", "predict", "roll_up", "step", "time_to_level", "worst",
]
