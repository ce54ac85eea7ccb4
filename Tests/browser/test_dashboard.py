"""Browser tests of the analytics dashboard (issue 9) against the real profile API and Postgres.

    PROFILE_API_URL           base URL of a running profile-api, e.g. http://127.0.0.1:8081
    DASHBOARD_API_KEY         a key with the reports and profiles:read scopes
    DASHBOARD_ADMIN_USER      the administrator the profile-api was configured with
    DASHBOARD_ADMIN_PASSWORD  that administrator's password (the server has only its hash)

The database behind it holds Tests/fixtures/analytics.sql with its rollups refreshed (scripts/test
sets this up). Screenshots of every page go to artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import REPO
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = REPO / "artifacts" / "screenshots"
RANGE = "site=acme&from=2026-03-01&to=2026-03-10"
PANELS = ["panel-metrics", "panel-trends", "panel-pageviews", "panel-funnel", "panel-interests", "panel-pipeline",
          "panel-segments", "panel-pages", "panel-roi"]


@pytest.fixture(scope="module")
def api():
    missing = [n for n in ("PROFILE_API_URL", "DASHBOARD_API_KEY") if not os.environ.get(n)]
    if missing:
        pytest.fail("dashboard browser tests need " + " and ".join(missing) + " (see the module docstring)", pytrace=False)
    return os.environ["PROFILE_API_URL"].rstrip("/"), os.environ["DASHBOARD_API_KEY"]


@pytest.fixture(scope="module")
def admin():
    missing = [n for n in ("DASHBOARD_ADMIN_USER", "DASHBOARD_ADMIN_PASSWORD") if not os.environ.get(n)]
    if missing:
        pytest.fail("the administrator sign-in test needs " + " and ".join(missing) + " (see the module docstring)", pytrace=False)
    return os.environ["DASHBOARD_ADMIN_USER"], os.environ["DASHBOARD_ADMIN_PASSWORD"]


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"dashboard-{name}.png"
    # A full-page picture: grow the window to the page's height first.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    if width >= 600:
        driver.set_window_size(width, min(max(height + 120, 800), 6000))
    driver.save_screenshot(str(path))
    return path


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait(driver, condition, seconds: float = 10):
    """A click that submits a form or follows a link returns before the next page has loaded."""
    return WebDriverWait(driver, seconds).until(condition)


def sign_in(driver, base: str, key: str) -> None:
    driver.get(base + "/dashboard")
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(driver, EC.presence_of_element_located((By.ID, "logout")))


def test_bad_key_is_rejected(api, browser):
    base, _ = api
    browser.get(base + "/dashboard")
    browser.find_element(By.ID, "api_key").send_keys("pb_nothere1_notarealsecret")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    assert "unknown, revoked" in wait(browser, EC.presence_of_element_located((By.ID, "login-error"))).text
    assert browser.get_cookie("pb_dashboard") is None
    shot(browser, "login-rejected")


def admin_sign_in(driver, base: str, user: str, password: str) -> None:
    driver.get(base + "/dashboard")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#admin-login-form button").click()


def test_admin_sign_in_with_the_configured_credential(api, admin, browser):
    base, _ = api
    user, password = admin
    # The page offers both ways in.
    browser.get(base + "/dashboard")
    assert browser.find_element(By.ID, "login-form").is_displayed()
    assert browser.find_element(By.ID, "admin-login-form").is_displayed()
    shot(browser, "login")
    admin_sign_in(browser, base, user, password + "x")
    assert "user or password is wrong" in wait(browser, EC.presence_of_element_located((By.ID, "login-error"))).text
    assert browser.get_cookie("pb_dashboard") is None
    # Reading the log empties it: the refused sign-in's 401 is the only error expected so far.
    assert all("401" in e["message"] for e in console_errors(browser))
    admin_sign_in(browser, base, user, password)
    wait(browser, EC.presence_of_element_located((By.ID, "logout")))
    cookie = browser.get_cookie("pb_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"].startswith("admin.")
    browser.get(f"{base}/dashboard?{RANGE}")
    assert browser.find_element(By.CSS_SELECTOR, "[data-metric=visitors] .value").text == "3"
    browser.get(f"{base}/dashboard/profiles?site=acme")
    assert "Grace Hopper" in browser.find_element(By.ID, "profiles-table").text
    assert console_errors(browser) == []
    browser.find_element(By.ID, "logout").click()
    wait(browser, EC.presence_of_element_located((By.ID, "admin-login-form")))
    assert browser.get_cookie("pb_dashboard") is None


def test_sign_in_and_every_panel_renders(api, browser):
    base, key = api
    sign_in(browser, base, key)
    cookie = browser.get_cookie("pb_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.get(f"{base}/dashboard?{RANGE}")
    for panel in PANELS:
        element = browser.find_element(By.ID, panel)
        assert element.is_displayed(), panel
        assert "No data in this range" not in element.text, panel
    visitors = browser.find_element(By.CSS_SELECTOR, "[data-metric=visitors] .value").text
    assert visitors == "3"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#panel-trends svg polyline")) == 2
    assert "Pro Plan" in browser.find_element(By.ID, "panel-interests").text
    assert "pricing-viewers" in browser.find_element(By.ID, "panel-segments").text
    pages = [row.text.split()[0] for row in browser.find_elements(By.CSS_SELECTOR, "#pages-table tbody tr")]
    assert pages[:2] == ["/", "/pricing"]
    assert console_errors(browser) == []
    shot(browser, "overview")


def test_profile_search_and_profile_page(api, browser):
    base, key = api
    sign_in(browser, base, key)
    browser.get(f"{base}/dashboard/profiles?site=acme")
    # The visitor-written name is shown as text, never run.
    assert '<script>alert("pwned")</script>' in browser.find_element(By.ID, "profiles-table").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    search = browser.find_element(By.ID, "q")
    search.send_keys("grace")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait(browser, EC.url_contains("q=grace"))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#profiles-table a.profile-link")]
    assert names == ["Grace Hopper"]
    shot(browser, "profiles")
    browser.find_element(By.LINK_TEXT, "Grace Hopper").click()
    assert wait(browser, EC.presence_of_element_located((By.ID, "profile-name"))).text == "Grace Hopper"
    assert "grace@example.com" in browser.find_element(By.ID, "fields-table").text
    assert "signup" in browser.find_element(By.ID, "score-table").text
    assert "Pro Plan" in browser.find_element(By.ID, "interests-table").text
    timeline = browser.find_element(By.ID, "timeline-table").text
    assert "mql → customer" in timeline and "/signup" in timeline
    assert console_errors(browser) == []
    shot(browser, "profile")


def test_phone_viewport_and_sign_out(api, browser):
    base, key = api
    sign_in(browser, base, key)
    browser.set_window_size(390, 844)
    browser.get(f"{base}/dashboard?{RANGE}")
    # One column and no sideways scrolling of the page on a phone.
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the phone screen"
    lefts = {browser.find_element(By.ID, p).rect["x"] for p in ("panel-trends", "panel-pageviews")}
    assert len(lefts) == 1, "panels should stack on a phone"
    shot(browser, "overview-phone")
    browser.find_element(By.ID, "logout").click()
    wait(browser, EC.presence_of_element_located((By.ID, "login-form")))
    assert browser.get_cookie("pb_dashboard") is None
    assert console_errors(browser) == []
