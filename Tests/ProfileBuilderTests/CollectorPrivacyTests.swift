import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

@Suite("Collector privacy and abuse prevention")
struct CollectorPrivacyTests {
    static let origin = HTTPField.Name("Origin")!

    @Test func no_raw_ip_is_stored_only_a_truncated_one() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("trunc", writeKey: "wk_t")
            try await harness.site("noip", writeKey: "wk_n", ipStorage: "none")
            // Only the site's servers (its server key) may name the visitor's address in context.ip.
            try await db.client.query("UPDATE sites SET server_key_hash = encode(sha256(('sk_' || slug)::bytea), 'hex')", logger: TestDatabase.logger)
            try await harness.run { client in
                _ = try await client.post("/v1/track", key: "sk_trunc", json: ["anonymousId": "a", "event": "E", "messageId": "v4", "context": ["ip": "203.0.113.77"]])
                _ = try await client.post("/v1/track", key: "sk_trunc", json: ["anonymousId": "a", "event": "E", "messageId": "v6", "context": ["ip": "2001:db8:abcd:12:34::1"]])
                _ = try await client.post("/v1/track", key: "sk_noip", json: ["anonymousId": "a", "event": "E", "messageId": "none", "context": ["ip": "203.0.113.77"]])
            }
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE message_id = 'v4'", as: String.self) == "203.0.113.0")
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE message_id = 'v6'", as: String.self) == "2001:db8:abcd::")
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE message_id = 'none' AND client_ip IS NULL") == 1)
            // The raw address is nowhere in the stored row, context included.
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE events::text LIKE '%203.0.113.77%' OR events::text LIKE '%34::1%'") == 0)
        }
    }

    @Test func x_forwarded_for_is_believed_only_from_a_trusted_proxy() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("p", writeKey: "wk")
            let forwarded: HTTPFields = [.init("X-Forwarded-For")!: "198.51.100.23, 192.0.2.9"]
            try await harness.run(["TRUSTED_PROXIES": "127.0.0.1/32"]) { client in
                _ = try await client.post("/v1/track", key: "wk", body: #"{"anonymousId":"a","event":"E","messageId":"trusted"}"#, headers: forwarded)
            }
            try await harness.run { client in
                _ = try await client.post("/v1/track", key: "wk", body: #"{"anonymousId":"a","event":"E","messageId":"untrusted"}"#, headers: forwarded)
            }
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE message_id = 'trusted'", as: String.self) == "192.0.2.0")
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE message_id = 'untrusted'", as: String.self) == "127.0.0.0")
        }
    }

    @Test func do_not_track_and_gpc_are_honoured_when_the_site_says_so() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("honours", writeKey: "wk_h")
            try await harness.site("ignores", writeKey: "wk_i", honorDNT: false)
            try await harness.run { client in
                let event = #"{"anonymousId":"a","event":"E"}"#
                let dnt = try await client.post("/v1/track", key: "wk_h", body: event, headers: [.init("DNT")!: "1"])
                #expect(dnt.status == .ok)
                #expect((dnt.json["dropped"] as? [String: Int])?["do_not_track"] == 1)
                let gpc = try await client.post("/v1/track", key: "wk_h", body: event, headers: [.init("Sec-GPC")!: "1"])
                #expect((gpc.json["dropped"] as? [String: Int])?["global_privacy_control"] == 1)
                let ignored = try await client.post("/v1/track", key: "wk_i", body: event, headers: [.init("DNT")!: "1"])
                #expect(ignored.json["stored"] as? Int == 1)
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events") == 1)
        }
    }

    @Test func consent_is_required_or_identifiers_are_stripped_as_configured() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("req", writeKey: "wk_r", consent: "require")
            try await harness.site("strip", writeKey: "wk_s", consent: "strip")
            try await harness.run { client in
                let without: [String: Any] = ["anonymousId": "anon-x", "userId": "user-x", "event": "E", "messageId": "no-consent", "traits": ["email": "x@y.com"]]
                var with = without
                with["messageId"] = "consented"
                with["context"] = ["consent": ["analytics": true, "marketing": false]]
                let dropped = try await client.post("/v1/track", key: "wk_r", json: without)
                #expect((dropped.json["dropped"] as? [String: Int])?["no_consent"] == 1)
                #expect(try await client.post("/v1/track", key: "wk_r", json: with).json["stored"] as? Int == 1)
                #expect(try await client.post("/v1/track", key: "wk_s", json: without).json["stored"] as? Int == 1)
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events e JOIN sites s ON s.id = e.site_id WHERE s.slug = 'req'") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE message_id = 'consented' AND consent->>'analytics' = 'true'") == 1)
            #expect(try await harness.count(
                "SELECT count(*)::int FROM events e JOIN sites s ON s.id = e.site_id WHERE s.slug = 'strip' AND anonymous_id IS NULL AND user_id IS NULL AND traits = '{}' AND client_ip IS NULL") == 1)
        }
    }

    @Test func an_opted_out_visitor_stays_out_until_opting_in() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("o", writeKey: "wk")
            try await harness.run { client in
                let optOut = try await client.post("/api/track/opt-out", key: "wk", json: ["anonymousId": "leaver"])
                #expect(optOut.status == .ok)
                let token = try #require(optOut.json["optInToken"] as? String)
                // A second opt-out (anyone's) gets no token and does not replace the first.
                let again = try await client.post("/api/track/opt-out", key: "wk", json: ["anonymousId": "leaver"])
                #expect(again.status == .ok && again.json["optInToken"] == nil)
                let dropped = try await client.post("/v1/track", key: "wk", json: ["anonymousId": "leaver", "event": "E"])
                #expect((dropped.json["dropped"] as? [String: Int])?["opted_out"] == 1)
                #expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "stayer", "event": "E"]).json["stored"] as? Int == 1)
                // Someone who only knows the anonymous id cannot opt the visitor back in (#23 item 14).
                let bare = try await client.post("/api/track/opt-in", key: "wk", json: ["anonymousId": "leaver"])
                #expect(bare.status == .forbidden && bare.json["code"] as? String == "opt_in_not_allowed")
                #expect(try await client.post("/api/track/opt-in", key: "wk", json: ["anonymousId": "leaver", "optInToken": "oi_" + String(repeating: "0", count: 48)]).status == .forbidden)
                let stillOut = try await client.post("/v1/track", key: "wk", json: ["anonymousId": "leaver", "event": "E"])
                #expect((stillOut.json["dropped"] as? [String: Int])?["opted_out"] == 1)
                #expect(try await client.post("/api/track/opt-in", key: "wk", json: ["anonymousId": "leaver", "optInToken": token]).status == .ok)
                #expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "leaver", "event": "Back"]).json["stored"] as? Int == 1)
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE anonymous_id = 'leaver'") == 1)
        }
    }

    @Test func bots_are_flagged_or_dropped_per_site() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("flag", writeKey: "wk_f")
            try await harness.site("drop", writeKey: "wk_d", botPolicy: "drop")
            let googlebot: HTTPFields = [.userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"]
            try await harness.run { client in
                _ = try await client.post("/v1/track", key: "wk_f", body: #"{"anonymousId":"a","event":"E"}"#, headers: googlebot)
                let dropped = try await client.post("/v1/track", key: "wk_d", body: #"{"anonymousId":"a","event":"E"}"#, headers: googlebot)
                #expect((dropped.json["dropped"] as? [String: Int])?["bot"] == 1)
                _ = try await client.post("/v1/track", key: "wk_f", body: #"{"anonymousId":"b","event":"E"}"#,
                                          headers: [.userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36"])
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE is_bot") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE NOT is_bot AND anonymous_id = 'b'") == 1)
        }
    }

    @Test func test_rate_limiting() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("r", writeKey: "wk")
            try await harness.site("r2", writeKey: "wk2")
            try await harness.run(["RATE_LIMIT_IP_BURST": "1000", "RATE_LIMIT_KEY_BURST": "5", "RATE_LIMIT_KEY_PER_SECOND": "0.01"]) { client in
                for index in 0..<5 {
                    #expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "E\(index)"]).status == .ok)
                }
                let limited = try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "Over"])
                #expect(limited.status == .tooManyRequests)
                #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
                // Another site's key has its own bucket.
                #expect(try await client.post("/v1/track", key: "wk2", json: ["anonymousId": "a", "event": "Other"]).status == .ok)
            }
            try await harness.run(["RATE_LIMIT_IP_BURST": "3", "RATE_LIMIT_IP_PER_SECOND": "0.01"]) { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<5 { statuses.append(try await client.post("/v1/track", key: "wk2", json: ["anonymousId": "a", "event": "E"]).status) }
                #expect(statuses == [.ok, .ok, .ok, .tooManyRequests, .tooManyRequests])
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE event = 'Over'") == 0)
        }
    }

    @Test func clock_skew_is_corrected_with_sent_at() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("s", writeKey: "wk")
            try await harness.run { client in
                // The client's clock runs one hour fast: the event happened 10 s before it was sent.
                let clientNow = Date().addingTimeInterval(3600)
                let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
                _ = try await client.post("/v1/batch", key: "wk", json: [
                    "sentAt": clientNow.formatted(style),
                    "batch": [["type": "track", "event": "Skewed", "anonymousId": "a", "timestamp": clientNow.addingTimeInterval(-10).formatted(style)]],
                ])
            }
            let lag = try await db.scalar("SELECT extract(epoch FROM received_at - occurred_at)::float8 FROM events WHERE event = 'Skewed'", as: Double.self)
            #expect(lag != nil && abs(lag! - 10) < 1, "lag \(String(describing: lag))")
        }
    }

    @Test func cors_preflight_and_allowed_origin() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("c", writeKey: "wk", origins: ["https://shop.example"])
            try await harness.run { client in
                try await client.execute(uri: "/v1/batch", method: .options, headers: [Self.origin: "https://shop.example"]) { response in
                    #expect(response.status == .noContent)
                    #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
                    #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
                }
                // sendBeacon posts text/plain with the key in the body.
                let beacon = try await client.post("/v1/batch", body: #"{"writeKey":"wk","batch":[{"type":"page","anonymousId":"a"}]}"#,
                                                   contentType: "text/plain;charset=UTF-8", headers: [Self.origin: "https://shop.example"])
                #expect(beacon.status == .ok)
                #expect(beacon.headers[.accessControlAllowOrigin] == "https://shop.example")
            }
        }
    }

    @Test func postgres_unavailable_gives_503_with_retry_after_and_no_hang() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("d", writeKey: "wk")
            try await harness.run(["WRITE_TIMEOUT_SECONDS": "3"]) { client in
                #expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "Before"]).status == .ok)
                try await TemplateStore.shared.admin(db.url) { admin in
                    try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(db.url.database) WITH (FORCE)"), logger: TestDatabase.logger)
                }
                let answer = try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "During"])
                #expect(answer.status == .serviceUnavailable)
                #expect(answer.headers[.retryAfter] != nil)
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func the_tracker_script_is_served_with_caching_headers() async throws {
        try await TestDatabase.with { db in
            let web = FileManager.default.temporaryDirectory.appendingPathComponent("web-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: web, withIntermediateDirectories: true)
            try "window.profile = window.profile || [];".write(to: web.appendingPathComponent("t.js"), atomically: true, encoding: .utf8)
            try await CollectorHarness(db: db).run(["WEB_DIR": web.path]) { client in
                let etag = try await client.execute(uri: "/t.js", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("application/javascript") == true)
                    #expect(response.headers[.cacheControl] == "public, max-age=3600")
                    #expect(String(buffer: response.body).contains("window.profile"))
                    return response.headers[.eTag] ?? ""
                }
                try await client.execute(uri: "/t.js", method: .get, headers: [.ifNoneMatch: etag]) { #expect($0.status == .notModified) }
                try await client.execute(uri: "/demo/index.html", method: .get) { #expect($0.status == .notFound) }
            }
            // In demo mode the example site is served, its index at /demo/ itself.
            try await CollectorHarness(db: db).run(["WEB_DIR": RepositoryPaths.root.appendingPathComponent("web").path, "DEMO_MODE": "true"]) { client in
                for path in ["/demo/", "/demo", "/demo/pricing.html"] {
                    try await client.execute(uri: path, method: .get) { response in
                        #expect(response.status == .ok, "\(path)")
                        #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                    }
                }
                try await client.execute(uri: "/demo/../../etc/passwd", method: .get) { #expect($0.status == .notFound) }
            }
        }
    }

    /// Each chat message may become model calls: at most 100 per request, and per visitor 120 at
    /// once then 60 a minute (#23 item 15); another visitor of the same site is not held back.
    @Test func chat_messages_are_bounded_per_request_and_per_visitor() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("c", writeKey: "wk")
            @Sendable func body(_ visitor: String, _ count: Int, from: Int = 0) -> String {
                let messages = (from..<from + count).map { #"{"role":"user","text":"message \#($0)","id":"\#(visitor)-\#($0)"}"# }
                return #"{"conversationId":"c-\#(visitor)","anonymousId":"\#(visitor)","messages":[\#(messages.joined(separator: ","))]}"#
            }
            try await harness.run { client in
                let tooMany = try await client.post("/api/track/chat", key: "wk", body: body("a", 101))
                #expect(tooMany.status == .contentTooLarge && tooMany.json["field"] as? String == "messages")
                #expect(try await client.post("/api/track/chat", key: "wk", body: body("a", 80)).status == .ok)
                let limited = try await client.post("/api/track/chat", key: "wk", body: body("a", 80, from: 80))
                #expect(limited.status == .tooManyRequests)
                #expect(limited.headers[.retryAfter] != nil)
                #expect(try await client.post("/api/track/chat", key: "wk", body: body("b", 80)).status == .ok)
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE type = 'chat'") == 160)
        }
    }
}
