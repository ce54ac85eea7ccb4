import Foundation
import HTTPTypes
import PostgresNIO
@testable import ProfileAPIApp
import Synchronization
import Testing

@Suite("Webhook subscription management")
struct WebhookManagementTests {
    @Test func a_paused_subscription_holds_its_deliveries_and_sends_them_in_order_when_resumed_with_a_rotated_secret() async throws {
        let receiver = WebhookTests.Receiver(failures: 0)
        let rotatedSecret = Mutex("")
        try await receiver.run { port in
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let hooks = try await APIHarness(db: db).key([.webhooks])
                try await ExportTests.runAPI(db, WebhookTests.fast) { client in
                    let id = try await WebhookTests.subscribe(client, key: hooks, port: port, extra: ["event_kinds": ["created"]])
                    let paused = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: ["active": false])
                    #expect(paused.status == .ok)
                    #expect(paused.json["active"] as? Bool == false)
                    #expect(paused.json["secret"] == nil)
                    let profile = UUID()
                    for kind in ["created", "updated"] {
                        try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, \(profile), \(kind) FROM sites",
                                                  logger: TestDatabase.logger)
                    }
                    // Held: enqueued (only the kinds subscribed to at the time), not sent.
                    try await Task.sleep(for: .milliseconds(700))
                    #expect(try await db.scalar("SELECT count(*)::int FROM webhook_deliveries WHERE status = 'pending'", as: Int.self) == 1)
                    #expect(await receiver.received.all.isEmpty)
                    let edited = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: [
                        "event_kinds": ["created", "updated"], "name": NSNull(), "rotate_secret": true,
                    ])
                    #expect(edited.status == .ok)
                    let rotated = try #require(edited.json["secret"] as? String)
                    rotatedSecret.withLock { $0 = rotated }
                    #expect(rotated.hasPrefix("whsec_") && rotated != WebhookTests.secret)
                    #expect(edited.json["event_kinds"] as? [String] == ["created", "updated"])
                    #expect(edited.json["name"] is NSNull)
                    #expect(edited.json["active"] as? Bool == false)
                    #expect(try await client.call(.get, "/v1/webhooks/\(id)", token: hooks).json["secret"] == nil)
                    try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, \(profile), 'created' FROM sites",
                                              logger: TestDatabase.logger)
                    let resumed = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: ["active": true, "filter": [:]])
                    #expect(resumed.status == .ok)
                    #expect(resumed.json["active"] as? Bool == true)
                    try await WebhookTests.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'delivered'", equals: 2)
                }
                let actions = try await db.client.query("SELECT action FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY id", logger: TestDatabase.logger)
                var got: [String] = []
                for try await action in actions.decode(String.self) { got.append(action) }
                #expect(got == ["webhook.create", "webhook.pause", "webhook.update", "webhook.resume"])
                let details = try await db.scalar("SELECT details::text FROM audit_log WHERE action = 'webhook.update'", as: String.self) ?? ""
                #expect(details.contains("secret") && !details.contains(rotatedSecret.withLock { $0 }))
            }
            // Both held deliveries, in order of the changes, signed with the secret in force when sent.
            let requests = await receiver.received.all
            #expect(requests.count == 2)
            for request in requests {
                let signature = try #require(request.headers[HTTPField.Name(WebhookSignature.header)!])
                #expect(WebhookSignature.verify(header: signature, body: request.body, secret: rotatedSecret.withLock { $0 }))
            }
        }
    }

    @Test func patch_refuses_bad_input_unknown_subscriptions_and_missing_scope() async throws {
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            let hooks = try await api.key([.webhooks])
            try await ExportTests.runAPI(db, ["WEBHOOK_WORKER": "false"]) { client in
                let created = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": "https://crm.example/hook", "name": "crm"])
                let id = try #require(created.json["id"] as? Int)
                #expect(try await client.call(.patch, "/v1/webhooks/\(id)", token: nil, json: ["active": false]).status == .unauthorized)
                #expect(try await client.call(.patch, "/v1/webhooks/\(id)", token: reader, json: ["active": false]).status == .forbidden)
                #expect(try await client.call(.patch, "/v1/webhooks/999", token: hooks, json: ["active": false]).status == .notFound)
                #expect(try await client.call(.patch, "/v1/webhooks/abc", token: hooks, json: ["active": false]).status == .badRequest)
                func field(_ body: [String: Any]) async throws -> String? {
                    let answer = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: body)
                    #expect(answer.status == .unprocessableContent, "\(body)")
                    return answer.json["field"] as? String
                }
                #expect(try await field([:]) == nil)
                #expect(try await field(["url": "ftp://x.test/"]) == "url")
                #expect(try await field(["url": NSNull()]) == "url")
                #expect(try await field(["active": "no"]) == "active")
                #expect(try await field(["event_kinds": ["deleted"]]) == "event_kinds[0]")
                #expect(try await field(["filter": ["stage": "mql"]]) == "filter.stage")
                #expect(try await field(["secret": "short"]) == "secret")
                #expect(try await field(["secret": "0123456789abcdef0", "rotate_secret": true]) == "rotate_secret")
                #expect(try await field(["site": "nope"]) == "site")
                #expect(try await field(["colour": "red"]) == "colour")
                // A webhooks key that may not read profiles cannot probe for a person with a field filter (#23 item 7).
                let probe = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: ["filter": ["fields": ["email": "ann@acme.com"]]])
                #expect(probe.status == .forbidden && probe.json["field"] as? String == "filter.fields")
                let probeNew = try await client.call(.post, "/v1/webhooks", token: hooks,
                                                     json: ["url": "https://crm.example/probe", "filter": ["fields": ["email": "ann@acme.com"]]])
                #expect(probeNew.status == .forbidden)
                // Nothing was changed by the refused requests.
                let current = try await client.call(.get, "/v1/webhooks/\(id)", token: hooks).json
                #expect(current["url"] as? String == "https://crm.example/hook" && current["name"] as? String == "crm" && current["active"] as? Bool == true)
                #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action <> 'webhook.create'", as: Int.self) == 0)
                let moved = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: ["url": "https://crm.example/v2/hook", "filter": ["stage": ["mql"]]])
                #expect(moved.status == .ok && moved.json["url"] as? String == "https://crm.example/v2/hook" && moved.json["name"] as? String == "crm")
                #expect((moved.json["filter"] as? [String: Any])?["stage"] as? [String] == ["mql"])
                #expect(try await db.scalar("SELECT details->>'url' FROM audit_log WHERE action = 'webhook.update'", as: String.self) == "https://crm.example/v2/hook")
            }
        }
    }
}
