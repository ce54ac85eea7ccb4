"""Fixtures for the tracker's browser tests.

The tests drive headless Chromium (Debian `chromium` + `chromium-driver`) with Selenium against
the REAL collector and PostgreSQL:

    COLLECTOR_URL   base URL of a running collector, e.g. http://127.0.0.1:8080
    DATABASE_URL    the collector's database, e.g. postgres://postgres@127.0.0.1:5432/profile_builder

Both are required: without them every test fails with a message saying so (nothing is skipped).

Each test creates its own site row (unique slug and write key, allowed_origins = the origin of
the test's own static server, privacy settings per test), serves generated pages from a tiny
static HTTP server on 127.0.0.1 (a different origin from the collector, so the tracker's
requests are cross-origin exactly as on a customer's site) and asserts on the rows that arrive
in `events` for that site.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
EVENT_TIMEOUT = float(os.environ.get("BROWSER_TEST_EVENT_TIMEOUT", "10"))

EVENT_COLUMNS = (
    "message_id, type, anonymous_id, user_id, event, name, properties, traits, context, "
    "occurred_at, sent_at, received_at, client_ip, is_bot, consent"
)


def _require_env() -> tuple[str, str]:
    missing = [n for n in ("COLLECTOR_URL", "DATABASE_URL") if not os.environ.get(n)]
    if missing:
        pytest.fail(
            "browser tests need a running collector and its database: set "
            + " and ".join(missing)
            + " (e.g. COLLECTOR_URL=http://127.0.0.1:8080 "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/profile_builder)",
            pytrace=False,
        )
    return os.environ["COLLECTOR_URL"].rstrip("/"), os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def collector_url() -> str:
    url, _ = _require_env()
    try:
        with urllib.request.urlopen(url + "/t.js", timeout=10) as r:
            r.read()
    except Exception as e:  # noqa: BLE001 - any failure means the collector is not usable
        pytest.fail(f"collector at COLLECTOR_URL={url} does not serve /t.js: {e}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def db():
    _, dsn = _require_env()
    import psycopg

    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"cannot connect to DATABASE_URL: {e}", pytrace=False)
    yield conn
    conn.close()


# ---------------------------------------------------------------- static test site

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@dataclass
class StaticSite:
    root: Path
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    def write(self, name: str, text: str) -> str:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return self.url(name)


@pytest.fixture
def static_site():
    root = Path(tempfile.mkdtemp(prefix="pb-browser-"))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield StaticSite(root, server.server_address[1])
    server.shutdown()
    server.server_close()
    shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (used as a collector that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- sites and events

@dataclass
class Site:
    id: object
    slug: str
    write_key: str
    origin: str
    settings: dict = field(default_factory=dict)


@pytest.fixture
def make_site(db, static_site) -> Callable[..., Site]:
    """Creates a site row for this test; allowed_origins defaults to the static site's origin."""

    def make(*, allowed_origins=None, consent_mode="none", honor_dnt=False, honor_gpc=False) -> Site:
        tag = secrets.token_hex(6)
        slug = f"browser-test-{tag}"
        key = f"wk_browser_{secrets.token_hex(12)}"
        origins = allowed_origins if allowed_origins is not None else [static_site.origin]
        row = db.execute(
            """INSERT INTO sites (slug, name, write_key, allowed_origins, consent_mode, honor_dnt, honor_gpc)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (slug, f"Browser test {tag}", key, origins, consent_mode, honor_dnt, honor_gpc),
        ).fetchone()
        return Site(row[0], slug, key, static_site.origin,
                    dict(consent_mode=consent_mode, honor_dnt=honor_dnt, honor_gpc=honor_gpc))

    return make


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


def fetch_events(db, site: Site) -> list[dict]:
    cur = db.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE site_id = %s ORDER BY occurred_at, received_at",
        (site.id,),
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def describe(rows: list[dict]) -> str:
    return "\n".join(
        f"  {r['type']:8} event={r['event']!r} name={r['name']!r} path={((r['context'] or {}).get('page') or {}).get('path')!r} "
        f"props={json.dumps(r['properties'])[:160]}"
        for r in rows
    ) or "  (no events)"


@pytest.fixture
def events(db):
    """events.wait(site, predicate, what) polls `events` until predicate(rows) is true."""

    class Events:
        def all(self, site: Site) -> list[dict]:
            return fetch_events(db, site)

        def wait(self, site: Site, predicate: Callable[[list[dict]], bool], what: str,
                 timeout: float = EVENT_TIMEOUT) -> list[dict]:
            deadline = time.monotonic() + timeout
            while True:
                rows = fetch_events(db, site)
                if predicate(rows):
                    return rows
                if time.monotonic() > deadline:
                    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; events for site "
                                f"{site.slug}:\n{describe(rows)}", pytrace=False)
                time.sleep(0.25)

        def wait_track(self, site: Site, name: str, count: int = 1, **kw) -> list[dict]:
            rows = self.wait(site, lambda rs: len(tracks(rs, name)) >= count,
                             f"{count} track event(s) {name!r}", **kw)
            return tracks(rows, name)

        def wait_pages(self, site: Site, count: int = 1, **kw) -> list[dict]:
            rows = self.wait(site, lambda rs: len(pages(rs)) >= count, f"{count} page event(s)", **kw)
            return pages(rows)

        def none(self, site: Site, seconds: float = 4.0) -> None:
            time.sleep(seconds)
            rows = fetch_events(db, site)
            assert not rows, f"expected no events for site {site.slug}, got:\n{describe(rows)}"

    return Events()


def tracks(rows: list[dict], name: str) -> list[dict]:
    return [r for r in rows if r["type"] == "track" and r["event"] == name]


def pages(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["type"] == "page"]


# ---------------------------------------------------------------- pages

@pytest.fixture
def tracker_tag(collector_url):
    """The install tag for a test site: t.js from the collector, data-host = COLLECTOR_URL."""

    def tag(site: Site, *, src: str | None = None, host: str | None = collector_url, **attrs) -> str:
        a = {"write-key": site.write_key}
        if host is not None:
            a["host"] = host
        a.update({k.replace("_", "-"): v for k, v in attrs.items()})
        data = " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in a.items())
        return f'<script async src="{src or collector_url + "/t.js"}" {data}></script>'

    return tag


def page_html(title: str, body: str = "", *, head: str = "", tag: str = "", tail: str = "") -> str:
    """A page that records its own uncaught errors in window.__pageErrors."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>
  window.__pageErrors = [];
  window.addEventListener('error', function (e) {{ window.__pageErrors.push(String(e.message)); }});
  window.addEventListener('unhandledrejection', function (e) {{ window.__pageErrors.push('rejection: ' + e.reason); }});
</script>
{head}
{tag}
</head><body>
{body}
{tail}
</body></html>
"""


# ---------------------------------------------------------------- browser

def _chrome(*, dnt: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    if os.path.exists(CHROMIUM):
        opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    prefs = {"enable_do_not_track": True} if dnt else {}
    if prefs:
        opts.add_experimental_option("prefs", prefs)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(15)
    return driver


@pytest.fixture
def make_browser():
    drivers = []

    def make(**kw):
        d = _chrome(**kw)
        drivers.append(d)
        return d

    yield make
    for d in drivers:
        try:
            d.quit()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def browser(make_browser):
    return make_browser()


def wait_tracker(driver, timeout: float = 10) -> None:
    """Waits until t.js has run on the current page (window.profile is the real API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return !!(window.profile && window.profile.__pb)"):
            return
        time.sleep(0.05)
    raise AssertionError("the tracker did not load (window.profile.__pb never appeared)")


def uncaught_errors(driver) -> list[dict]:
    """Entries of the browser log that are uncaught exceptions (not failed network requests)."""
    return [e for e in driver.get_log("browser")
            if e.get("source") == "javascript" or "Uncaught" in e.get("message", "")]


def batch_requests(driver) -> list[dict]:
    """Requests the page made to .../v1/batch (fetch and sendBeacon), from Resource Timing."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(function (e) { return /\\/v1\\/batch/.test(e.name); })"
        ".map(function (e) { return {name: e.name, initiator: e.initiatorType}; })")
