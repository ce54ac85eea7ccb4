import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@Suite("Collector")
struct CollectorTests {
    @Test func test_event_collection_endpoints() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("acme", writeKey: "wk_acme")
            try await harness.run { client in
                for (type, extra) in [("track", ["event": "Signed Up"]), ("page", ["name": "Home"]), ("screen", ["name": "Main"]),
                                      ("identify", ["traits": ["email": "ann@acme.com"]]), ("alias", ["previousId": "anon-1", "userId": "user-1"]),
                                      ("group", ["groupId": "g1"])] as [(String, [String: Any])] {
                    var body: [String: Any] = ["anonymousId": "anon-1", "messageId": "m-\(type)"]
                    body.merge(extra) { _, new in new }
                    let answer = try await client.post("/v1/\(type)", key: "wk_acme", json: body)
                    #expect(answer.status == .ok, "\(type): \(answer.json)")
                    #expect(answer.json["stored"] as? Int == 1)
                }
                let batch = try await client.post("/v1/batch", key: "wk_acme", json: ["batch": [
                    ["type": "track", "event": "A", "anonymousId": "anon-2", "messageId": "b1"],
                    ["type": "page", "anonymousId": "anon-2", "messageId": "b2"],
                ]])
                #expect(batch.json["stored"] as? Int == 2)
                let page = try await client.post("/api/track/page-view", key: "wk_acme", json: [
                    "events": [["anonymousId": "anon-3", "url": "https://acme.com/pricing?utm_source=ads", "title": "Pricing", "messageId": "p1"],
                               ["anonymousId": "anon-3", "url": "https://acme.com/docs", "messageId": "p2"]]])
                #expect(page.json["stored"] as? Int == 2)
                let interaction = try await client.post("/api/track/interaction", key: "wk_acme", json: [
                    "events": [["anonymousId": "anon-3", "kind": "scroll", "depth": 75, "messageId": "i1"],
                               ["anonymousId": "anon-3", "kind": "dwell", "dwellMs": 12000, "messageId": "i2"],
                               ["anonymousId": "anon-3", "kind": "click", "target": "#buy", "messageId": "i3"]]])
                #expect(interaction.json["stored"] as? Int == 3)
                let chat = try await client.post("/api/track/chat", key: "wk_acme", json: [
                    "conversationId": "conv-1", "anonymousId": "anon-3",
                    "messages": [["role": "user", "text": "How much is the CRM?", "timestamp": "2026-01-01T10:00:00Z"],
                                 ["role": "assistant", "text": "Plans start at $49."]]])
                #expect(chat.json["stored"] as? Int == 2)
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events") == 15)
            #expect(try await harness.count("SELECT count(*)::int FROM event_queue") == 15)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE type = 'page' AND properties->>'path' = '/pricing' AND name = 'Pricing'") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE type = 'interaction' AND event = 'scroll' AND (properties->>'depth')::int = 75") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE type = 'chat' AND properties->>'conversation_id' = 'conv-1' AND properties->>'role' = 'user'") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE type = 'alias' AND previous_id = 'anon-1' AND user_id = 'user-1'") == 1)
            // Every stored event has exactly one queue row pointing at it.
            #expect(try await harness.count("SELECT count(*)::int FROM events e JOIN event_queue q ON q.event_id = e.id AND q.event_received_at = e.received_at") == 15)
        }
    }

    @Test func a_repeated_message_id_is_accepted_but_stored_once() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("acme", writeKey: "wk")
            try await harness.run { client in
                let event: [String: Any] = ["type": "track", "event": "Clicked", "anonymousId": "a", "messageId": "dup-1"]
                let first = try await client.post("/v1/track", key: "wk", json: event)
                let again = try await client.post("/v1/track", key: "wk", json: event)
                let inBatch = try await client.post("/v1/batch", key: "wk", json: ["batch": [event, event, ["type": "track", "event": "X", "anonymousId": "a", "messageId": "dup-2"]]])
                #expect(first.status == .ok && again.status == .ok && inBatch.status == .ok)
                #expect(again.json["duplicates"] as? Int == 1)
                #expect(inBatch.json["duplicates"] as? Int == 2)
                #expect(inBatch.json["stored"] as? Int == 1)
                // Concurrent copies of one message from many requests.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<20 {
                        group.addTask { _ = try await client.post("/v1/track", key: "wk", json: ["event": "Race", "anonymousId": "b", "messageId": "race-1"]) }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE message_id = 'dup-1'") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM events WHERE message_id = 'race-1'") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM event_queue") == 3)
        }
    }

    @Test func bad_input_gets_the_right_status_and_names_the_problem() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("acme", writeKey: "wk", origins: ["https://acme.com"])
            try await harness.run { client in
                func expect(_ answer: Posted, _ status: HTTPResponse.Status, _ code: String, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
                    #expect(answer.status == status, "\(answer.json)", sourceLocation: sourceLocation)
                    #expect((answer.json["type"] as? String)?.hasSuffix(":" + code) == true, "\(answer.json)", sourceLocation: sourceLocation)
                    if let field { #expect(answer.json["field"] as? String == field, sourceLocation: sourceLocation) }
                    #expect(answer.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
                }
                expect(try await client.post("/v1/track", key: "wk", body: #"{"event": "Trunc"#), .badRequest, "invalid_json")
                expect(try await client.post("/v1/track", key: "wk", body: "[1,2]"), .badRequest, "invalid_json")
                expect(try await client.post("/v1/track", key: "wk", body: ""), .badRequest, "empty_body")
                expect(try await client.post("/v1/track", key: "wk", json: ["event": "No id"]), .badRequest, "missing_field", field: "anonymousId")
                expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a"]), .badRequest, "missing_field", field: "event")
                expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": 42]), .badRequest, "wrong_type", field: "event")
                expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "E", "properties": [1, 2]]), .badRequest, "wrong_type", field: "properties")
                expect(try await client.post("/v1/alias", key: "wk", json: ["userId": "u"]), .badRequest, "missing_field", field: "previousId")
                expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "E", "timestamp": "yesterday"]), .unprocessableContent, "invalid_value", field: "timestamp")
                expect(try await client.post("/v1/batch", key: "wk", json: ["batch": [["type": "teleport", "anonymousId": "a"]]]), .unprocessableContent, "invalid_value", field: "type")
                expect(try await client.post("/v1/batch", key: "wk", json: ["events": []]), .badRequest, "missing_field", field: "batch")
                expect(try await client.post("/v1/batch", key: "wk", json: ["batch": []]), .badRequest, "missing_field", field: "batch")
                expect(try await client.post("/v1/track", body: #"{"event":"E","anonymousId":"a"}"#), .unauthorized, "missing_write_key")
                expect(try await client.post("/v1/track", key: "nope", body: #"{"event":"E","anonymousId":"a"}"#), .unauthorized, "unknown_write_key")
                expect(try await client.post("/v1/track", key: "wk", body: #"{"event":"E","anonymousId":"a"}"#, headers: [.init("Origin")!: "https://evil.example"]),
                       .forbidden, "origin_not_allowed", field: "Origin")
                expect(try await client.post("/v1/track", key: "wk", body: "event=E", contentType: "application/x-www-form-urlencoded"), .unsupportedMediaType, "unsupported_media_type")
                let huge = String(repeating: "x", count: 40_000)
                expect(try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "E", "properties": ["blob": huge]]), .contentTooLarge, "payload_too_large")
                let hugeBatch = (0..<20).map { _ in ["type": "track", "event": "E", "anonymousId": "a", "properties": ["blob": String(repeating: "y", count: 30_000)]] }
                expect(try await client.post("/v1/batch", key: "wk", json: ["batch": hugeBatch]), .contentTooLarge, "payload_too_large")
                let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
                expect(try await client.post("/v1/track", key: "wk", body: #"{"anonymousId":"a","event":"E","properties":{"x":"# + deep + "}}"), .badRequest, "too_deep")
                let invalidUTF8 = Array(#"{"anonymousId":"a","event":""#.utf8) + [0xff, 0xfe, 0xc3] + Array(#""}"#.utf8)
                expect(try await client.post("/v1/track", key: "wk", bytes: invalidUTF8), .badRequest, "invalid_json")
                let tenThousand = "{\"batch\":[" + Array(repeating: "{}", count: 10_000).joined(separator: ",") + "]}"
                expect(try await client.post("/v1/batch", key: "wk", body: tenThousand), .contentTooLarge, "too_many_events", field: "batch")
                expect(try await client.post("/api/track/chat", key: "wk", json: ["conversationId": "c", "anonymousId": "a", "messages": [["role": "robot", "text": "hi"]]]),
                       .unprocessableContent, "invalid_value", field: "messages[0].role")
                expect(try await client.post("/api/track/page-view", key: "wk", json: ["anonymousId": "a", "url": "javascript:alert(1)"]), .unprocessableContent, "invalid_value", field: "url")
                expect(try await client.post("/api/track/interaction", key: "wk", json: ["anonymousId": "a", "kind": "scroll", "depth": 250]), .unprocessableContent, "invalid_value", field: "depth")
                // The service is still up and writing.
                let fine = try await client.post("/v1/track", key: "wk", json: ["anonymousId": "a", "event": "Still fine"])
                #expect(fine.status == .ok)
            }
            // Nothing from the refused requests was half-written.
            #expect(try await harness.count("SELECT count(*)::int FROM events") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM event_queue") == 1)
        }
    }

    /// PostgreSQL sends a statement's rows and CommandComplete before it commits the statement's
    /// implicit transaction (at Sync), and postgres-nio finishes the query on CommandComplete: a
    /// commit that then fails (or a server killed at that moment) must not have been acknowledged.
    /// A deferred constraint trigger makes the commit itself fail here.
    @Test func nothing_is_acknowledged_before_its_commit_succeeds() async throws {
        try await TestDatabase.with { db in
            let harness = CollectorHarness(db: db)
            try await harness.site("acme", writeKey: "wk")
            for statement: PostgresQuery in [
                """
                CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF to_jsonb(NEW)->>'message_id' LIKE 'refused-%' OR to_jsonb(NEW)->>'anonymous_id' LIKE 'refused-%' THEN
                        RAISE EXCEPTION 'refused at commit';
                    END IF;
                    RETURN NULL;
                END $$
                """,
                "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON event_dedupe DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
                "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON opt_outs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
            ] {
                try await db.client.query(statement, logger: TestDatabase.logger)
            }
            try await harness.run { client in
                let refused = try await client.post("/v1/batch", key: "wk", json: ["batch": [
                    ["type": "track", "event": "Fine", "anonymousId": "a", "messageId": "fine-in-the-same-batch"],
                    ["type": "track", "event": "Doomed", "anonymousId": "a", "messageId": "refused-1"],
                ]])
                #expect(refused.status.code >= 500, "a failed commit was answered \(refused.status): \(refused.json)")
                let optOut = try await client.post("/api/track/opt-out", key: "wk", json: ["anonymousId": "refused-visitor"])
                #expect(optOut.status.code >= 500, "a failed opt-out commit was answered \(optOut.status): \(optOut.json)")
                // The service stays up and its connections still work.
                let next = try await client.post("/v1/track", key: "wk", json: ["event": "After", "anonymousId": "a", "messageId": "after-1"])
                #expect(next.status == .ok && next.json["stored"] as? Int == 1, "\(next.json)")
            }
            #expect(try await harness.count("SELECT count(*)::int FROM events") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM event_dedupe") == 1)
            #expect(try await harness.count("SELECT count(*)::int FROM opt_outs") == 0)
        }
    }
}
