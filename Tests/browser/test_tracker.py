"""Browser tests of the tracking script (web/t.js) against the real collector and Postgres.

Spec 0018-001-001-01: test_tracking_script_initialization, test_event_capture, and the rest of
issue 4's "Done means". See conftest.py for the environment (COLLECTOR_URL, DATABASE_URL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import shutil
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from conftest import (WEB, batch_requests, free_port, page_html, pages, tracks, uncaught_errors,
                      wait_tracker)
from selenium.webdriver.common.by import By

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FAST = {"flush_interval_ms": 300}


def ctx(row: dict) -> dict:
    return row["context"] or {}


def served_tracker_file():
    """The file the collector serves at /t.js: web/t.min.js when present, else web/t.js."""
    m = WEB / "t.min.js"
    return m if m.exists() else WEB / "t.js"


def no_page_errors(driver) -> None:
    assert driver.execute_script("return window.__pageErrors") == []
    assert uncaught_errors(driver) == []


# --------------------------------------------------------------------------- initialization

def test_tracking_script_initialization(collector_url, static_site, site, tracker_tag, browser, events):
    # The collector serves the script with a JavaScript type and caching headers.
    with urllib.request.urlopen(collector_url + "/t.js", timeout=10) as r:
        body = r.read().decode("utf-8")
        assert r.status == 200
        assert "javascript" in r.headers.get("Content-Type", "")
        assert r.headers.get("Cache-Control"), "t.js is served without Cache-Control"
    assert "profile-builder-tracker" in body

    # Calls queued before the script loads are kept; data-host defaults to the script's origin.
    stub = """<script>
      window.profile = window.profile || [];
      profile.push(['track', 'Queued Before Load', {n: 1}]);
      profile.push(['identify', 'user-init-1', {plan: 'pro'}]);
    </script>"""
    url = static_site.write("index.html", page_html(
        "Init Page", "<h1>Init</h1>", head=stub, tag=tracker_tag(site, host=None, **FAST)))
    browser.get(url)
    wait_tracker(browser)

    api = browser.execute_script(
        "var p = window.profile; return {version: p.version, "
        "fns: ['track','identify','page','optOut','optIn','consent'].map(function (m) { return typeof p[m]; })}")
    assert api["fns"] == ["function"] * 6
    assert api["version"] == "1.0.0"

    rows = events.wait(site, lambda rs: pages(rs) and tracks(rs, "Queued Before Load")
                       and any(r["type"] == "identify" for r in rs),
                       "page view, replayed track and identify")
    page = pages(rows)[0]
    queued = tracks(rows, "Queued Before Load")[0]
    ident = [r for r in rows if r["type"] == "identify"][0]

    c = ctx(page)
    assert c["library"] == {"name": "profile-builder-tracker", "version": "1.0.0"}
    assert "Chrome" in c["userAgent"]
    assert c["locale"]
    assert UUID_RE.match(c["sessionId"])
    assert UUID_RE.match(page["message_id"])
    assert UUID_RE.match(page["anonymous_id"])
    cookie = browser.get_cookie("_pb_aid")
    assert cookie and cookie["value"] == page["anonymous_id"], "anonymous id is not the first-party cookie"
    assert abs(page["occurred_at"] - datetime.now(timezone.utc)) < timedelta(minutes=2)
    assert c["page"]["title"] == "Init Page"

    assert queued["properties"] == {"n": 1}
    assert queued["user_id"] == "user-init-1", "identify queued before load was not replayed first"
    assert ident["user_id"] == "user-init-1" and ident["traits"] == {"plan": "pro"}
    assert len({r["message_id"] for r in rows}) == len(rows)
    no_page_errors(browser)


# --------------------------------------------------------------------------- page views

def test_event_capture(static_site, site, tracker_tag, browser, events):
    tag = tracker_tag(site, **FAST)
    ref = static_site.write("ref.html", page_html(
        "Referrer", '<a id="go" href="landing.html?utm_source=newsletter&amp;utm_medium=email'
                    '&amp;utm_campaign=spring&amp;utm_term=trail+shoes&amp;utm_content=hero">go</a>'))
    static_site.write("landing.html", page_html(
        "Landing Page", '<a id="next" href="second.html">next</a>', tag=tag))
    static_site.write("second.html", page_html("Second Page", "<p>second</p>", tag=tag))

    browser.get(ref)
    browser.find_element(By.ID, "go").click()
    wait_tracker(browser)
    landing_url = browser.current_url
    browser.execute_script("profile.identify('user-capture-7', {email_opt_in: true});"
                           "profile.track('Video Played', {video: 'intro', seconds: 12.5})")
    browser.find_element(By.ID, "next").click()
    wait_tracker(browser)

    rows = events.wait(site, lambda rs: len(pages(rs)) >= 2 and tracks(rs, "Video Played"),
                       "two page views and a custom track")
    landing, second = pages(rows)[:2]

    for where in (landing["properties"], ctx(landing)["page"]):
        assert where["title"] == "Landing Page"
        assert where["url"] == landing_url
        assert where["path"] == "/landing.html"
        assert where["referrer"] == ref
        assert where["search"].startswith("?utm_source=newsletter")
    assert ctx(landing)["campaign"] == {"source": "newsletter", "medium": "email", "name": "spring",
                                        "term": "trail shoes", "content": "hero"}
    assert ctx(landing)["sessionStart"] is True
    assert ctx(landing)["referrer"] == {"url": ref}

    assert second["properties"]["title"] == "Second Page"
    assert second["properties"]["path"] == "/second.html"
    assert second["properties"]["referrer"] == landing_url
    assert "campaign" not in ctx(second), "UTM campaign must only ride on the session's first page"
    assert "sessionStart" not in ctx(second)
    assert ctx(second)["sessionId"] == ctx(landing)["sessionId"]
    assert second["anonymous_id"] == landing["anonymous_id"]
    assert second["user_id"] == "user-capture-7"

    video = tracks(rows, "Video Played")[0]
    assert video["properties"] == {"video": "intro", "seconds": 12.5}
    assert video["user_id"] == "user-capture-7"
    assert ctx(video)["page"]["path"] == "/landing.html"
    no_page_errors(browser)


def test_spa_navigation(static_site, site, tracker_tag, browser, events):
    body = """
    <button id="orders">orders</button> <button id="tab">tab</button> <button id="settings">settings</button>
    <script>
      function go(method, title, url) { document.title = title; history[method]({}, '', url); }
      document.getElementById('orders').onclick = function () { go('pushState', 'Orders', '/app/orders'); };
      document.getElementById('tab').onclick = function () { go('replaceState', 'Open Orders', '/app/orders?tab=open'); };
      document.getElementById('settings').onclick = function () { go('pushState', 'Settings', '/app/settings'); };
      window.addEventListener('popstate', function () { document.title = 'Back'; });
    </script>"""
    url = static_site.write("spa.html", page_html("SPA Home", body, tag=tracker_tag(site, **FAST)))
    browser.get(url)
    wait_tracker(browser)
    for button in ("orders", "tab", "settings"):
        time.sleep(0.3)
        browser.find_element(By.ID, button).click()
    time.sleep(0.3)
    browser.back()  # popstate back to /app/orders?tab=open

    rows = events.wait(site, lambda rs: len(pages(rs)) >= 5, "5 page views (load, push, replace, push, pop)")
    pv = pages(rows)
    o = static_site.origin
    assert [p["properties"]["path"] + p["properties"]["search"] for p in pv] == [
        "/spa.html", "/app/orders", "/app/orders?tab=open", "/app/settings", "/app/orders?tab=open"]
    assert [p["properties"]["title"] for p in pv[:4]] == ["SPA Home", "Orders", "Open Orders", "Settings"]
    assert [p["properties"]["referrer"] for p in pv[1:]] == [
        o + "/spa.html", o + "/app/orders", o + "/app/orders?tab=open", o + "/app/settings"]
    assert len({ctx(p)["sessionId"] for p in pv}) == 1

    # Leaving a page view for the next route reports its visible dwell time.
    dwell = events.wait_track(site, "Page Dwell", count=4)
    nav = [d for d in dwell if d["properties"]["reason"] == "navigation"]
    assert {d["properties"]["page_view_id"] for d in nav} >= {pv[0]["message_id"], pv[1]["message_id"]}
    no_page_errors(browser)


def test_scroll_depth(static_site, site, tracker_tag, browser, events):
    url = static_site.write("long.html", page_html(
        "Long Page", '<div style="height:5000px;background:linear-gradient(#fff,#ccf)">long</div>',
        tag=tracker_tag(site, **FAST)))
    browser.get(url)
    wait_tracker(browser)

    def scroll_to(fraction):  # fraction of the page seen (bottom of the viewport)
        browser.execute_script(
            "var h = document.documentElement.scrollHeight;"
            "window.scrollTo(0, Math.max(0, h * arguments[0] - innerHeight))", fraction)
        time.sleep(0.6)

    def depths():
        return sorted(r["properties"]["depth"] for r in tracks(events.all(site), "Scroll Depth"))

    scroll_to(0.30)
    events.wait(site, lambda rs: tracks(rs, "Scroll Depth"), "Scroll Depth 25")
    time.sleep(0.8)
    assert depths() == [25]
    scroll_to(0.60)
    events.wait(site, lambda rs: len(tracks(rs, "Scroll Depth")) >= 2, "Scroll Depth 50")
    scroll_to(1.0)
    scroll_to(0.1)
    scroll_to(1.0)  # milestones are sent once per page view
    rows = events.wait(site, lambda rs: len(tracks(rs, "Scroll Depth")) >= 4, "Scroll Depth 75 and 100")
    time.sleep(1)
    assert depths() == [25, 50, 75, 100]
    page_id = pages(rows)[0]["message_id"]
    assert {r["properties"]["page_view_id"] for r in tracks(rows, "Scroll Depth")} == {page_id}

    # The page view's dwell report carries the maximum depth.
    browser.get(static_site.write("away.html", page_html("Away")))
    dwell = events.wait_track(site, "Page Dwell")
    assert dwell[-1]["properties"]["max_scroll_depth"] == 100
    no_page_errors(browser)


def test_dwell_time_excludes_hidden_time(static_site, site, tracker_tag, browser, events):
    url = static_site.write("read.html", page_html("Article", "<p>read me</p>", tag=tracker_tag(site, **FAST)))
    away = static_site.write("away.html", page_html("Away"))
    browser.get(url)
    wait_tracker(browser)
    t0 = time.monotonic()
    main = browser.current_window_handle
    time.sleep(1.5)

    t_hide = time.monotonic()
    browser.switch_to.new_window("tab")  # the article's tab becomes hidden
    # The hidden-state report is delivered while the tab is in the background (sendBeacon).
    first = events.wait_track(site, "Page Dwell")
    assert first[0]["properties"]["reason"] == "hidden"
    time.sleep(max(0.0, 3.0 - (time.monotonic() - t_hide)))
    browser.close()
    browser.switch_to.window(main)
    t_show = time.monotonic()
    assert browser.execute_script("return document.visibilityState") == "visible"
    time.sleep(1.0)
    t_leave = time.monotonic()
    browser.get(away)

    dwell = events.wait_track(site, "Page Dwell", count=2)
    visible_ms = ((t_hide - t0) + (t_leave - t_show)) * 1000
    hidden_ms = (t_show - t_hide) * 1000
    total = sum(d["properties"]["dwell_ms"] for d in dwell)
    assert hidden_ms >= 2900
    assert dwell[-1]["properties"]["total_dwell_ms"] == total
    assert {d["properties"]["reason"] for d in dwell} == {"hidden", "pagehide"}
    assert abs(total - visible_ms) < 1200, f"dwell {total} ms, visible {visible_ms:.0f} ms, hidden {hidden_ms:.0f} ms"
    assert total < visible_ms + hidden_ms / 2, "time in the background was counted as dwell time"
    page_id = pages(events.all(site))[0]["message_id"]
    assert {d["properties"]["page_view_id"] for d in dwell} == {page_id}


# --------------------------------------------------------------------------- interactions

def test_clicks_on_links_and_data_track(static_site, site, tracker_tag, browser, events):
    tag = tracker_tag(site, **FAST)
    other_host = f"http://localhost:{static_site.port}/outside.html"  # another hostname: outbound
    static_site.write("clicks.html", page_html("Clicks", """
        <button id="cta" data-track="signup-cta"><span id="inner">Start free trial</span></button>
        <a id="internal" href="next.html">Next page</a>""", tag=tag))
    static_site.write("next.html", page_html("Next", f'<a id="out" href="{other_host}">Partner site</a>', tag=tag))
    static_site.write("outside.html", page_html("Outside"))

    browser.get(static_site.url("clicks.html"))
    wait_tracker(browser)
    browser.find_element(By.ID, "inner").click()  # a click inside the [data-track] element
    browser.find_element(By.ID, "internal").click()
    wait_tracker(browser)
    browser.find_element(By.ID, "out").click()

    rows = events.wait(site, lambda rs: tracks(rs, "Element Clicked") and len(tracks(rs, "Link Clicked")) >= 2,
                       "Element Clicked and two Link Clicked")
    el = tracks(rows, "Element Clicked")[0]["properties"]
    assert el["track"] == "signup-cta" and el["text"] == "Start free trial" and el["tag"] == "button"
    internal, out = tracks(rows, "Link Clicked")[:2]
    assert internal["properties"]["href"] == static_site.url("next.html")
    assert internal["properties"]["text"] == "Next page"
    assert internal["properties"]["outbound"] is False
    assert out["properties"]["href"] == other_host
    assert out["properties"]["outbound"] is True
    assert ctx(out)["page"]["path"] == "/next.html"


def test_form_submission_sends_field_names_only(static_site, site, tracker_tag, browser, events):
    url = static_site.write("form.html", page_html("Signup", """
        <form id="signup" name="signup" action="/register?src=x" method="post" data-track="signup-form">
          <input name="email" type="email"> <input name="password" type="password">
          <textarea name="message"></textarea>
          <select name="plan"><option>basic</option><option>pro</option></select>
          <input name="terms" type="checkbox"> <input type="hidden" name="csrf" value="tok-SECRET-123">
          <button id="send" type="submit">Send</button>
        </form>
        <p id="done"></p>
        <script>
          document.getElementById('signup').addEventListener('submit', function (e) {
            e.preventDefault(); document.getElementById('done').textContent = 'sent';
          });
        </script>""", tag=tracker_tag(site, **FAST)))
    browser.get(url)
    wait_tracker(browser)
    browser.find_element(By.NAME, "email").send_keys("secret.person@example.com")
    browser.find_element(By.NAME, "password").send_keys("hunter2-SECRET")
    browser.find_element(By.NAME, "message").send_keys("my SECRET message")
    browser.find_element(By.NAME, "terms").click()
    browser.find_element(By.ID, "send").click()
    assert browser.find_element(By.ID, "done").text == "sent"  # the page's own handler still runs

    rows = events.wait(site, lambda rs: tracks(rs, "Form Submitted"), "Form Submitted")
    p = tracks(rows, "Form Submitted")[0]["properties"]
    assert p["fields"] == ["email", "password", "message", "plan", "terms", "csrf"]
    assert p["form_id"] == "signup" and p["form_name"] == "signup" and p["track"] == "signup-form"
    assert p["method"] == "post"
    assert p["action"] == static_site.url("register")  # no query string
    dump = json.dumps([[r["properties"], r["context"], r["traits"]] for r in events.all(site)])
    for secret in ("secret.person", "hunter2", "SECRET"):
        assert secret not in dump, f"a field value ({secret}) reached the collector"
    no_page_errors(browser)


def test_beacon_delivers_last_event_on_unload(static_site, site, tracker_tag, browser, events):
    # A long flush interval: only the page-hide path (sendBeacon) can deliver these events.
    url = static_site.write("leave.html", page_html(
        "Leaving", "<p>bye</p>", tag=tracker_tag(site, flush_interval_ms=600000)))
    away = static_site.write("away.html", page_html("Away"))
    browser.get(url)
    wait_tracker(browser)
    time.sleep(0.3)
    assert batch_requests(browser) == [], "something was sent before the page was hidden"
    browser.execute_script("profile.track('Last Words', {n: 42})")
    browser.get(away)

    rows = events.wait(site, lambda rs: tracks(rs, "Last Words") and pages(rs), "the events queued at unload")
    assert tracks(rows, "Last Words")[0]["properties"] == {"n": 42}
    assert any(d["properties"]["reason"] == "pagehide" for d in tracks(rows, "Page Dwell"))


# --------------------------------------------------------------------------- privacy

def test_opt_out_sends_nothing(static_site, site, tracker_tag, browser, events):
    url = static_site.write("p.html", page_html(
        "Opt-out", '<a id="link" href="#x">link</a>', tag=tracker_tag(site, **FAST)))
    browser.get(url)
    wait_tracker(browser)
    events.wait_pages(site, 1)
    assert browser.get_cookie("_pb_aid")

    browser.execute_script("profile.optOut(); profile.track('After Opt-out'); profile.identify('u-1')")
    assert browser.get_cookie("_pb_aid") is None, "opt-out must forget the anonymous id"
    browser.find_element(By.ID, "link").click()
    browser.refresh()  # the opt-out is persisted
    wait_tracker(browser)
    browser.execute_script("profile.track('After Opt-out Reload'); window.scrollTo(0, 500)")
    time.sleep(4)
    assert batch_requests(browser) == [], "an opted-out page sent a request to the collector"
    rows = events.all(site)
    assert [r["type"] for r in rows] == ["page"], "events arrived after opt-out"

    browser.execute_script("profile.optIn(); profile.track('After Opt-in')")
    rows = events.wait(site, lambda rs: tracks(rs, "After Opt-in"), "After Opt-in")
    assert not tracks(rows, "After Opt-out") and not tracks(rows, "After Opt-out Reload")
    assert not any(r["user_id"] for r in rows)
    no_page_errors(browser)


def test_consent_gating(static_site, make_site, tracker_tag, browser, events):
    site = make_site(consent_mode="require")
    url = static_site.write("c.html", page_html(
        "Consent", '<a id="link" href="#y">link</a><div style="height:3000px"></div>',
        tag=tracker_tag(site, require_consent="true", **FAST)))
    browser.get(url)
    wait_tracker(browser)
    browser.execute_script("profile.track('Before Consent'); profile.identify('u-before')")
    browser.find_element(By.ID, "link").click()
    browser.execute_script("window.scrollTo(0, 3000)")
    time.sleep(3)
    assert batch_requests(browser) == [], "requests were sent before consent"
    assert browser.get_cookie("_pb_aid") is None, "an identifier was stored before consent"
    assert browser.execute_script(
        "return Object.keys(localStorage).filter(function (k) { return k.indexOf('_pb_') === 0; })") == []
    assert events.all(site) == []

    browser.execute_script("profile.consent({analytics: true, marketing: false}); profile.track('After Consent')")
    rows = events.wait(site, lambda rs: pages(rs) and tracks(rs, "After Consent"), "page view after consent")
    page = pages(rows)[0]
    assert ctx(page)["consent"] == {"analytics": True, "marketing": False}
    assert page["properties"]["path"] == "/c.html"
    assert not tracks(rows, "Before Consent")
    assert not any(r["user_id"] for r in rows)

    browser.refresh()  # consent is remembered
    wait_tracker(browser)
    events.wait_pages(site, 2)

    browser.execute_script("profile.consent({analytics: false}); profile.track('After Withdrawal')")
    time.sleep(3)
    assert not tracks(events.all(site), "After Withdrawal")
    no_page_errors(browser)


def test_dnt_honoured_by_tracker(static_site, site, tracker_tag, make_browser, events):
    browser = make_browser(dnt=True)
    static_site.write("dnt.html", page_html(
        "DNT", "<p>dnt</p>", tag=tracker_tag(site, honor_dnt="true", **FAST)))
    browser.get(static_site.url("dnt.html"))
    wait_tracker(browser)
    assert browser.execute_script("return navigator.doNotTrack") == "1"
    browser.execute_script("profile.track('Should Not Arrive')")
    time.sleep(3)
    assert batch_requests(browser) == []
    assert events.all(site) == []
    assert browser.get_cookie("_pb_aid") is None

    # Control: the same browser and site, tracker not told to honour DNT (nor is the site).
    static_site.write("plain.html", page_html("Plain", "<p>plain</p>", tag=tracker_tag(site, **FAST)))
    browser.get(static_site.url("plain.html"))
    rows = events.wait_pages(site, 1)
    assert rows[0]["properties"]["path"] == "/plain.html"
    assert not tracks(events.all(site), "Should Not Arrive")


def test_gpc_honoured_by_tracker(static_site, site, tracker_tag, browser, events):
    gpc = """<script>Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',
               {get: function () { return true; }, configurable: true});</script>"""
    # data-honor-dnt also covers Global Privacy Control unless data-honor-gpc says otherwise.
    static_site.write("gpc.html", page_html(
        "GPC", "<p>gpc</p>", head=gpc, tag=tracker_tag(site, honor_dnt="true", **FAST)))
    static_site.write("gpc2.html", page_html(
        "GPC2", "<p>gpc</p>", head=gpc, tag=tracker_tag(site, honor_gpc="true", **FAST)))
    for name in ("gpc.html", "gpc2.html"):
        browser.get(static_site.url(name))
        wait_tracker(browser)
        assert browser.execute_script("return navigator.globalPrivacyControl") is True
        browser.execute_script("profile.track('Should Not Arrive')")
    time.sleep(3)
    assert batch_requests(browser) == []
    assert events.all(site) == []

    static_site.write("plain.html", page_html("Plain", "<p>plain</p>", head=gpc, tag=tracker_tag(site, **FAST)))
    browser.get(static_site.url("plain.html"))
    rows = events.wait_pages(site, 1)
    assert rows[0]["properties"]["path"] == "/plain.html"


def test_dnt_honoured_by_collector(static_site, make_site, tracker_tag, make_browser, events):
    # The tracker is not told to honour DNT; the site is, so the collector drops what arrives.
    site = make_site(honor_dnt=True)
    static_site.write("s.html", page_html("Server DNT", "<p>x</p>", tag=tracker_tag(site, **FAST)))
    browser = make_browser(dnt=True)
    browser.get(static_site.url("s.html"))
    wait_tracker(browser)
    browser.execute_script("profile.track('Dropped By Collector')")
    deadline = time.monotonic() + 10
    while not batch_requests(browser) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert batch_requests(browser), "the tracker should have sent the batch (it does not honour DNT here)"
    time.sleep(3)
    assert events.all(site) == [], "the collector stored events from a DNT browser for a site that honours DNT"

    control = make_browser()
    control.get(static_site.url("s.html"))
    events.wait_pages(site, 1)
    assert not tracks(events.all(site), "Dropped By Collector")


# --------------------------------------------------------------------------- robustness

def test_tracks_after_earlier_script_errors(static_site, site, tracker_tag, browser, events):
    broken = """
      <script>throw new Error('page bug before the tracker');</script>
      <script>undefinedFunctionOnThePage();</script>
      <script>var x = ;</script>"""
    url = static_site.write("broken.html", page_html(
        "Broken Page", '<button id="b" data-track="still-works">b</button>', head=broken,
        tag=tracker_tag(site, **FAST), tail="<script>null.boom;</script>"))
    browser.get(url)
    wait_tracker(browser)
    browser.find_element(By.ID, "b").click()
    rows = events.wait(site, lambda rs: pages(rs) and tracks(rs, "Element Clicked"), "page view and click")
    assert pages(rows)[0]["properties"]["title"] == "Broken Page"
    # Only the page's own four errors are in the log: none comes from the tracker.
    errors = uncaught_errors(browser)
    assert len(errors) == 4, errors
    assert not any("t.js" in e["message"] for e in errors), errors


def test_page_works_when_collector_is_down(static_site, site, tracker_tag, browser, events):
    dead = f"http://127.0.0.1:{free_port()}"
    shutil.copy(served_tracker_file(), static_site.root / "t.js")
    body = """
      <button id="count">0</button>
      <form id="f"><input name="q"><button id="send">go</button></form><p id="out"></p>
      <a id="spa" href="#">spa</a> <a id="out-link" data-track="x" href="#z">x</a>
      <div style="height:3000px"></div>
      <script>
        document.getElementById('count').onclick = function () { this.textContent = String(+this.textContent + 1); };
        document.getElementById('f').onsubmit = function (e) { e.preventDefault(); document.getElementById('out').textContent = 'submitted'; };
        document.getElementById('spa').onclick = function (e) { e.preventDefault(); history.pushState({}, '', '/spa/route'); };
      </script>"""
    url = static_site.write("down.html", page_html(
        "Collector Down", body, tag=tracker_tag(site, src="/t.js", host=dead, flush_interval_ms=200)))
    browser.get(url)
    wait_tracker(browser)
    for _ in range(3):
        browser.find_element(By.ID, "count").click()
    browser.find_element(By.NAME, "q").send_keys("hello")
    browser.find_element(By.ID, "send").click()
    browser.find_element(By.ID, "spa").click()
    browser.find_element(By.ID, "out-link").click()
    browser.execute_script("window.scrollTo(0, 3000)")
    result = browser.execute_script("""
        var r = [];
        r.push(profile.track('While Down', {a: 1}));
        r.push(profile.track(null)); r.push(profile.identify({weird: true}));
        var cyclic = {}; cyclic.self = cyclic; r.push(profile.track('Cyclic', cyclic));
        r.push(profile.page()); r.push(profile.consent()); return r.length;""")
    assert result == 6
    time.sleep(4)  # several failed deliveries and backoff retries

    assert browser.find_element(By.ID, "count").text == "3"
    assert browser.find_element(By.ID, "out").text == "submitted"
    assert browser.execute_script("return location.pathname") == "/spa/route"
    no_page_errors(browser)
    assert batch_requests(browser), "the tracker should have tried to deliver"
    stored = browser.execute_script("""
        return Object.keys(localStorage).filter(function (k) { return k.indexOf('_pb_q_') === 0; })
          .map(function (k) { return JSON.parse(localStorage.getItem(k)); })
          .reduce(function (a, b) { return a.concat(b); }, []).map(function (e) { return e.event || e.type; });""")
    assert "While Down" in stored and "page" in stored, stored
    assert events.all(site) == []


def test_page_works_when_tracker_script_cannot_load(static_site, site, tracker_tag, browser, events):
    dead = f"http://127.0.0.1:{free_port()}"
    stub = """<script>window.profile = window.profile || [];
      profile.push(['track', 'Never Sent']);</script>"""
    url = static_site.write("noscript.html", page_html(
        "No Tracker", '<button id="b" onclick="this.textContent=\'clicked\'">b</button>', head=stub,
        tag=tracker_tag(site, src=dead + "/t.js", host=dead)))
    browser.get(url)
    browser.find_element(By.ID, "b").click()
    assert browser.find_element(By.ID, "b").text == "clicked"
    time.sleep(1)
    assert browser.execute_script("return Array.isArray(window.profile) && window.profile.length") == 1
    no_page_errors(browser)


def test_undelivered_events_are_retried(static_site, site, tracker_tag, browser, events):
    dead = f"http://127.0.0.1:{free_port()}"
    shutil.copy(served_tracker_file(), static_site.root / "t.js")
    static_site.write("down.html", page_html(
        "Down", "<p>down</p>", tag=tracker_tag(site, src="/t.js", host=dead, **FAST)))
    static_site.write("up.html", page_html("Up", "<p>up</p>", tag=tracker_tag(site, **FAST)))

    # 1. Collector unreachable: the events wait in localStorage ...
    browser.get(static_site.url("down.html"))
    wait_tracker(browser)
    browser.execute_script("profile.track('Queued While Down', {n: 1})")
    time.sleep(1.5)
    created = datetime.now(timezone.utc)
    # 2. ... and a later page load on the same site delivers them.
    browser.get(static_site.url("up.html"))
    rows = events.wait(site, lambda rs: tracks(rs, "Queued While Down") and len(pages(rs)) >= 2,
                       "the events queued while the collector was down")
    queued = tracks(rows, "Queued While Down")[0]
    assert queued["occurred_at"] < created
    assert ctx(queued)["page"]["path"] == "/down.html"
    assert [p["properties"]["path"] for p in pages(rows)] == ["/down.html", "/up.html"]

    # 3. Offline in the same page: retried with backoff, delivered once back online.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    browser.execute_script("profile.track('Sent While Offline')")
    time.sleep(2.5)
    assert not tracks(events.all(site), "Sent While Offline")
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    rows = events.wait(site, lambda rs: tracks(rs, "Sent While Offline"), "the event sent while offline")
    assert len(tracks(rows, "Sent While Offline")) == 1
    assert len(tracks(rows, "Queued While Down")) == 1
    no_page_errors(browser)


def test_anonymous_id_and_session(static_site, site, tracker_tag, browser, events):
    static_site.write("a.html", page_html("A", "<p>a</p>", tag=tracker_tag(
        site, id_lifetime_days="2", session_timeout_min="0.05", **FAST)))  # 3-second sessions
    browser.get(static_site.url("a.html"))
    wait_tracker(browser)
    cookie = browser.get_cookie("_pb_aid")
    expiry = datetime.fromtimestamp(cookie["expiry"], timezone.utc)
    assert abs(expiry - (datetime.now(timezone.utc) + timedelta(days=2))) < timedelta(minutes=5)
    browser.refresh()                      # within the session
    wait_tracker(browser)
    time.sleep(4)                          # longer than the inactivity timeout
    browser.refresh()
    rows = events.wait_pages(site, 3)
    s = [ctx(p)["sessionId"] for p in rows]
    assert s[0] == s[1] != s[2]
    assert [ctx(p).get("sessionStart", False) for p in rows] == [True, False, True]
    assert len({p["anonymous_id"] for p in rows}) == 1
    assert rows[0]["anonymous_id"] == cookie["value"]


# --------------------------------------------------------------------------- the example site

def test_demo_site(collector_url, static_site, site, browser, events):
    """The example pages in web/demo/, with the install tag pointed at this test's site."""
    for f in (WEB / "demo").iterdir():
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".html":
            assert '<script async src="/t.js" data-write-key="demo-write-key"></script>' in text, f.name
            text = text.replace(
                '<script async src="/t.js" data-write-key="demo-write-key"></script>',
                f'<script async src="{collector_url}/t.js" data-write-key="{site.write_key}" '
                f'data-flush-interval-ms="300"></script>')
        static_site.write(f.name, text)

    b = browser
    b.get(static_site.url("index.html"))
    wait_tracker(b)
    b.find_element(By.CSS_SELECTOR, '[data-track="hero-cta"]').click()      # -> product
    wait_tracker(b)
    b.find_element(By.ID, "add-to-cart").click()
    b.find_element(By.LINK_TEXT, "Pricing").click()
    wait_tracker(b)
    b.find_element(By.CSS_SELECTOR, '[data-track="plan-trekker"]').click()
    b.find_element(By.LINK_TEXT, "Account (SPA)").click()
    wait_tracker(b)
    b.find_element(By.CSS_SELECTOR, '[data-route="orders"]').click()
    time.sleep(0.2)
    b.find_element(By.CSS_SELECTOR, '[data-route="settings"]').click()
    time.sleep(0.2)
    b.back()
    b.find_element(By.LINK_TEXT, "Contact").click()
    wait_tracker(b)
    b.find_element(By.NAME, "email").send_keys("demo-visitor@example.com")
    b.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

    rows = events.wait(site, lambda rs: any(p["properties"]["path"].endswith("thanks.html") for p in pages(rs))
                       and tracks(rs, "Form Submitted"), "the whole demo journey")
    paths = [p["properties"]["path"].rsplit("/", 1)[-1] + p["properties"]["search"] for p in pages(rows)]
    assert paths == ["index.html", "product.html", "pricing.html", "app.html", "app.html?view=orders",
                     "app.html?view=settings", "app.html?view=orders", "contact.html", "thanks.html"]
    assert tracks(rows, "Product Added")[0]["properties"]["product_id"] == "shoe-x"
    assert {e["properties"]["track"] for e in tracks(rows, "Element Clicked")} == {"hero-cta", "plan-trekker"}
    assert tracks(rows, "Form Submitted")[0]["properties"]["fields"] == ["name", "email", "topic", "message"]
    assert "demo-visitor" not in json.dumps([r["properties"] for r in rows])
    assert uncaught_errors(b) == []


def test_tracker_min_file_is_current():
    """web/t.min.js (what the collector serves) is the minified web/t.js and within budget."""
    import subprocess
    import sys

    from conftest import REPO

    r = subprocess.run([sys.executable, str(REPO / "scripts" / "tracker-size"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_identify_with_a_user_hash_is_verified_and_a_wrong_one_is_not(db, static_site, site, tracker_tag, browser, events):
    """The site's server hands its page HMAC-SHA256(identity secret, user id); the tracker sends it
    with identify, the collector verifies it and never stores it (docs/IDENTITY.md)."""
    secret = secrets.token_hex(32)
    db.execute("UPDATE sites SET identity_secret = %s WHERE id = %s", (secret, site.id))
    good = hmac.new(secret.encode(), b"member-77", hashlib.sha256).hexdigest()  # Python's hmac: an independent oracle
    browser.get(static_site.write("hash.html", page_html("Hash", "<p>hash</p>", tag=tracker_tag(site, **FAST))))
    wait_tracker(browser)
    browser.execute_script(
        "profile.identify('member-77', {plan: 'pro'}, {userHash: arguments[0]});"
        "profile.identify('member-78', {plan: 'free'}, {userHash: arguments[0]});", good)
    rows = events.wait(site, lambda rs: sum(r["type"] == "identify" for r in rs) >= 2, "two identify events")
    verified = {r["user_id"]: db.execute(
        "SELECT array_to_string(verified_identifiers, ',') FROM events WHERE site_id = %s AND user_id = %s AND type = 'identify'",
        (site.id, r["user_id"])).fetchone()[0] for r in rows if r["type"] == "identify"}
    assert verified == {"member-77": "user_id", "member-78": ""}, verified
    stored = db.execute("SELECT count(*) FROM events WHERE site_id = %s AND events::text LIKE %s",
                        (site.id, f"%{good[:16]}%")).fetchone()[0]
    assert stored == 0, "the user hash was stored"
