import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
@testable import ProfileAPIApp
import Synchronization
import Testing

@Suite("Webhooks")
struct WebhookTests {
    static let secret = "whsec_test_0123456789abcdef"
    static let fast = ["WEBHOOK_POLL_SECONDS": "0.05", "WEBHOOK_BACKOFF_BASE_SECONDS": "0.1", "WEBHOOK_MAX_BACKOFF_SECONDS": "0.3"]

    /// A receiver that answers `failures` requests with 500, then 200, and records every request.
    final class Receiver: Sendable {
        let received = ReceivedRequests()
        let failuresLeft: Mutex<Int>

        init(failures: Int) { failuresLeft = Mutex(failures) }

        func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
            let router = Router()
            router.post("/hook") { request, _ -> HTTPResponse.Status in
                let bytes = try await request.body.collect(upTo: 1_000_000)
                await self.received.append(headers: request.headers, body: Data(buffer: bytes))
                let fail = self.failuresLeft.withLock { left -> Bool in
                    guard left > 0 else { return false }
                    left -= 1
                    return true
                }
                return fail ? .internalServerError : .noContent
            }
            try await Application(router: router).test(.live) { client in try await body(try #require(client.port)) }
        }
    }

    static func subscribe(_ client: any TestClientProtocol, key: String, port: Int, extra: [String: Any] = [:]) async throws -> Int {
        let created = try await client.call(.post, "/v1/webhooks", token: key, json: [
            "url": "http://127.0.0.1:\(port)/hook", "secret": secret, "name": "crm sync",
        ].merging(extra) { $1 })
        #expect(created.status == .created)
        #expect(created.json["secret"] as? String == secret)
        return try #require(created.json["id"] as? Int)
    }

    static func waitFor(_ db: TestDatabase, _ sql: PostgresQuery, equals expected: Int, seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var value: Int?
        while Date() < deadline {
            value = try await db.scalar(sql, as: Int.self)
            if value == expected { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("waited for \(sql.sql) to be \(expected); it is \(value.map(String.init) ?? "nil")")
    }

    @Test func test_webhook_signature_verification() {
        let body = Data(#"{"id":1,"type":"profile.created"}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let header = WebhookSignature.sign(body: body, secret: Self.secret, timestamp: 1_800_000_000)
        #expect(header.hasPrefix("t=1800000000,v1="))
        #expect(header.count == "t=1800000000,v1=".count + 64)
        #expect(WebhookSignature.verify(header: header, body: body, secret: Self.secret, now: now))
        #expect(!WebhookSignature.verify(header: header, body: Data(#"{"id":2,"type":"profile.created"}"#.utf8), secret: Self.secret, now: now))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "another secret value", now: now))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: Self.secret, now: now.addingTimeInterval(301)))
        #expect(!WebhookSignature.verify(header: "v1=abc", body: body, secret: Self.secret, now: now))
        // The documented scheme, computed independently: HMAC-SHA256 over "<t>.<body>".
        let expected = "t=1800000000,v1=" + WebhookSignature.hmac(body: body, secret: Self.secret, timestamp: 1_800_000_000)
        #expect(header == expected)
    }

    @Test func test_webhook_integration_retries_against_a_receiver_that_fails_then_succeeds() async throws {
        let receiver = Receiver(failures: 2)
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let api = APIHarness(db: db)
                let hooks = try await api.key([.webhooks])
                let writer = try await api.key([.profilesWrite, .profilesRead])
                try await api.withEngineCommandWorkers { try await ExportTests.runAPI(db, Self.fast) { client in
                    let subscription = try await Self.subscribe(client, key: hooks, port: port, extra: ["event_kinds": ["created"], "site": "acme"])
                    let created = try await client.call(.post, "/v1/profiles", token: writer, json: ["site": "acme", "fields": ["name": "Eve"]])
                    #expect(created.status == .created)
                    try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: 1)
                    let log = try await client.call(.get, "/v1/webhooks/\(subscription)/deliveries", token: hooks)
                    let delivery = try #require((log.json["data"] as? [[String: Any]])?.first)
                    #expect(delivery["attempts"] as? Int == 3)
                    #expect(delivery["last_status_code"] as? Int == 204)
                    #expect(delivery["event_kind"] as? String == "created")
                    #expect(delivery["profile_id"] as? String == created.json["id"] as? String)
                } }
            }
            let requests = await receiver.received.all
            #expect(requests.count == 3)
            #expect(requests.map { $0.headers[HTTPField.Name("X-Profile-Builder-Attempt")!] } == ["1", "2", "3"])
            for request in requests {
                let signature = try #require(request.headers[HTTPField.Name(WebhookSignature.header)!])
                #expect(WebhookSignature.verify(header: signature, body: request.body, secret: Self.secret))
                let payload = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
                #expect(payload["type"] as? String == "profile.created")
                #expect(payload["site"] as? String == "acme")
            }
            #expect(Set(requests.map(\.body)).count == 1)
        }
    }

    /// Waits for the API's listener connection (a backend whose last statement is its LISTEN)
    /// other than `previous`, and returns its pid.
    static func listenerPID(_ db: TestDatabase, other previous: Int32? = nil) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let pid = try await db.scalar(
                """
                SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%webhook_deliveries%'
                  AND pid IS DISTINCT FROM \(previous) ORDER BY backend_start DESC LIMIT 1
                """, as: Int32.self)
            if let pid { return pid }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("the webhook worker never LISTENed")
    }

    @Test func a_notify_wakes_the_worker_long_before_its_poll_interval_even_after_a_lost_connection() async throws {
        let receiver = Receiver(failures: 0)
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let hooks = try await APIHarness(db: db).key([.webhooks])
                try await ExportTests.runAPI(db, ["WEBHOOK_POLL_SECONDS": "60"]) { client in
                    _ = try await Self.subscribe(client, key: hooks, port: port)
                    var listener = try await Self.listenerPID(db)
                    for round in 1...2 {
                        // Let the wake-up rung on connecting be spent, so only the NOTIFY can wake the worker.
                        try await Task.sleep(for: .milliseconds(500))
                        let started = ContinuousClock.now
                        try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, gen_random_uuid(), 'created' FROM sites",
                                                  logger: TestDatabase.logger)
                        try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: round, seconds: 10)
                        #expect(ContinuousClock.now - started < .seconds(10))
                        // Kill the listener's connection: it must reconnect and LISTEN again.
                        try await db.client.query("SELECT pg_terminate_backend(\(listener))", logger: TestDatabase.logger)
                        listener = try await Self.listenerPID(db, other: listener)
                    }
                }
            }
            #expect(await receiver.received.all.count == 2)
        }
    }

    @Test func failing_deliveries_go_dead_and_can_be_redelivered() async throws {
        let receiver = Receiver(failures: 2)
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let hooks = try await APIHarness(db: db).key([.webhooks])
                try await ExportTests.runAPI(db, Self.fast.merging(["WEBHOOK_MAX_ATTEMPTS": "2"]) { $1 }) { client in
                    let subscription = try await Self.subscribe(client, key: hooks, port: port)
                    try await db.client.query(
                        "INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, gen_random_uuid(), 'created' FROM sites",
                        logger: TestDatabase.logger)
                    try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'dead'", equals: 1)
                    let dead = try await client.call(.get, "/v1/webhooks/\(subscription)/deliveries?status=dead", token: hooks)
                    let delivery = try #require((dead.json["data"] as? [[String: Any]])?.first)
                    #expect(delivery["last_status_code"] as? Int == 500)
                    let id = try #require(delivery["id"] as? Int)
                    let redelivered = try await client.call(.post, "/v1/webhooks/\(subscription)/deliveries/\(id)/redeliver", token: hooks)
                    #expect(redelivered.status == .accepted)
                    try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: 1)
                    // Already delivered, then unknown.
                    #expect(try await client.call(.post, "/v1/webhooks/\(subscription)/deliveries/\(id)/redeliver", token: hooks).status == .accepted)
                    #expect(try await client.call(.post, "/v1/webhooks/\(subscription)/deliveries/999999/redeliver", token: hooks).status == .notFound)
                }
                #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'webhook.redeliver'", as: Int.self) == 2)
            }
        }
    }

    @Test func test_webhook_outbox_atomicity_a_rolled_back_change_sends_nothing() async throws {
        let receiver = Receiver(failures: 0)
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let api = APIHarness(db: db)
                let hooks = try await api.key([.webhooks])
                let writer = try await api.key([.profilesWrite])
                try await api.withEngineCommandWorkers { try await ExportTests.runAPI(db, Self.fast) { client in
                    _ = try await Self.subscribe(client, key: hooks, port: port)
                    // A change whose transaction rolls back leaves no delivery behind.
                    do {
                        try await db.client.withTransaction(logger: TestDatabase.logger) { tx in
                            try await tx.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, gen_random_uuid(), 'updated' FROM sites",
                                               logger: TestDatabase.logger)
                            #expect(try await tx.query("SELECT 1 FROM webhook_deliveries", logger: TestDatabase.logger).collect().count == 1)
                            throw CancellationError()
                        }
                    } catch is PostgresTransactionError {}
                    // A committed change (through the API) is delivered: exactly one delivery in all.
                    let first = try await client.call(.post, "/v1/profiles", token: writer, json: ["site": "acme", "identities": [["kind": "user_id", "value": "u1"]]])
                    #expect(first.status == .created)
                    try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: 1)
                    try await Task.sleep(for: .milliseconds(300))
                } }
                #expect(try await db.scalar("SELECT count(*)::int FROM webhook_deliveries", as: Int.self) == 1)
            }
            #expect(await receiver.received.all.count == 1)
        }
    }

    @Test func deliveries_keep_per_profile_order_while_an_earlier_one_is_retried() async throws {
        let receiver = Receiver(failures: 1)
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let hooks = try await APIHarness(db: db).key([.webhooks])
                try await ExportTests.runAPI(db, Self.fast) { client in
                    _ = try await Self.subscribe(client, key: hooks, port: port)
                    let profile = UUID()
                    for kind in ["created", "updated", "stage_changed"] {
                        try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, \(profile), \(kind) FROM sites",
                                                  logger: TestDatabase.logger)
                    }
                    try await Self.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: 3)
                }
            }
            let types = await receiver.received.all.map {
                ((try? JSONSerialization.jsonObject(with: $0.body)) as? [String: Any])?["type"] as? String ?? ""
            }
            #expect(types == ["profile.created", "profile.created", "profile.updated", "profile.stage_changed"])
        }
    }

    @Test func subscriptions_filter_by_kind_site_and_profile() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_a'), ('other', 'Other', 'wk_o')", logger: TestDatabase.logger)
            try await db.client.query(
                """
                INSERT INTO visitor_profiles (id, site_id, stage, fields) VALUES
                  ('00000000-0000-0000-0000-000000000001', (SELECT id FROM sites WHERE slug = 'acme'), 'mql', '{"industry": "software"}'),
                  ('00000000-0000-0000-0000-000000000002', (SELECT id FROM sites WHERE slug = 'acme'), 'known', '{"industry": "finance"}')
                """, logger: TestDatabase.logger)
            // A filter on field values needs profiles:read as well (#23 item 7).
            let hooks = try await APIHarness(db: db).key([.webhooks, .profilesRead])
            try await ExportTests.runAPI(db, ["WEBHOOK_WORKER": "false"]) { client in
                let stage = try await client.call(.post, "/v1/webhooks", token: hooks, json: [
                    "url": "http://127.0.0.1:9/hook", "site": "acme", "event_kinds": ["updated", "erased"], "filter": ["stage": ["mql", "sql"], "fields": ["industry": "software"]],
                ])
                #expect(stage.status == .created)
                #expect(try await client.call(.get, "/v1/webhooks/\(stage.json["id"] as? Int ?? 0)", token: hooks).json["secret"] == nil)
                try await db.client.query(
                    """
                    INSERT INTO profile_changes (site_id, profile_id, kind) VALUES
                      ((SELECT id FROM sites WHERE slug = 'acme'), '00000000-0000-0000-0000-000000000001', 'updated'),
                      ((SELECT id FROM sites WHERE slug = 'acme'), '00000000-0000-0000-0000-000000000001', 'merged'),
                      ((SELECT id FROM sites WHERE slug = 'acme'), '00000000-0000-0000-0000-000000000002', 'updated'),
                      ((SELECT id FROM sites WHERE slug = 'other'), '00000000-0000-0000-0000-000000000001', 'updated'),
                      ((SELECT id FROM sites WHERE slug = 'acme'), '00000000-0000-0000-0000-000000000003', 'erased')
                    """, logger: TestDatabase.logger)
                let kinds = try await db.client.query("SELECT event_kind || ':' || profile_id FROM webhook_deliveries ORDER BY id", logger: TestDatabase.logger)
                var got: [String] = []
                for try await text in kinds.decode(String.self) { got.append(text) }
                #expect(got == ["updated:00000000-0000-0000-0000-000000000001", "erased:00000000-0000-0000-0000-000000000003"])
            }
        }
    }

    @Test func webhook_api_refuses_bad_input_and_missing_scope() async throws {
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            let hooks = try await api.key([.webhooks])
            try await ExportTests.runAPI(db, ["WEBHOOK_WORKER": "false"]) { client in
                #expect(try await client.call(.get, "/v1/webhooks", token: nil).status == .unauthorized)
                #expect(try await client.call(.get, "/v1/webhooks", token: reader).status == .forbidden)
                #expect(try await client.call(.post, "/v1/webhooks", token: reader, json: ["url": "http://x.test/"]).status == .forbidden)
                func field(_ body: [String: Any]) async throws -> String? {
                    let answer = try await client.call(.post, "/v1/webhooks", token: hooks, json: body)
                    #expect(answer.status == .unprocessableContent)
                    return answer.json["field"] as? String
                }
                #expect(try await field(["url": "ftp://x.test/"]) == "url")
                #expect(try await field(["url": "http://x.test/", "event_kinds": ["deleted"]]) == "event_kinds[0]")
                #expect(try await field(["url": "http://x.test/", "filter": ["stage": "mql"]]) == "filter.stage")
                #expect(try await field(["url": "http://x.test/", "filter": ["color": ["red"]]]) == "filter.color")
                #expect(try await field(["url": "http://x.test/", "secret": "short"]) == "secret")
                #expect(try await field(["url": "http://x.test/", "site": "nope"]) == "site")
                #expect(try await client.call(.get, "/v1/webhooks/0", token: hooks).status == .badRequest)
                #expect(try await client.call(.get, "/v1/webhooks/77", token: hooks).status == .notFound)
                #expect(try await client.call(.get, "/v1/webhooks/77/deliveries", token: hooks).status == .notFound)
                #expect(try await client.call(.delete, "/v1/webhooks/77", token: hooks).status == .notFound)
                let created = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": "https://crm.example/hook"])
                #expect((created.json["secret"] as? String)?.hasPrefix("whsec_") == true)
                let id = try #require(created.json["id"] as? Int)
                #expect(try await client.call(.get, "/v1/webhooks/\(id)/deliveries?status=lost", token: hooks).status == .badRequest)
                #expect((try await client.call(.get, "/v1/webhooks", token: hooks).json["data"] as? [Any])?.count == 1)
                #expect(try await client.call(.delete, "/v1/webhooks/\(id)", token: hooks).status == .noContent)
            }
        }
    }
}
