"""Helpers shared by the tests (no tests here). Test modules import from this
package only, never from one another or from conftest.py, which holds fixtures
only (tests/test_layers.py checks both).

- ``wait``: ``eventually()`` / ``eventually_sync()``, the one polling helper;
- ``net``: free ports;
- ``db``: the test PostgreSQL server, databases, rows, counts;
- ``mqtt``: the test broker, a private Mosquitto, publishing, a collector;
- ``clock``: the wall clock in UTC;
- ``engine``: fast engine options, stations and readings as ingest writes them;
- ``api``: the small test geography, a real uvicorn server, users and keys, state_log writes;
- ``browser``: the whole stack in a thread and Chromium for the page tests;
- ``riskcode``, ``tide``, ``geo``, ``ingest``, ``demo``: builders for those tests.
"""
