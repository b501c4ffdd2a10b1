-- Shelter/road status has one source of truth: shelters.open / roads.closed
-- (010_geography) with updated_by / updated_at. `haixun load-geo` keeps a
-- change whose updated_by is not 'load-geo' (a duty officer's). The API's
-- separate shelter_status / road_status tables (026) are folded in (a status
-- row always won, so it overwrites the column) and dropped; their comments
-- stay in audit_log (the API wrote one row per change). Idempotent: does
-- nothing once the tables are gone.
DO $$
BEGIN
    IF to_regclass('shelter_status') IS NOT NULL THEN
        UPDATE shelters s SET open = st.open, updated_at = st.updated_at, updated_by = st.updated_by
          FROM shelter_status st
         WHERE st.shelter_id = s.id;
        DROP TABLE shelter_status;
    END IF;
    IF to_regclass('road_status') IS NOT NULL THEN
        UPDATE roads r SET closed = st.closed, updated_at = st.updated_at, updated_by = st.updated_by
          FROM road_status st
         WHERE st.road_id = r.id;
        DROP TABLE road_status;
    END IF;
END
$$;
