import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutboundHTTP
import PostgresNIO
@testable import ProfileAPIApp
import ServiceKit
import Synchronization
import Testing

@Suite("Outbound destinations (SSRF)")
struct OutboundPolicyTests {
    static let hostile = [
        "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.0.0.1/", "http://2130706433/", "http://0x7f.1/",
        "http://localhost:8081/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://[fd00::1]/", "http://[fe80::1]/",
        "http://100.64.0.1/", "http://172.16.0.1/", "http://192.168.1.1/", "http://224.0.0.1/", "http://[64:ff9b::a9fe:a9fe]/",
    ]

    @Test func private_loopback_link_local_and_special_addresses_are_forbidden_and_public_ones_are_not() {
        let forbidden = ["127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.127.0.1", "0.0.0.0", "224.0.0.251",
                         "255.255.255.255", "::1", "::", "fc00::1", "fdff::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "::127.0.0.1",
                         "64:ff9b::7f00:1", "2002:a00:1::", "64:ff9b:1::a00:1", "64:ff9b:1:ffff::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]
        for text in forbidden {
            #expect(OutboundPolicy.forbiddenRange(of: IPNetwork.parse(text)!) != nil, "\(text)")
        }
        for text in ["93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::",
                     "64:ff9b:2::1", "2001:4860:4860::8888", "2001:1::1"] {
            #expect(OutboundPolicy.forbiddenRange(of: IPNetwork.parse(text)!) == nil, "\(text)")
        }
    }

    @Test func the_allow_list_lets_named_hosts_and_networks_through() async throws {
        let policy = try OutboundPolicy(environment: EnvironmentReader(["OUTBOUND_ALLOWED_HOSTS": "localhost, 10.0.0.0/8,[::1]"]))
        #expect(await policy.check("http://localhost:9/hook") == nil)
        #expect(await policy.check("http://10.9.8.7/hook") == nil)
        #expect(await policy.check("http://[::1]:9/hook") == nil)
        #expect(await policy.check("http://127.0.0.1/hook")?.reason == .forbiddenAddress)
        #expect(await policy.check("http://192.168.0.1/hook")?.reason == .forbiddenAddress)
        #expect(await policy.check("file:///etc/passwd")?.reason == .notHTTP)
        #expect(await OutboundPolicy(allowPrivateNetworks: true).check("http://169.254.169.254/") == nil)
        #expect(await OutboundPolicy(allowPrivateNetworks: true).check("gopher://127.0.0.1:25/")?.reason == .notHTTP)
        #expect(throws: ConfigError.self) { try OutboundPolicy(environment: EnvironmentReader(["OUTBOUND_ALLOWED_HOSTS": "10.0.0.0/99"])) }
    }

    @Test func webhook_and_export_destinations_on_private_addresses_are_refused_with_422() async throws {
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let hooks = try await api.key([.webhooks])
            let exporter = try await api.key([.profilesExport])
            try await ExportTests.runAPI(db, ["OUTBOUND_ALLOWED_HOSTS": "", "WEBHOOK_WORKER": "false", "EXPORT_SCHEDULER": "false"]) { client in
                for url in Self.hostile {
                    let answer = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": url])
                    #expect(answer.status == .unprocessableContent, "\(url)")
                    #expect(answer.json["field"] as? String == "url")
                    #expect(answer.json["code"] as? String == "forbidden_destination", "\(url): \(String(decoding: answer.body, as: UTF8.self))")
                    // The answer says no, not where the host points (#23 item 7).
                    let text = String(decoding: answer.body, as: UTF8.self)
                    for revealing in ["169.254.169.254", "127.0.0.1", "loopback", "link-local", "private"] where !url.contains(revealing) {
                        #expect(!text.contains(revealing), "\(url): \(text)")
                    }
                }
                for url in ["file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://10.0.0.1/"] {
                    let answer = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": url])
                    #expect(answer.status == .unprocessableContent && answer.json["field"] as? String == "url", "\(url)")
                }
                // A public address is fine, and cannot be moved to a private one.
                let created = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": "http://93.184.215.14/hook"])
                #expect(created.status == .created)
                let id = try #require(created.json["id"] as? Int)
                let moved = try await client.call(.patch, "/v1/webhooks/\(id)", token: hooks, json: ["url": "http://169.254.169.254/latest/meta-data/"])
                #expect(moved.status == .unprocessableContent && moved.json["field"] as? String == "url")
                let job = try await client.call(.post, "/v1/exports/jobs", token: exporter, json: ["format": "csv", "destination": "http://169.254.169.254/upload"])
                #expect(job.status == .unprocessableContent && job.json["field"] as? String == "destination")
                #expect(try await db.scalar("SELECT count(*)::int FROM webhook_subscriptions", as: Int.self) == 1)
                #expect(try await db.scalar("SELECT count(*)::int FROM export_jobs", as: Int.self) == 0)
            }
        }
    }

    @Test func deliveries_are_checked_again_when_sent_and_redirects_are_not_followed() async throws {
        let redirectedTo = Mutex(0)
        let router = Router()
        router.post("/moved") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/target"])
        }
        router.post("/target") { _, _ -> HTTPResponse.Status in
            redirectedTo.withLock { $0 += 1 }
            return .noContent
        }
        try await Application(router: router).test(.live) { receiver in
            let port = try #require(receiver.port)
            try await TestDatabase.with { db in
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_hooks')", logger: TestDatabase.logger)
                let hooks = try await APIHarness(db: db).key([.webhooks])
                let settings = WebhookTests.fast.merging(["WEBHOOK_MAX_ATTEMPTS": "1"]) { $1 }
                // Subscriptions made while 127.0.0.1 was allowed (or while the name resolved elsewhere)…
                try await ExportTests.runAPI(db, ["WEBHOOK_WORKER": "false"]) { client in
                    _ = try await WebhookTests.subscribe(client, key: hooks, port: port, extra: ["event_kinds": ["created"]])
                    let second = try await client.call(.post, "/v1/webhooks", token: hooks, json: ["url": "http://127.0.0.1:\(port)/moved", "event_kinds": ["updated"]])
                    #expect(second.status == .created)
                }
                // …are not sent to a forbidden address once it is no longer allowed.
                try await ExportTests.runAPI(db, settings.merging(["OUTBOUND_ALLOWED_HOSTS": ""]) { $1 }) { _ in
                    try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, gen_random_uuid(), 'created' FROM sites",
                                              logger: TestDatabase.logger)
                    try await WebhookTests.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'dead'", equals: 1)
                    let loopback = try await db.scalar("SELECT count(*)::int FROM webhook_deliveries WHERE last_error LIKE '%does not resolve to public addresses%' AND last_error NOT LIKE '%loopback%' AND last_status_code IS NULL",
                                                   as: Int.self)
                    #expect(loopback == 1)
                }
                // A receiver that redirects gets no second request at the redirect target.
                try await ExportTests.runAPI(db, settings) { _ in
                    try await db.client.query("INSERT INTO profile_changes (site_id, profile_id, kind) SELECT id, gen_random_uuid(), 'updated' FROM sites",
                                              logger: TestDatabase.logger)
                    try await WebhookTests.waitFor(db, "SELECT count(*)::int FROM webhook_deliveries WHERE status = 'dead' AND last_status_code = 302", equals: 1)
                }
                #expect(redirectedTo.withLock { $0 } == 0)
            }
        }
    }

    @Test func an_export_push_is_checked_again_when_the_file_is_sent() async throws {
        try await TestDatabase.with { db in
            try await ExportTests.bulkProfiles(db, count: 5)
            let key = try await APIHarness(db: db).key([.profilesExport])
            // Accepted while loopback was allowed (nothing listens on port 9: it must never be tried)…
            try await ExportTests.runAPI(db, ["EXPORT_SCHEDULER": "false"]) { client in
                let created = try await client.call(.post, "/v1/exports/jobs", token: key, json: ["format": "csv", "destination": "http://127.0.0.1:9/upload"])
                #expect(created.status == .created)
            }
            let id = try #require(try await db.scalar("SELECT id::int FROM export_jobs", as: Int.self))
            // …and refused by the runner once it no longer is.
            try await ExportTests.runAPI(db, ["OUTBOUND_ALLOWED_HOSTS": "", "EXPORT_POLL_SECONDS": "0.1",
                                              "EXPORT_DIRECTORY": ExportTests.privateDirectory()]) { client in
                let job = try await ExportTests.waitForJob(client, id: id, key: key) { $0["status"] as? String == "failed" }
                #expect((job["error"] as? String)?.contains("does not resolve to public addresses") == true, "\(job)")
            }
        }
    }
}
