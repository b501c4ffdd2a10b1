-- A surge_forecast bulletin may name its forecast high water: the highest water
-- level (m, CN1985) and when (`forecast.peak_level_m` / `forecast.peak_at` of
-- POST /api/v1/feeds/{source}). riskcode then ranks the surge AT that high water
-- (peak_level_m minus the astronomical tide at peak_at) above the local
-- projection; a bare peak surge (surge_m) may fall at low water and is only an
-- upper bound (docs/riskcode.md "Surge projection"). Idempotent.
ALTER TABLE official_feeds ADD COLUMN IF NOT EXISTS peak_level_m double precision
    CHECK (peak_level_m IS NULL OR (peak_level_m >= -10 AND peak_level_m <= 15));
ALTER TABLE official_feeds ADD COLUMN IF NOT EXISTS peak_at timestamptz;
