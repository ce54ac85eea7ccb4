"""U+0000 (NUL) in an event: Postgres text and jsonb cannot store it. The event is refused with a
clear error naming the field, and, because the collector writes concurrent requests in one
transaction, it must not take other clients' events down with it."""
import collections
import threading
import uuid

import pytest
import requests


@pytest.fixture
def collector(migrated, start_service):
    write_key = "wk_nul_" + uuid.uuid4().hex[:8]
    site_id = migrated.query("INSERT INTO sites (slug, name, write_key) VALUES ('nul', 'NUL', %s) RETURNING id", (write_key,))[0][0]
    service = start_service("collector", migrated, RATE_LIMIT_IP_PER_SECOND=100000, RATE_LIMIT_IP_BURST=100000,
                            BATCH_MAX_WAIT_MS=5).wait_ready()
    return service, write_key, site_id, migrated


def post(service, write_key, path, text):
    return requests.post(service.url + path, data=text.encode(), auth=(write_key, ""), timeout=10,
                         headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("event, field", [
    ('{"anonymousId":"a","event":"e","properties":{"note":"x\\u0000y"}}', "properties"),
    ('{"anonymousId":"a","event":"e","properties":{"k\\u0000":1}}', "properties"),
    ('{"anonymousId":"a\\u0000b","event":"e"}', "anonymousId"),
    ('{"anonymousId":"a","event":"e\\u0000"}', "event"),
    ('{"anonymousId":"a","event":"e","context":{"page":{"title":["\\u0000"]}}}', "context"),
])
def test_a_nul_character_is_refused_with_the_field_named(collector, event, field):
    service, write_key, site_id, db = collector
    response = post(service, write_key, "/v1/track", event)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_character" and response.json()["field"] == field
    assert db.query("SELECT count(*) FROM events WHERE site_id = %s", (site_id,))[0][0] == 0


def test_in_a_batch_only_the_nul_event_is_rejected(collector):
    service, write_key, site_id, db = collector
    body = ('{"batch":[{"type":"track","messageId":"ok-1","anonymousId":"a","event":"fine"},'
            '{"type":"track","messageId":"bad","anonymousId":"a","event":"x","properties":{"p":"\\u0000"}},'
            '{"type":"page","messageId":"ok-2","anonymousId":"a","name":"Home"}]}')
    response = post(service, write_key, "/v1/batch", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["stored"] == 2 and [(r["messageId"], r["code"]) for r in answer["rejected"]] == [("bad", "invalid_character")]
    stored = {row[0] for row in db.query("SELECT message_id FROM events WHERE site_id = %s", (site_id,))}
    assert stored == {"ok-1", "ok-2"}


def test_nul_events_do_not_fail_other_clients_requests(collector):
    """A client sending NUL events alongside well-behaved clients: every good request is stored."""
    service, write_key, site_id, db = collector
    answers = collections.Counter()
    lock = threading.Lock()

    def send(kind, count):
        session = requests.Session()
        for n in range(count):
            if kind == "good":
                text = f'{{"anonymousId":"good","event":"fine","messageId":"good-{threading.get_ident()}-{n}"}}'
            else:
                text = '{"anonymousId":"bad","event":"x","properties":{"p":"\\u0000"}}'
            status = session.post(service.url + "/v1/track", data=text.encode(), auth=(write_key, ""), timeout=10,
                                  headers={"Content-Type": "application/json"}).status_code
            with lock:
                answers[(kind, status)] += 1

    threads = [threading.Thread(target=send, args=("good", 40)) for _ in range(4)]
    threads += [threading.Thread(target=send, args=("bad", 80)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == {("good", 200): 160, ("bad", 400): 160}, answers
    assert db.query("SELECT count(*) FROM events WHERE site_id = %s", (site_id,))[0][0] == 160


def test_opt_out_with_a_nul_anonymous_id_is_a_400(collector):
    service, write_key, _, _ = collector
    response = post(service, write_key, "/api/track/opt-out", '{"anonymousId":"a\\u0000"}')
    assert response.status_code == 400, response.text
