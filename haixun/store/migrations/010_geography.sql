-- Geography (owner: haixun/data). Filled by `haixun load-geo` (haixun.data.sync.sync_to_db)
-- from haixun/data/pinghu.geojson; the loaded file's meta.version is kept in
-- store_info('geography_version'). Stations and cameras live in 001_core's tables.
-- Geometries are GeoJSON (WGS84 lon/lat) in jsonb; `props` keeps every property
-- of the feature as in the file (incl. `assumed`). Idempotent.

CREATE TABLE IF NOT EXISTS towns (
    id                text PRIMARY KEY,
    name              text NOT NULL,
    name_en           text NOT NULL DEFAULT '',
    population        integer NOT NULL DEFAULT 0,
    population_source text NOT NULL DEFAULT '',
    geometry          jsonb NOT NULL,            -- GeoJSON Polygon
    props             jsonb NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS villages (
    id         text PRIMARY KEY,
    town_id    text NOT NULL REFERENCES towns (id),
    name       text NOT NULL,
    name_en    text NOT NULL DEFAULT '',
    population integer NOT NULL DEFAULT 0,
    contact    jsonb,                            -- {"name","phone","role","sample"}
    geometry   jsonb NOT NULL,                   -- GeoJSON Polygon
    props      jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS villages_town_idx ON villages (town_id);

CREATE TABLE IF NOT EXISTS segments (
    id                text PRIMARY KEY,          -- PH01..PHnn, west -> east
    ordinal           integer NOT NULL,          -- 1-based position west -> east
    name              text NOT NULL,
    name_en           text NOT NULL DEFAULT '',
    town_id           text NOT NULL REFERENCES towns (id),
    structure         text NOT NULL CHECK (structure IN ('sloped_dike', 'vertical_wall')),
    crest_level_m     double precision NOT NULL, -- CN1985
    slope_tan         double precision NOT NULL,
    toe_level_m       double precision NOT NULL, -- CN1985
    foreshore_slope   double precision NOT NULL,
    roughness_gamma_f double precision NOT NULL,
    warning_levels    jsonb NOT NULL,            -- {"blue","yellow","orange","red"} m CN1985 (as in the file)
    tide_station      text NOT NULL,
    wind_station      text NOT NULL,
    wave_station      text NOT NULL,
    orientation_deg   double precision NOT NULL, -- direction the wall faces (to sea), degrees from north
    geometry          jsonb NOT NULL,            -- GeoJSON LineString (crest line)
    props             jsonb NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- `open` is runtime state: the file gives the initial value; a duty officer's
-- change (updated_by = the officer, not 'load-geo') survives reloads unless
-- `haixun load-geo --force-state`. updated_at/updated_by describe the last
-- change of `open`.
CREATE TABLE IF NOT EXISTS shelters (
    id         text PRIMARY KEY,
    village_id text NOT NULL REFERENCES villages (id),
    name       text NOT NULL,
    name_en    text NOT NULL DEFAULT '',
    capacity   integer NOT NULL CHECK (capacity >= 0),
    open       boolean NOT NULL,
    address    text NOT NULL DEFAULT '',
    lat        double precision NOT NULL,
    lon        double precision NOT NULL,
    props      jsonb NOT NULL DEFAULT '{}',
    synced_at  timestamptz NOT NULL DEFAULT now(),  -- last change from the geography file
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT 'load-geo'
);
CREATE INDEX IF NOT EXISTS shelters_village_idx ON shelters (village_id);

-- `closed` is runtime state, same rule as shelters.open.
CREATE TABLE IF NOT EXISTS roads (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    name_en    text NOT NULL DEFAULT '',
    closed     boolean NOT NULL,
    low_points jsonb NOT NULL DEFAULT '[]',      -- [{"lon","lat","ground_level_m"}]
    geometry   jsonb NOT NULL,                   -- GeoJSON LineString
    props      jsonb NOT NULL DEFAULT '{}',
    synced_at  timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT 'load-geo'
);

-- The served area (land_boundary layer); one row.
CREATE TABLE IF NOT EXISTS served_area (
    id         text PRIMARY KEY,
    geometry   jsonb NOT NULL,                   -- GeoJSON Polygon
    props      jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
