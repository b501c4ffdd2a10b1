import psycopg

from haixun.store.migrate import migrate, readings_mode


def test_migrate_is_idempotent_and_records_mode(db_url):
    assert migrate(db_url) == "partitioned"  # no timescaledb on this machine
    assert migrate(db_url) == "partitioned"
    with psycopg.connect(db_url) as conn:
        assert readings_mode(conn) == "partitioned"
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert "001_core.sql" in names and "002_readings_partitioned.sql" in names
        assert "002_readings_timescale.sql" not in names


def test_reading_outside_partitions_is_kept_and_moved(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO readings VALUES ('S','tide_level','2021-07-26T01:00Z',4.2,1,now())")
        assert conn.execute("SELECT tableoid::regclass::text FROM readings").fetchone()[0] == "readings_default"
        conn.execute("SELECT haixun_ensure_readings_partition('2021-07-26')")
        assert conn.execute("SELECT tableoid::regclass::text FROM readings").fetchone()[0] == "readings_20210726"
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1
