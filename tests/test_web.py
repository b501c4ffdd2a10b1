"""Browser tests of the duty screen (/screen) and the resident page (/):
headless Debian Chromium driven by Playwright against the real stack
(PostgreSQL, Mosquitto, IngestService, EngineService, uvicorn + the API).
Readings go in over MQTT exactly as a gateway sends them."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from tests.support.browser import Stack, page_errors, require_browser, shot
from tests.support.clock import utcnow
from tests.support.wait import eventually_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

require_browser()

from playwright.sync_api import expect  # noqa: E402

LEVEL_WAIT_MS = 30_000


def ago(minutes: float):
    return utcnow() - timedelta(minutes=minutes)


# Ingest QC (haixun/ingest/qc.toml) fails a tide change faster than 8 m/h or a
# spike above 1 m, as it should: the scenarios rise at a realistic rate.

def test_screen_segment_turns_orange_and_ack_needs_login(stack: Stack, browser) -> None:
    # 3 min ago PH01's gauge XB-M01 read 4.15 m: yellow (PH01: 3.3 / 3.8 / 4.3 / 4.8 m CN1985)
    # wind counts once it is sustained (2 readings in 10 min): a calm reading first
    stack.publish_calm(ago(6), XB_M01={"tide_level": 4.05})
    stack.publish_calm(ago(3), XB_M01={"tide_level": 4.15})
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = page_errors(page)
    page.goto(stack.base + "/screen")
    ph01 = page.locator('[data-layer="seawall_segment"][data-id="PH01"]')
    expect(ph01).to_have_attribute("data-level", "yellow", timeout=LEVEL_WAIT_MS)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.locator('[data-layer="seawall_segment"][data-id="PH27"]')).to_have_attribute("data-level", "none")
    # every segment and station of the geography is drawn
    assert page.locator('[data-layer="seawall_segment"]').count() == 27
    assert page.locator('[data-layer="station"]').count() == 13
    assert page.locator('[data-layer="village"]').count() == 13
    # calm data: fresh stations are not drawn stale
    expect(page.locator('[data-layer="station"][data-id="XB-M01"]')).to_have_attribute("data-stale", "false")
    seq_before = int(page.locator("body").get_attribute("data-seq"))

    shot(page, "screen-yellow")
    # now it reads 4.4 m, above PH01's orange warning tide level (4.3 m)
    stack.publish({"XB-M01": {"tide_level": 4.4}})
    expect(ph01).to_have_attribute("data-level", "orange", timeout=LEVEL_WAIT_MS)
    assert int(page.locator("body").get_attribute("data-seq")) > seq_before
    # the level word is written on the map next to the run of orange segments
    run = page.locator('.run-label[data-level="orange"]')
    expect(run.first).to_contain_text("ORANGE")
    assert "PH01" in run.first.get_attribute("data-ids")
    # end-to-end latency of the update is shown (sensor_ts -> pushed_at), and plausible
    lat = page.locator("#latency")
    expect(lat).not_to_have_text("–")
    pushed = float(lat.get_attribute("data-pushed-s"))
    assert 0 <= pushed < 30
    # the station box shows the new value
    expect(page.locator('[data-layer="station"][data-id="XB-M01"] .station-val')).to_contain_text("4.40")
    # the tier table counts the orange segment
    n_orange = page.locator('[data-layer="seawall_segment"][data-level="orange"]').count()
    assert n_orange >= 1
    expect(page.locator('#tiers tr[data-tier^="海塘"] td[data-level="orange"]')).to_have_text(str(n_orange))
    # the alarm list shows the change, unacknowledged and highlighted, newest first
    alarm = page.locator("#alarms li.alarm", has_text="PH01").first
    expect(alarm).to_have_attribute("data-acked", "false", timeout=LEVEL_WAIT_MS)
    expect(alarm).to_have_attribute("data-level", "orange")
    # without login there is no ack button to press
    expect(alarm.locator("button[data-ack]")).to_be_hidden()
    # PH01 is the worst segment: the panel and the charts follow it without a click; the tide
    # chart of its gauge XB-M01 draws the observed series and the 4 warning levels of PH01
    expect(page.locator("#seg-panel")).to_have_attribute("data-segment", "PH01", timeout=10_000)
    expect(page.locator("#station-picker [data-station=\"XB-M01\"]").first).to_be_visible()
    expect(page.locator('#tide-chart [data-series="observed"]')).to_have_count(1, timeout=20_000)
    assert page.evaluate("window.haixunScreen.charts.tide.model.bands.length") == 4
    # no history, so no tidal model: the caption says so and no astronomical curve is drawn
    expect(page.locator("#tide-caption")).to_contain_text("no tidal model yet")
    assert page.locator('#tide-chart [data-series="astronomical"]').count() == 0
    shot(page, "screen-orange")

    # a wrong password is refused
    stack.add_user("duty1", "correct horse battery", "duty")
    page.locator("#login-open").click()
    page.locator("#login-user").fill("duty1")
    page.locator("#login-pass").fill("wrong password")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-error")).not_to_be_empty()
    expect(alarm.locator("button[data-ack]")).to_be_hidden()
    # the right one lets the duty officer acknowledge
    page.locator("#login-pass").fill("correct horse battery")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#auth-user")).to_contain_text("duty1")
    button = alarm.locator("button[data-ack]")
    expect(button).to_be_visible()
    shot(page, "screen-logged-in")
    button.click()
    expect(alarm).to_have_attribute("data-acked", "true", timeout=10_000)
    alarm_id = int(alarm.get_attribute("data-id"))
    rows = stack.sql("SELECT acknowledged_by FROM level_changes WHERE id = %s", (alarm_id,))
    assert rows and rows[0][0] and "duty1" in rows[0][0]
    # the token is kept in sessionStorage, not localStorage
    assert page.evaluate("sessionStorage.getItem('haixun.token')")
    assert page.evaluate("localStorage.length") == 0
    assert not errors, errors


def test_screen_tide_chart_draws_the_astronomical_prediction_and_forecast(stack: Stack, browser) -> None:
    # 30 days of hourly history at XB-M01 (a backfill): the engine fits a model within seconds
    spring_hw = utcnow() + timedelta(hours=3)
    astro = ("1.2 + 2 * cos(2 * pi() * extract(epoch FROM t - %(hw)s) / 3600 / 12.4206012)"
             " + 0.5 * cos(2 * pi() * extract(epoch FROM t - %(hw)s) / 3600 / 12)")
    stack.sql("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at) SELECT 'XB-M01', 'tide_level', t, "
              + astro + ", 1, now() FROM generate_series(now() - interval '30 days', now() - interval '1 hour',"
              " interval '1 hour') AS t RETURNING 1", {"hw": spring_hw})
    # live readings 0.4 m above the tide (surge), one a minute
    for k in range(5, -1, -1):
        t = utcnow() - timedelta(minutes=k)
        level = stack.sql("SELECT " + astro.replace("t -", "%(t)s::timestamptz -"), {"hw": spring_hw, "t": t})[0][0]
        stack.publish_calm(t, XB_M01={"tide_level": round(level + 0.4, 3)})
    eventually_sync(lambda: stack.sql("SELECT 1 FROM tide_models WHERE station_id = 'XB-M01'"), step=0.3,
                    what="a tide model for XB-M01")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = page_errors(page)
    page.goto(stack.base + "/screen")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=LEVEL_WAIT_MS)
    page.locator('[data-layer="seawall_segment"][data-id="PH01"]').focus()
    page.keyboard.press("Enter")
    astro_path = page.locator('#tide-chart [data-series="astronomical"]')
    expect(astro_path).to_have_count(1, timeout=15_000)
    assert int(astro_path.get_attribute("data-points")) > 200  # 60 h at 10 min
    # forecast = astronomical + decaying surge, after now; the next high water marked
    expect(page.locator('#tide-chart [data-series="forecast"]')).to_have_count(1, timeout=15_000)
    expect(page.locator('#tide-chart [data-series="next_high_water"]')).to_have_count(1)
    caption = page.locator("#tide-caption")
    expect(caption).to_contain_text("astronomical (utide")
    expect(caption).to_contain_text(re.compile(r"surge \+0\.[345]\d m"))
    shot(page, "screen-tide-model")
    assert not errors, errors


def test_screen_reconnects_with_since_and_catches_up(stack: Stack, browser) -> None:
    stack.publish_calm(ago(8), ZP_T01={"tide_level": 4.4})  # wind is sustained after 2 readings
    stack.publish_calm(ago(5), ZP_T01={"tide_level": 4.45})  # PH06-PH08 orange
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    errors = page_errors(page)
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    page.goto(stack.base + "/screen")
    ph07 = page.locator('[data-layer="seawall_segment"][data-id="PH07"]')
    expect(ph07).to_have_attribute("data-level", "orange", timeout=LEVEL_WAIT_MS)
    seq = int(page.locator("body").get_attribute("data-seq"))

    def while_down() -> None:
        # the engine keeps deciding while the API is away: PH07's gauge goes above red (4.8 m)
        stack.publish({"ZP-T01": {"tide_level": 4.9}})
        eventually_sync(lambda: stack.sql("SELECT 1 FROM state_log WHERE body->'segments'->'PH07'->>'level' = 'red'"),
                        step=0.1, what="the engine deciding red for PH07")

    stack.restart_api(between=while_down)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=LEVEL_WAIT_MS)
    expect(ph07).to_have_attribute("data-level", "red", timeout=LEVEL_WAIT_MS)
    assert len(urls) >= 2
    assert f"since={seq}" in urls[-1] or "since=" in urls[-1]
    assert int(page.locator("body").get_attribute("data-seq")) > seq
    expect(page.locator('.run-label[data-level="red"]').first).to_contain_text("RED")
    shot(page, "screen-red-after-reconnect")
    assert not errors, errors


def _risk(stack: Stack, lat: float, lon: float) -> dict:
    r = httpx.get(f"{stack.base}/api/v1/risk", params={"lat": lat, "lon": lon, "lang": "zh"}, timeout=10)
    r.raise_for_status()
    return r.json()


def test_resident_codes_near_zhapu_and_inland(stack: Stack, browser) -> None:
    stack.publish_calm(ago(8), ZP_T01={"tide_level": 4.4})  # wind is sustained after 2 readings
    stack.publish_calm(ago(5), ZP_T01={"tide_level": 4.45})  # PH06-PH08 (Zhapu) orange
    near, inland = (30.6058, 121.0911), (30.64, 121.07)
    eventually_sync(lambda: _risk(stack, *near)["code"] == "orange", step=0.3, what="orange near Zhapu")
    api_near, api_inland = _risk(stack, *near), _risk(stack, *inland)
    order = ["none", "unknown", "blue", "yellow", "orange", "red"]
    assert order.index(api_inland["code"]) < order.index(api_near["code"])

    # inland first: the near page then raises the tide to red
    for name, (lat, lon), expected in (("inland", inland, api_inland), ("near", near, api_near)):
        ctx = browser.new_context(viewport={"width": 360, "height": 780}, geolocation={"latitude": lat, "longitude": lon},
                                  permissions=["geolocation"], locale="zh-CN")
        page = ctx.new_page()
        errors = page_errors(page)
        page.goto(stack.base + "/")
        card = page.locator("#code-card")
        expect(card).to_have_attribute("data-level", expected["code"], timeout=LEVEL_WAIT_MS)
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        expect(page.locator("#code-word")).to_contain_text({"orange": "橙色", "blue": "蓝色", "yellow": "黄色",
                                                            "red": "红色", "none": "无预警"}[expected["code"]])
        # the code is announced to screen readers
        assert page.locator("#code-card [aria-live]").count() == 1
        # shelters with walking distance, contact with a tap-to-call link
        expect(page.locator("#shelters li[data-shelter]")).to_have_count(len(expected["shelters"]))
        if expected["contact"]:
            tel = page.locator("#contact a.tel")
            expect(tel).to_have_attribute("href", "tel:" + "".join(c for c in expected["contact"]["phone"] if c.isdigit() or c == "+"))
        if expected["wall"]:
            expect(page.locator("#wall")).to_contain_text(expected["wall"]["segment_id"])
        # the page fits a 360 px screen (no horizontal scrolling)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        # reasons in plain words (no raw hazard identifiers), each advice sentence shown once
        reasons = page.locator("#reasons").inner_text() if page.locator("#reasons li").count() else ""
        assert "_" not in reasons and "storm_tide" not in reasons, reasons
        advice = page.locator("#advice-card").inner_text()
        for action in page.locator("#advice-actions li").all_inner_texts():
            assert advice.count(action) == 1, (action, advice)
        shot(page, f"resident-{name}", full_page=True)
        if name == "near":
            # English switch: the same code, English words
            page.locator("#lang-switch").click()
            expect(page.locator("#code-word")).to_contain_text("ORANGE")
            assert page.evaluate("document.documentElement.lang") == "en"
            shot(page, "resident-near-en", full_page=True)
            # live: the tide keeps rising to red at ZP-T01 -> the page turns red by itself over /ws/risk
            stack.publish({"ZP-T01": {"tide_level": 4.9}})
            expect(card).to_have_attribute("data-level", "red", timeout=LEVEL_WAIT_MS)
        assert not errors, errors
        ctx.close()


def test_resident_without_location_picks_a_village(stack: Stack, browser) -> None:
    stack.publish_calm(ago(4))
    stack.publish_calm(ago(1))
    ctx = browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")  # no geolocation permission
    page = ctx.new_page()
    errors = page_errors(page)
    page.goto(stack.base + "/")
    expect(page.locator("#loc-msg")).not_to_be_empty(timeout=15_000)
    page.locator("#village-select").select_option("V0102")
    card = page.locator("#code-card")
    expect(card).not_to_have_attribute("data-level", "unknown", timeout=LEVEL_WAIT_MS)
    expect(page.locator("#code-place")).to_contain_text("乍浦")
    # a tap on the map chooses a place too
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator("#map .you-marker")).to_have_count(1)
    shot(page, "resident-village", full_page=True)
    assert not errors, errors
    ctx.close()
