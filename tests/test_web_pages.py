"""Browser tests of issue 15 on the duty screen (1920x1080) and the resident
page (390x844): headless Debian Chromium without a GPU or any system CJK font,
against the real stack (PostgreSQL, Mosquitto, ingest, engine, API)."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from datetime import timedelta

import pytest

from haixun.web.vocabulary import HAZARD_NAMES
from tests.support.browser import SEGMENTS, Stack, page_errors, require_browser, shot
from tests.support.clock import utcnow
from tests.support.wait import eventually_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

require_browser(assets=True)

from playwright.sync_api import expect  # noqa: E402

WAIT = 30_000


def orange_of(seg: str) -> tuple[float, float]:
    """A water level inside the segment's orange band (from the geography) and its orange line."""
    wl = SEGMENTS[seg]["properties"]["warning_levels_m"]
    return round(wl["orange"] + min(0.15, (wl["red"] - wl["orange"]) / 3), 2), wl["orange"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def history(stack: Stack, minutes: int, **override: dict[str, float]) -> None:
    """Calm readings once a minute for the last `minutes` minutes (the charts then have a line)."""
    for k in range(minutes, -1, -1):
        stack.publish_calm(utcnow() - timedelta(minutes=k), **override)


# Canvas comparison: two different characters drawn in a font. With a real
# CJK font they differ; with no CJK font both are the same "tofu" box.
GLYPHS_DIFFER = """(font) => {
  const draw = (ch) => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const x = c.getContext('2d'); x.fillStyle = '#fff'; x.fillRect(0, 0, 64, 64); x.fillStyle = '#000';
    x.font = font; x.textBaseline = 'top'; x.fillText(ch, 4, 4); return c.toDataURL(); };
  return draw('海') !== draw('塘');
}"""

# WCAG 2 contrast of every level badge's text on its fill.
CONTRAST = """() => {
  const lum = (rgb) => { const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  return [...document.querySelectorAll('.lv[data-level]')].slice(0, 40).map((e) => {
    const s = getComputedStyle(e); const a = lum(s.color), b = lum(s.backgroundColor);
    return [e.dataset.level, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
}"""


def test_duty_screen_worst_segment_reasons_live_chart_grouped_alarms_and_ack_in_a_storm(stack: Stack, browser) -> None:
    # PH01's gauge XB-M01 in PH01's orange band for 6 min: the worst segment
    water, line = orange_of("PH01")
    history(stack, 6, XB_M01={"tide_level": water})
    stack.add_user("duty1", "correct horse battery", "duty")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = page_errors(page)
    page.goto(stack.base + "/screen")
    panel = page.locator("#seg-panel")
    # the worst segment's panel, without a click: level, since when, every hazard vs threshold and source
    expect(panel).to_have_attribute("data-segment", "PH01", timeout=WAIT)
    expect(panel).to_have_attribute("data-level", "orange", timeout=WAIT)
    expect(page.locator("#seg-level")).to_contain_text("橙色")
    expect(page.locator("#seg-since")).to_contain_text(re.compile(r"since \d\d/\d\d \d\d:\d\d"))
    tide_row = page.locator('#seg-hazards tr[data-hazard="storm_tide"]')
    expect(tide_row).to_contain_text(f"{water:.2f} m / {line:.2f} m")
    expect(tide_row).to_contain_text("GB/T 17839")
    assert page.locator("#seg-hazards tbody tr").count() >= 4  # storm tide, forecast, wave, wind, overtopping
    expect(page.locator("#seg-hw")).not_to_have_text("–")
    expect(page.locator("#seg-next")).not_to_be_empty()
    # the default chart has observed data without a click, dated axis, 4 warning bands
    observed = page.locator('#tide-chart [data-series="observed"]')
    expect(observed).to_have_count(1, timeout=WAIT)
    assert int(observed.get_attribute("data-points")) >= 3
    assert page.evaluate("window.haixunScreen.charts.tide.model.bands.length") == 4
    # the wind chart draws the gale signal lines from riskcode.toml
    assert page.evaluate("window.haixunScreen.charts.wind.model.lines.filter(l => l.label).length") == 4
    # keyboard: a segment is focusable and Enter selects it
    seg10 = page.locator('[data-layer="seawall_segment"][data-id="PH10"]')
    seg10.focus()
    assert page.evaluate("document.activeElement.dataset.id") == "PH10"
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-segment", "PH10")
    page.locator("#follow-worst").click()
    expect(panel).to_have_attribute("data-segment", "PH01")
    # Chinese renders with the shipped font (this machine has no CJK system font)
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check(\"20px 'Haixun Noto Sans SC'\", '海塘')")
    assert page.evaluate(GLYPHS_DIFFER, "32px 'Haixun Noto Sans SC'")
    if not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        # and without it, this machine has boxes only (the check can tell them apart)
        assert not page.evaluate(GLYPHS_DIFFER, "32px 'DejaVu Sans', sans-serif")
    # contrast AA (4.5:1) for every level badge
    for level, ratio in page.evaluate(CONTRAST):
        assert ratio >= 4.5, (level, ratio)
    # start-up transitions (the engine's first decision per subject) are not listed as alarms
    expect(page.locator("#startup-note")).to_contain_text("start-up", timeout=WAIT)
    assert page.locator('#alarms li.alarm[data-key="segment:PH27"]').count() == 0
    shot(page, "pages-screen-orange")

    # a storm burst: readings from every station twice a second, and a flood of level changes on the
    # alarm channel the way the engine writes them (level_changes row + NOTIFY haixun_alarm), 5 a second
    page.locator("#login-open").click()
    page.locator("#login-user").fill("duty1")
    page.locator("#login-pass").fill("correct horse battery")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#auth-user")).to_contain_text("duty1")
    stop = threading.Event()
    villages = ["V0101", "V0102", "V0103", "V0104", "V0105", "V0201", "V0202", "V0203"]

    def burst() -> None:
        i = 0
        while not stop.is_set() and i < 600:
            if i % 2 == 0:
                stack.publish_calm(XB_M01={"tide_level": water})
            lv = ["blue", "yellow", "orange"][i % 3]
            prev = ["orange", "blue", "yellow"][i % 3]
            stack.sql("WITH r AS (INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level, reasons) "
                      "VALUES ('village', %s, now(), %s, %s, '[]') RETURNING id) "
                      "SELECT pg_notify('haixun_alarm', json_build_object('event', 'new', 'id', id)::text) FROM r",
                      (villages[i % len(villages)], prev, lv))
            i += 1
            time.sleep(0.2)
    t = threading.Thread(target=burst, daemon=True)
    t.start()
    try:
        for v in villages:
            expect(page.locator(f'#alarms li.alarm[data-key="village:{v}"]')).to_have_count(1, timeout=WAIT)
        renders0 = int(page.locator("body").get_attribute("data-renders"))
        t0 = time.monotonic()
        # the Ack button of a row stays the same node while the list updates around it: the click lands
        row = page.locator('#alarms li.alarm[data-key="village:V0101"]')
        expect(row).to_have_attribute("data-acked", "false", timeout=WAIT)
        page.locator("#ack-comment").fill("已通知乍浦镇 told Zhapu town")
        ids = [int(x) for x in row.get_attribute("data-ids").split(",")]
        row.locator("button[data-ack]").click()
        expect(row.locator(".acked")).to_have_text("✓ duty1", timeout=WAIT)
        def ack_rows() -> list[tuple]:
            return stack.sql("SELECT acknowledged_by, ack_comment FROM level_changes WHERE id = ANY(%s)", (ids,))
        eventually_sync(lambda: all(r[0] for r in ack_rows()), step=0.2, what="the ack in the database")
        rows = ack_rows()
        assert rows and all(r[0] and "duty1" in r[0] and r[1] == "已通知乍浦镇 told Zhapu town" for r in rows), rows
        # bulk: every group selected, one comment
        time.sleep(3)
        page.locator("#ack-all").check()
        page.locator("#ack-comment").fill("bulk ack in the storm")
        page.locator("#ack-selected").click()
        eventually_sync(lambda: stack.sql("SELECT count(DISTINCT subject_id) FROM level_changes"
                                          " WHERE ack_comment = 'bulk ack in the storm'")[0][0] >= 5,
                        step=0.3, what="the bulk ack in the database")
        expect(page.locator("#ack-status")).to_contain_text(re.compile(r"acknowledged [1-9]"), timeout=WAIT)
        # at most a few renders a second whatever the update rate
        elapsed = time.monotonic() - t0
        renders = int(page.locator("body").get_attribute("data-renders")) - renders0
        assert renders <= 3 * elapsed + 3, (renders, elapsed)
        print(f"storm burst: {renders} renders in {elapsed:.1f} s")
        shot(page, "pages-screen-storm-acked")
    finally:
        stop.set()
        t.join(10)
    assert not errors, errors


def test_resident_phone_code_first_shelter_call_above_the_fold_reasons_english_town_fallback_and_docs_offline(
        stack: Stack, browser) -> None:
    # Zhapu (PH06-PH08, gauge ZP-T01) orange
    water, line = orange_of("PH07")
    history(stack, 3, ZP_T01={"tide_level": water})
    near = {"latitude": 30.6058, "longitude": 121.0911}
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, geolocation=near, permissions=["geolocation"],
                              locale="zh-CN")
    page = ctx.new_page()
    errors = page_errors(page)
    page.goto(stack.base + "/")
    card = page.locator("#code-card")
    expect(card).to_have_attribute("data-level", "orange", timeout=WAIT)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    # the colour and what to do first; the nearest shelter with walking time, navigation and call above the fold
    expect(page.locator("#code-first")).to_be_visible()
    nav, call = page.locator("#quick-nav"), page.locator("#quick-call")
    expect(nav).to_have_attribute("href", re.compile(r"^geo:30\.\d+,121\.\d+\?q="))
    expect(call).to_have_attribute("href", re.compile(r"^tel:\+?\d+"))
    expect(page.locator("#quick-shelter")).to_contain_text(re.compile(r"步行约 \d+ 分钟"))
    for el in (page.locator("#code-word"), page.locator("#code-first"), nav, call):
        box = el.bounding_box()
        assert box and box["y"] + box["height"] <= 844, box
    # reasons: worst first, each once, rounded with units, plain labels
    items = page.locator("#reasons li")
    expect(items.first).to_have_attribute("data-level", "orange")
    keys = [items.nth(i).get_attribute("data-hazard") for i in range(items.count())]
    assert len(keys) == len(set(keys)) and len(keys) <= 4
    ranks = {"unknown": 1, "blue": 2, "yellow": 3, "orange": 4, "red": 5}
    levels = [ranks[items.nth(i).get_attribute("data-level")] for i in range(items.count())]
    assert levels == sorted(levels, reverse=True)
    text = page.locator("#reasons").inner_text()
    # the API's word for the reason (haixun/web/vocabulary.py), rounded to 0.1 m, with the unit
    assert f"{HAZARD_NAMES['storm_tide'][0]}：{water:.1f} 米（预警线 {line:.1f} 米）" in text, text
    assert not re.search(r"\d\.\d{3}", text), text
    # no "expected in" a lower level under the code
    ttt = page.locator("#code-ttt")
    assert ttt.is_hidden() or "橙色" not in ttt.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "pages-resident-orange-390")
    assert not errors, errors
    ctx.close()

    # an English browser gets English by default, names from the data in English
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, geolocation=near, permissions=["geolocation"],
                              locale="en-US")
    page = ctx.new_page()
    errors = page_errors(page)
    page.goto(stack.base + "/")
    expect(page.locator("#code-word")).to_contain_text("ORANGE", timeout=WAIT)
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#quick-shelter")).to_contain_text(re.compile(r"min walk"))
    for sel in ("#quick-card", "#shelters", "#reasons", "#advice-card", "#code-card"):
        assert not CJK.search(page.locator(sel).inner_text()), (sel, page.locator(sel).inner_text())
    shot(page, "pages-resident-orange-390-en")
    # a point in the inland town (当湖街道, outside the shoreline area) gets its town's code, said so
    page.locator("#village-select").select_option("V0302")
    expect(page.locator("#code-place")).to_contain_text("Town-level warning", timeout=WAIT)
    assert page.locator("#code-card").get_attribute("data-level") in ("none", "blue", "yellow", "orange", "red", "unknown")
    expect(page.locator("#code-word")).not_to_contain_text("Outside")
    shot(page, "pages-resident-danghu-en")
    assert not errors, errors
    ctx.close()

    # /docs with the network off: Swagger UI from the package, no request leaves the machine
    ctx = browser.new_context()
    outside: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith(stack.base):
            route.continue_()
        else:
            outside.append(url)
            route.abort()
    ctx.route("**/*", guard)
    page = ctx.new_page()
    page.goto(stack.base + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("haixun API", timeout=WAIT)
    expect(page.locator(".opblock").first).to_be_visible()
    assert not outside, outside
    shot(page, "pages-docs-offline")
    ctx.close()


def test_duty_screen_unknown_with_floor_and_data_outage_alarm(stack: Stack, browser) -> None:
    # Zhapu's tide gauge ZP-T01 fell silent 14 min ago (limit 600 s) while the Zhapu wind is blue:
    # PH05-PH10 are "unknown, at least blue" - never plain blue - and the duty room gets a data-outage alarm
    for k in (16, 15, 14):
        stack.publish_calm(utcnow() - timedelta(minutes=k))
    for k in (6, 3, 0):
        stack.publish_calm(utcnow() - timedelta(minutes=k), skip=("ZP-T01",),
                           ZP_W01={"wind_speed": 13.0, "wind_gust": 16.0})
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = page_errors(page)
    page.goto(stack.base + "/screen")
    ph07 = page.locator('[data-layer="seawall_segment"][data-id="PH07"]')
    expect(ph07).to_have_attribute("data-level", "unknown", timeout=WAIT)
    expect(ph07).to_have_attribute("data-floor", "blue")
    run = page.locator('.run-label[data-level="unknown"]').first
    expect(run).to_contain_text("? ≥蓝色")
    # the worst segment is an unknown-at-least-blue one (it ranks above plain blue)
    panel = page.locator("#seg-panel")
    expect(panel).to_have_attribute("data-level", "unknown", timeout=WAIT)
    expect(page.locator("#seg-level")).to_have_text("? ≥ 蓝色")
    expect(page.locator("#seg-level")).to_have_attribute("data-floor", "blue")
    expect(page.locator("#seg-outage")).to_contain_text("at least blue")
    expect(page.locator('#seg-hazards tr[data-hazard="storm_tide"]')).to_contain_text("stale")
    # the outage alarm, with its reason; it is not a start-up transition
    outage = page.locator('#alarms li.alarm[data-type="data_outage"][data-key="station:ZP-T01"]')
    expect(outage).to_contain_text("ZP-T01", timeout=WAIT)
    expect(outage).to_contain_text("数据中断")
    expect(outage).to_have_attribute("data-acked", "false")
    shot(page, "pages-screen-outage-floor")
    # alarm rows are stamped on the wall clock; during a replay the screen shows them on the replay clock
    converted = page.evaluate("""async () => {
      const m = await import('/static/api.js');
      const wall0 = Date.now() - 600e3;
      m.setClockSpec({replay: true, speed: 60, sim_start: '2021-07-25T00:00:00Z', wall_start: new Date(wall0).toISOString()});
      m.serverClock.note(new Date(Date.parse('2021-07-25T00:00:00Z') + 60 * 600e3).toISOString());
      const out = [m.onSystemClock(new Date(wall0 + 540e3).toISOString()), m.onSystemClock('2021-07-25T03:00:00.000Z')];
      // between messages the page's now runs at the replay's speed (60 s per wall second)
      const t0 = Date.now(); const s0 = m.serverClock.nowMs();
      await new Promise((r) => setTimeout(r, 200));
      out.push((m.serverClock.nowMs() - s0) / Math.max(1, Date.now() - t0));
      m.setClockSpec(null);
      return out; }""")
    assert converted[0].startswith("2021-07-25T09:00:00"), converted  # 540 s of wall x 60
    assert converted[1] == "2021-07-25T03:00:00.000Z"  # already simulated time: left alone
    assert 55 < converted[2] < 65, converted
    assert not errors, errors
