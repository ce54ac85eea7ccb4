"""The real Python SDKs of Segment (segment-analytics-python) and RudderStack (rudder-sdk-python),
unchanged, pointed at a running collector: every call they make lands in `events` with the
messageId the SDK generated, the right type and the right fields.

Both SDKs queue calls in memory and a background thread POSTs them to `<host>/v1/batch` (HTTP
Basic with the write key as user); each call returns `(queued, message)`, so the test knows the
messageId the SDK chose. RudderStack's SDK gzips its batches by default, Segment's does not."""
import datetime
import gzip
import json
import threading
import time
import uuid
import zlib

import pytest
import requests

import rudderstack.analytics as rudder_module
import segment.analytics as segment_module
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

SDKS = {
    "segment": SegmentClient,
    "rudder": RudderClient,
}


class Collected:
    """A collector with one site, and what its `events` table holds."""

    def __init__(self, service, db, write_key, site_id):
        self.service, self.db, self.write_key, self.site_id = service, db, write_key, site_id

    def rows(self):
        names = ("message_id", "type", "anonymous_id", "user_id", "event", "name", "previous_id", "group_id",
                 "properties", "traits", "context", "integrations", "occurred_at", "sent_at", "received_at")
        result = self.db.query(f"SELECT {', '.join(names)} FROM events WHERE site_id = %s", (self.site_id,))
        return {row[0]: dict(zip(names, row)) for row in result}

    def queued(self):
        return self.db.query("SELECT count(*) FROM event_queue WHERE site_id = %s", (self.site_id,))[0][0]


@pytest.fixture
def collected(migrated, start_service):
    write_key = "wk_sdk_" + uuid.uuid4().hex[:10]
    site_id = migrated.query(
        "INSERT INTO sites (slug, name, write_key) VALUES ('sdk-site', 'SDK site', %s) RETURNING id", (write_key,))[0][0]
    service = start_service("collector", migrated).wait_ready()
    return Collected(service, migrated, write_key, site_id)


class Errors:
    """The SDKs' on_error callback: any delivery failure fails the test with the collector's answer."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()

    def __call__(self, error, batch):
        with self.lock:
            self.seen.append(f"{error} ({len(batch)} messages)")


def deliver_every_call(client):
    """Makes each kind of call once, as an application would; returns the SDK's messages by type."""
    anonymous_id = "anon-" + uuid.uuid4().hex[:8]
    user_id = "user-" + uuid.uuid4().hex[:8]
    sent = {}

    def keep(result):
        queued, message = result
        assert queued, f"the SDK did not queue {message}"
        assert message["messageId"], message
        sent[message["type"]] = message

    keep(client.identify(user_id=user_id, anonymous_id=anonymous_id,
                         traits={"email": "ada@example.com", "name": "Ada", "plan": "pro"}))
    keep(client.track(user_id=user_id, event="Order Completed",
                      properties={"order_id": "o-17", "revenue": 42.5, "currency": "EUR",
                                  "products": [{"sku": "SKU-1", "quantity": 2}]},
                      context={"locale": "de-DE", "ip": "203.0.113.77", "campaign": {"source": "newsletter"}}))
    keep(client.page(user_id=user_id, category="Docs", name="Pricing",
                     properties={"url": "https://shop.example/pricing", "title": "Pricing"}))
    keep(client.screen(user_id=user_id, name="Home", properties={"variant": "b"}))
    keep(client.group(user_id=user_id, group_id="acme-inc", traits={"name": "Acme", "employees": 120}))
    keep(client.alias(previous_id=anonymous_id, user_id=user_id))
    return sent, anonymous_id, user_id


@pytest.mark.parametrize("sdk", sorted(SDKS))
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_sdk_calls_land_in_events_with_their_message_ids(collected, sdk, gzip):
    errors = Errors()
    started = datetime.datetime.now(datetime.timezone.utc)
    client = SDKS[sdk](collected.write_key, host=collected.service.url, on_error=errors, gzip=gzip,
                       max_retries=1, upload_interval=0.05, timeout=10)
    sent, anonymous_id, user_id = deliver_every_call(client)
    client.flush()
    client.join()
    assert errors.seen == [], collected.service.logs()

    rows = collected.rows()
    assert set(rows) == {message["messageId"] for message in sent.values()}
    assert collected.queued() == len(sent), "every stored event has one queue row for the engine"
    by_type = {row["type"]: row for row in rows.values()}
    assert set(by_type) == {"identify", "track", "page", "screen", "group", "alias"}
    for kind, message in sent.items():
        row = by_type[kind]
        assert row["message_id"] == message["messageId"]
        assert row["context"]["library"]["name"] == "analytics-python", row["context"]
        # The SDK's timestamp, corrected for clock skew, is when the event happened.
        assert started - datetime.timedelta(seconds=5) <= row["occurred_at"] <= row["received_at"]
        assert row["sent_at"] is not None

    identify = by_type["identify"]
    assert identify["user_id"] == user_id and identify["anonymous_id"] == anonymous_id
    # RudderStack's SDK sends identify traits in context.traits; the collector stores them as traits
    # (where the engine reads them) and keeps the context as sent.
    assert identify["traits"] == {"email": "ada@example.com", "name": "Ada", "plan": "pro"}
    if sdk == "rudder":
        assert identify["context"]["traits"] == identify["traits"]

    track = by_type["track"]
    assert track["event"] == "Order Completed" and track["user_id"] == user_id
    assert track["properties"] == {"order_id": "o-17", "revenue": 42.5, "currency": "EUR",
                                   "products": [{"sku": "SKU-1", "quantity": 2}]}
    assert track["context"]["locale"] == "de-DE" and track["context"]["campaign"] == {"source": "newsletter"}
    assert "ip" not in track["context"], "the raw IP is never stored"

    page = by_type["page"]
    assert page["name"] == "Pricing" and page["properties"]["url"] == "https://shop.example/pricing"
    screen = by_type["screen"]
    assert screen["name"] == "Home" and screen["properties"] == {"variant": "b"}
    group = by_type["group"]
    assert group["group_id"] == "acme-inc" and group["traits"] == {"name": "Acme", "employees": 120}
    alias = by_type["alias"]
    assert alias["previous_id"] == anonymous_id and alias["user_id"] == user_id


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_sdk_resending_a_message_id_stores_it_once(collected, sdk):
    """An SDK retry (same messageId, new request) is acknowledged again and stored once."""
    errors = Errors()
    client = SDKS[sdk](collected.write_key, host=collected.service.url, on_error=errors, sync_mode=True, max_retries=1)
    message_id = str(uuid.uuid4())
    for _ in range(3):
        queued, _ = client.track(anonymous_id="anon-retry", event="Signed Up", properties={"n": 1}, message_id=message_id)
        assert queued
    assert errors.seen == []
    rows = collected.rows()
    assert list(rows) == [message_id] and rows[message_id]["event"] == "Signed Up"
    assert collected.queued() == 1


def test_segment_module_api_with_host_setting(collected):
    """Segment's documented set-up: module-level `write_key` and `host`."""
    errors = Errors()
    segment_module.default_client = None
    segment_module.write_key, segment_module.host, segment_module.on_error = collected.write_key, collected.service.url, errors
    segment_module.max_retries = 1
    try:
        ids = []
        for n in range(25):
            _, message = segment_module.track(f"user-{n % 3}", "Article Read", {"article": n})
            ids.append(message["messageId"])
        _, message = segment_module.identify("user-0", {"email": "zero@example.com"})
        ids.append(message["messageId"])
        segment_module.flush()
        segment_module.shutdown()
    finally:
        segment_module.default_client = None
        segment_module.write_key = segment_module.host = segment_module.on_error = None
    assert errors.seen == []
    assert sorted(collected.rows()) == sorted(ids)


def test_rudder_module_api_with_data_plane_url(collected):
    """RudderStack's documented set-up: module-level `write_key` and `dataPlaneUrl` (gzip on, its default).
    Its module functions return nothing, so the messageIds are given explicitly."""
    errors = Errors()
    rudder_module.default_client = None
    saved_url = rudder_module.dataPlaneUrl
    rudder_module.write_key, rudder_module.dataPlaneUrl, rudder_module.on_error = collected.write_key, collected.service.url, errors
    rudder_module.max_retries = 1
    try:
        ids = [str(uuid.uuid4()) for _ in range(26)]
        for n, message_id in enumerate(ids[:25]):
            rudder_module.track(user_id=f"user-{n % 3}", event="Article Read", properties={"article": n}, message_id=message_id)
        rudder_module.page(user_id="user-0", name="Home", properties={"path": "/"}, message_id=ids[25])
        rudder_module.flush()
        rudder_module.shutdown()
    finally:
        rudder_module.default_client = None
        rudder_module.write_key = rudder_module.on_error = None
        rudder_module.dataPlaneUrl = saved_url
    assert errors.seen == []
    rows = collected.rows()
    assert sorted(rows) == sorted(ids)
    assert rows[ids[25]]["type"] == "page" and rows[ids[7]]["properties"] == {"article": 7}


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_sdk_with_an_unknown_write_key_reports_the_collectors_error(collected, sdk):
    """A 4xx is final: the SDK reports the collector's code and message (and does not retry)."""
    errors = Errors()
    client = SDKS[sdk]("wk_not_a_key", host=collected.service.url, on_error=errors, max_retries=3, upload_interval=0.05)
    started = time.monotonic()
    client.track(user_id="u1", event="Nope")
    client.flush()
    client.join()
    assert time.monotonic() - started < 1.5, "a 401 must not be retried with backoff"
    assert len(errors.seen) == 1 and "unknown_write_key" in errors.seen[0] and "(401)" in errors.seen[0], errors.seen
    assert collected.rows() == {}
    # The collector itself is unharmed.
    assert requests.get(collected.service.url + "/ready", timeout=2).status_code == 200


# Compressed bodies: the SDKs' gzip option, and what a hostile client can do with it.

def post_encoded(collected, body, encoding, path="/v1/batch"):
    return requests.post(collected.service.url + path, data=body, auth=(collected.write_key, ""), timeout=10,
                         headers={"Content-Type": "application/json", "Content-Encoding": encoding})


def test_deflate_and_gzip_bodies_are_accepted(collected):
    event = {"type": "track", "anonymousId": "a1", "event": "Compressed"}
    for encoding, data in (("gzip", gzip.compress(json.dumps({"batch": [{**event, "messageId": "m-gzip"}]}).encode())),
                           ("deflate", zlib.compress(json.dumps({**event, "messageId": "m-deflate"}).encode()))):
        response = post_encoded(collected, data, encoding, path="/v1/batch" if encoding == "gzip" else "/v1/track")
        assert response.status_code == 200 and response.json()["stored"] == 1, response.text
    assert sorted(collected.rows()) == ["m-deflate", "m-gzip"]


def test_a_gzip_bomb_is_refused_with_413(collected):
    padding = "x" * (5 * 1024 * 1024)
    bomb = gzip.compress(json.dumps({"batch": [{"type": "track", "anonymousId": "a", "event": padding}]}).encode())
    assert len(bomb) < 20_000
    response = post_encoded(collected, bomb, "gzip")
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large", response.text
    assert collected.rows() == {}


def test_a_compressed_batch_still_checks_each_events_size(collected):
    batch = [{"type": "track", "anonymousId": "a", "event": "Small", "messageId": "small"},
             {"type": "track", "anonymousId": "a", "event": "Big", "messageId": "big", "properties": {"blob": "y" * 40_000}}]
    response = post_encoded(collected, gzip.compress(json.dumps({"batch": batch}).encode()), "gzip")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["stored"] == 1 and [(r["messageId"], r["code"]) for r in answer["rejected"]] == [("big", "event_too_large")]
    assert list(collected.rows()) == ["small"]


def test_corrupt_or_unknown_encodings_get_clear_errors(collected):
    corrupt = post_encoded(collected, b"\x1f\x8b\x08\x00not really gzip", "gzip")
    assert corrupt.status_code == 400, corrupt.text
    assert corrupt.json()["field"] == "Content-Encoding" and corrupt.json()["code"] == "invalid_encoding"
    unknown = post_encoded(collected, b"{}", "br")
    assert unknown.status_code == 415 and unknown.json()["field"] == "Content-Encoding", unknown.text
    # Error answers carry `code` and `message`, the members the SDKs read.
    assert unknown.json()["message"] == unknown.json()["detail"]
    assert collected.rows() == {}
