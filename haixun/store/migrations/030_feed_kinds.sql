-- One feed-kind vocabulary: riskcode's FeedItem kinds (surge_forecast,
-- wave_forecast, typhoon_warning, gale_warning, red_tide). The API used to
-- accept storm_surge_forecast / wave_warning and the engine translated them;
-- rename stored rows so the engine reads them without a translation.
-- Idempotent (a second run finds nothing to rename).
UPDATE official_feeds SET kind = 'surge_forecast' WHERE kind IN ('storm_surge_forecast', 'storm_surge_warning');
UPDATE official_feeds SET kind = 'wave_forecast' WHERE kind = 'wave_warning';
