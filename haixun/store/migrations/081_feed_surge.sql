-- Issue 13, surge forecast: a surge_forecast bulletin may carry its forecast
-- surge (m, `forecast.peak_surge_m` of POST /api/v1/feeds/{source}). riskcode
-- ranks it above the local surge projection for the high waters inside the
-- bulletin's validity (docs/riskcode.md "Surge projection"). NULL: level only.
ALTER TABLE official_feeds ADD COLUMN IF NOT EXISTS surge_m double precision
    CHECK (surge_m IS NULL OR (surge_m >= -3 AND surge_m <= 10));
