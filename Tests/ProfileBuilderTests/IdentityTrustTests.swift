@testable import CollectorApp
@testable import EngineApp
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import ProfileModel
import Testing

/// Verified and claimed identities, and the guardrails (docs/IDENTITY.md), from the attacker's
/// side: what a browser with the public write key can and cannot do to a known customer.
@Suite("Identity trust")
struct IdentityTrustTests {
    static let secret = "s3cret-identity-key-0123456789abcdef"
    static let serverKey = "sk_acme_server_0123456789"
    /// Computed with Python's hmac module (an independent implementation), not with ours:
    /// hmac.new(secret, b"cust-2", sha256).hexdigest() and the same for b"bo@acme.com".
    static let hashOfCust2 = "c69cc63966d730b543c756404adf294c950838634022307a5b9cd243ccc69779"
    static let hashOfBo = "44e3b1bd6686d45080cdbe5f4fc0129da20daa18531f553b6975ab80d63c32b1"
    /// hashlib.sha256(b"sk_acme_server_0123456789").hexdigest()
    static let serverKeyHash = "2621db64d2ff34968d0f7db72ae5cc96b1aae33fa39f039e218bea0aa1a6c2de"
    static let browser: HTTPFields = [HTTPField.Name("Origin")!: "https://acme.com"]

    /// A site that verifies identities, with its write key `wk` and the server key above.
    static func verifyingSite(_ db: TestDatabase, rules: String = "{}") async throws -> CollectorHarness {
        let collector = CollectorHarness(db: db)
        let site = try await collector.site("acme", writeKey: "wk", origins: ["https://acme.com"])
        try await db.client.query(
            """
            UPDATE sites SET identity_secret = \(secret), server_key_hash = \(serverKeyHash), identity_rules = \(rules)::jsonb
            WHERE id = \(site)
            """, logger: TestDatabase.logger)
        return collector
    }

    static func send(_ collector: CollectorHarness, key: String, headers: HTTPFields = [:], _ events: [[String: Any]]) async throws {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["batch": events]), as: UTF8.self)
        try await collector.run(["RATE_LIMIT_IP_BURST": "100000", "RATE_LIMIT_KEY_BURST": "100000"]) { client in
            let answer = try await client.post("/v1/batch", key: key, body: body, headers: headers)
            #expect(answer.status == .ok, "\(answer.json)")
            #expect(answer.json["rejected"] == nil, "\(answer.json)")
        }
    }

    static func conflicts(_ db: TestDatabase, _ rule: IdentityConflictRule) async throws -> Int {
        try await db.scalar("SELECT coalesce(sum(occurrences), 0)::int FROM identity_conflicts WHERE rule = \(rule.rawValue)", as: Int.self) ?? -1
    }

    @Test func a_browser_claiming_a_verified_customers_email_neither_joins_nor_reads_the_profile() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db)
            // The site's server identifies its customer (server key: verified).
            try await Self.send(collector, key: Self.serverKey, [
                Events.identify("cust-laptop", userID: "cust-1", traits: ["email": "ann@acme.com", "name": "Ann Example"], minute: 1),
            ])
            // An attacker's browser claims the customer's email, and then the customer's user id.
            try await Self.send(collector, key: "wk", headers: Self.browser, [
                Events.page("attacker", "https://acme.com/", minute: 2),
                Events.identify("attacker", traits: ["email": "ANN@acme.com"], minute: 3),
                Events.identify("attacker", userID: "cust-1", traits: [:], minute: 4),
            ])
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            let customer = try #require(try await engine.profile("user_id", "cust-1"))
            let attacker = try #require(try await engine.profile("anonymous_id", "attacker"))
            #expect(customer != attacker)
            #expect(try await engine.profile("email", "ann@acme.com") == customer)
            #expect(try await db.scalar("SELECT bool_and(verified) FROM profile_identities WHERE profile_id = \(customer) AND kind <> 'anonymous_id'", as: Bool.self) == true)
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE profile_id = \(attacker)", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT fields->>'name' FROM visitor_profiles WHERE id = \(customer)", as: String.self) == "Ann Example")
            // The attacker's events did not touch the customer's profile.
            #expect(try await db.scalar("SELECT count(*)::int FROM sessions WHERE profile_id = \(customer)", as: Int.self) == 0)
            #expect(try await Self.conflicts(db, .claimedIdentifierOfVerifiedPerson) == 2)
            #expect(try await db.scalar(
                "SELECT count(*)::int FROM identity_conflicts WHERE profile_id = \(attacker) AND other_profile_id = \(customer)", as: Int.self) == 2)

            // What the chat agent talking to the attacker is told: nothing of the customer.
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let lookup = try await client.call(.get, "/v1/profiles/lookup?site=acme&anonymous_id=attacker", token: reader)
                #expect(lookup.status == .ok)
                let id = try #require(lookup.json["id"] as? String)
                #expect(id == attacker.uuidString.lowercased() || id == attacker.uuidString)
                let context = try await client.call(.get, "/v1/profiles/\(id)/context", token: reader)
                #expect(context.status == .ok)
                let summary = try #require(context.json["summary"] as? String)
                #expect(!summary.contains("Ann Example"))
                #expect(!summary.contains("cust-1"))
                let conflicts = try await client.call(.get, "/v1/identity-conflicts?site=acme&rule=claimed_identifier_of_verified_person", token: reader)
                #expect(conflicts.status == .ok)
                let rows = try #require(conflicts.json["data"] as? [[String: Any]])
                #expect(Set(rows.compactMap { $0["value"] as? String }) == ["ann@acme.com", "cust-1"])
                #expect(try await client.call(.get, "/v1/identity-conflicts?rule=nonsense", token: reader).status == .unprocessableContent)
            }
        }
    }

    @Test func a_valid_user_hash_verifies_a_browser_identify_and_a_forged_one_is_claimed_and_counted() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db)
            var good = Events.identify("phone", userID: "cust-2", traits: ["name": "Cy"], minute: 1)
            good["userHash"] = Self.hashOfCust2.uppercased()  // hex is compared case-insensitively
            var email = Events.identify("tablet", traits: ["email": "bo@acme.com"], minute: 1)
            email["userHash"] = Self.hashOfBo
            var forged = Events.identify("evil", userID: "cust-2", traits: [:], minute: 2)
            forged["userHash"] = String(Self.hashOfCust2.reversed())
            let bodies = try [good, email, forged].map { String(decoding: try JSONSerialization.data(withJSONObject: ["batch": [$0]]), as: UTF8.self) }
            try await collector.run(["RATE_LIMIT_IP_BURST": "100000", "RATE_LIMIT_KEY_BURST": "100000"]) { client in
                for body in bodies {
                    #expect(try await client.post("/v1/batch", key: "wk", body: body, headers: Self.browser).status == .ok)
                }
                let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
                #expect(metrics.contains("collector_events_total{outcome=\"identity_hash_refused\"} 1"), "\(metrics.prefix(2000))")
                // A server key in a page would let any visitor vouch for anyone: refused.
                let leaked = try await client.post("/v1/batch", key: Self.serverKey, body: bodies[0], headers: Self.browser)
                #expect(leaked.status == .forbidden)
                #expect(leaked.json["code"] as? String == "server_key_in_browser")
            }
            #expect(try await db.scalar("SELECT array_to_string(verified_identifiers, ',') FROM events WHERE anonymous_id = 'phone'", as: String.self) == "user_id")
            #expect(try await db.scalar("SELECT array_to_string(verified_identifiers, ',') FROM events WHERE anonymous_id = 'tablet'", as: String.self) == "email")
            #expect(try await db.scalar("SELECT array_to_string(verified_identifiers, ',') FROM events WHERE anonymous_id = 'evil'", as: String.self) == "")
            // The proof is a bearer secret of the user: it is not stored anywhere in the event.
            #expect(try await db.scalar("SELECT count(*)::int FROM events WHERE row_to_json(events)::text ILIKE \("%" + Self.hashOfCust2.prefix(16) + "%")", as: Int.self) == 0)
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            let customer = try #require(try await engine.profile("user_id", "cust-2"))
            #expect(try await engine.profile("anonymous_id", "phone") == customer)
            #expect(try await engine.profile("anonymous_id", "evil") != customer)
            #expect(try await db.scalar("SELECT verified FROM profile_identities WHERE kind = 'user_id' AND value = 'cust-2'", as: Bool.self) == true)
            #expect(try await db.scalar("SELECT verified FROM profile_identities WHERE kind = 'email' AND value = 'bo@acme.com'", as: Bool.self) == true)
        }
    }

    @Test func only_the_sites_servers_may_set_the_client_address() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db)
            var fromBrowser = Events.page("b", "https://acme.com/", minute: 1)
            fromBrowser["context"] = ["ip": "203.0.113.77"]
            var fromServer = Events.page("s", "https://acme.com/", minute: 1)
            fromServer["context"] = ["ip": "203.0.113.77"]
            try await Self.send(collector, key: "wk", headers: Self.browser, [fromBrowser])
            try await Self.send(collector, key: Self.serverKey, [fromServer])
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE anonymous_id = 's'", as: String.self) == "203.0.113.0")
            #expect(try await db.scalar("SELECT host(client_ip) FROM events WHERE anonymous_id = 'b'", as: String.self) == "127.0.0.0")
        }
    }

    @Test func every_blocked_value_merges_nothing() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db)
            let userIDs = ["undefined", "null", "0", " Anonymous ", "unknown", "[object Object]"]
            let emails = ["test@test.com", "noreply@acme.com", "No-Reply@acme.com"]
            var events: [[String: Any]] = []
            for (index, value) in userIDs.enumerated() {
                events.append(Events.identify("dev-u\(index)-a", userID: value, traits: [:], minute: 1))
                events.append(Events.identify("dev-u\(index)-b", userID: value, traits: [:], minute: 2))
            }
            for (index, value) in emails.enumerated() {
                events.append(Events.identify("dev-e\(index)-a", traits: ["email": value], minute: 1))
                events.append(Events.identify("dev-e\(index)-b", traits: ["email": value], minute: 2))
            }
            // A hard-coded anonymous id and nothing else: stored, recorded, applied to no one.
            events.append(Events.page("undefined", "https://acme.com/", minute: 3))
            try await Self.send(collector, key: "wk", headers: Self.browser, events)
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            #expect(try await db.scalar("SELECT count(*)::int FROM visitor_profiles WHERE merged_into IS NULL", as: Int.self) == 2 * (userIDs.count + emails.count))
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE kind <> 'anonymous_id'", as: Int.self) == 0)
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE value = 'undefined'", as: Int.self) == 0)
            #expect(try await Self.conflicts(db, .blockedValue) == 2 * (userIDs.count + emails.count) + 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM identity_conflicts WHERE value = 'undefined' AND kind = 'anonymous_id' AND profile_id IS NULL", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM events WHERE anonymous_id = 'undefined'", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM event_queue", as: Int.self) == 0)
        }
    }

    @Test func a_thousand_users_on_one_kiosk_give_a_thousand_profiles() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db)
            var events: [[String: Any]] = [Events.page("kiosk", "https://acme.com/", minute: 0)]
            for user in 0..<1000 {
                events.append(Events.identify("kiosk", userID: "member-\(user)", traits: ["email": "member\(user)@acme.com"], minute: 1 + Double(user) / 100))
            }
            try await Self.send(collector, key: "wk", headers: Self.browser, events)
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            #expect(try await db.scalar("SELECT count(DISTINCT profile_id)::int FROM profile_identities WHERE kind = 'user_id'", as: Int.self) == 1000)
            #expect(try await db.scalar(
                "SELECT max(n)::int FROM (SELECT count(*) AS n FROM profile_identities WHERE kind IN ('user_id', 'email') GROUP BY profile_id) c",
                as: Int.self) == 2)
        }
    }

    @Test func claimed_emails_link_only_anonymous_profiles_and_only_where_the_site_allows_it() async throws {
        try await TestDatabase.with { db in
            // Default (link_claimed_emails: true): two anonymous devices link; a known user's email does not pull a device in.
            let collector = try await Self.verifyingSite(db)
            try await Self.send(collector, key: "wk", headers: Self.browser, [
                Events.identify("laptop", traits: ["email": "dee@acme.com"], minute: 1),
                Events.identify("member-laptop", userID: "member-9", traits: ["email": "eve@acme.com"], minute: 1),
            ])
            try await Self.send(collector, key: "wk", headers: Self.browser, [
                Events.identify("phone", traits: ["email": "dee@acme.com"], minute: 2),
                Events.identify("stranger", traits: ["email": "eve@acme.com"], minute: 2),
            ])
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            #expect(try await engine.profile("anonymous_id", "phone") == engine.profile("anonymous_id", "laptop"))
            #expect(try await engine.profile("anonymous_id", "stranger") != engine.profile("anonymous_id", "member-laptop"))
            #expect(try await Self.conflicts(db, .claimedEmailOfKnownUser) == 1)

            // A site that turns linking off keeps two devices apart.
            try await db.client.query("UPDATE sites SET identity_rules = '{\"link_claimed_emails\": false}'", logger: TestDatabase.logger)
            try await Self.send(collector, key: "wk", headers: Self.browser, [
                Events.identify("desk", traits: ["email": "fay@acme.com"], minute: 3),
            ])
            try await Self.send(collector, key: "wk", headers: Self.browser, [
                Events.identify("car", traits: ["email": "fay@acme.com"], minute: 4),
            ])
            let later = try EngineHarness(db: db)
            _ = try await later.drain()
            #expect(try await later.profile("anonymous_id", "desk") != later.profile("anonymous_id", "car"))
            #expect(try await Self.conflicts(db, .claimedEmailLinksDisabled) == 1)
        }
    }

    @Test func limits_per_kind_and_the_merge_cap_refuse_and_record_without_losing_events() async throws {
        try await TestDatabase.with { db in
            let collector = try await Self.verifyingSite(db, rules: #"{"limits": {"email": 2}, "max_merged_profiles": 2}"#)
            // One device names four emails: two are kept, two refused.
            try await Self.send(collector, key: "wk", headers: Self.browser, (0..<4).map {
                Events.identify("shared", traits: ["email": "e\($0)@acme.com", "job_title": "Role \($0)"], minute: Double($0))
            })
            // Four devices share one email: two merge into the first, the fourth stays apart.
            try await Self.send(collector, key: "wk", headers: Self.browser, [Events.identify("d0", traits: ["email": "team@acme.com"], minute: 1)])
            for device in 1..<4 {
                try await Self.send(collector, key: "wk", headers: Self.browser, [Events.page("d\(device)", "https://acme.com/", minute: Double(device))])
            }
            let engine = try EngineHarness(db: db)
            _ = try await engine.drain()
            try await Self.send(collector, key: "wk", headers: Self.browser, (1..<4).map {
                Events.identify("d\($0)", traits: ["email": "team@acme.com"], minute: 10 + Double($0))
            })
            _ = try await engine.drain()
            let shared = try #require(try await engine.profile("anonymous_id", "shared"))
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE profile_id = \(shared) AND kind = 'email'", as: Int.self) == 2)
            #expect(try await Self.conflicts(db, .identifierLimit) == 2)
            // The refused events were still applied: the last job title is there.
            #expect(try await db.scalar("SELECT fields->>'job_title' FROM visitor_profiles WHERE id = \(shared)", as: String.self) == "Role 3")
            let team = try #require(try await engine.profile("email", "team@acme.com"))
            #expect(try await db.scalar("SELECT merged_profiles FROM visitor_profiles WHERE id = \(team)", as: Int.self) == 2)
            #expect(try await db.scalar("SELECT count(*)::int FROM visitor_profiles WHERE merged_into = \(team)", as: Int.self) == 2)
            #expect(try await engine.profile("anonymous_id", "d3") != team)
            #expect(try await Self.conflicts(db, .mergeCap) == 1)
        }
    }

    @Test func the_rules_refuse_what_is_not_a_rule() throws {
        let defaults = try IdentityRules(defaults: .init(blockedValues: ["undefined", "noreply@*"], limits: ["anonymous_id": 10, "user_id": 1, "email": 3],
                                                         priority: ["user_id", "email", "anonymous_id"], maxMergedProfiles: 5, linkClaimedEmails: true))
        #expect(defaults.isBlocked(" UNDEFINED "))
        #expect(defaults.isBlocked("NoReply@shop.example"))
        #expect(!defaults.isBlocked("reply@shop.example"))
        let site = try defaults.applying(.init(blockedValues: ["kiosk"], limits: ["email": 9], priority: ["email", "user_id", "anonymous_id"]))
        #expect(site.isBlocked("Kiosk") && site.isBlocked("undefined"))
        #expect(site.limit(.email) == 9 && site.limit(.userID) == 1)
        #expect(site.rank(.email) == 0)
        #expect(throws: IdentityRulesError.self) { try defaults.applying(.init(limits: ["phone": 2])) }
        #expect(throws: IdentityRulesError.self) { try defaults.applying(.init(limits: ["email": 0])) }
        #expect(throws: IdentityRulesError.self) { try defaults.applying(.init(priority: ["email", "email", "user_id"])) }
        #expect(throws: IdentityRulesError.self) { try defaults.applying(.init(maxMergedProfiles: 0)) }
        #expect(throws: IdentityRulesError.self) { try IdentityRules(defaults: .init(blockedValues: [])) }
        // The shipped defaults load.
        let shipped = try SiteIdentityRules.load(path: RepositoryPaths.root.appendingPathComponent("config/identity.yaml").path).defaults
        #expect(shipped.isBlocked("test@test.com") && shipped.limit(.userID) == 1 && shipped.linkClaimedEmails)
    }

    @Test func administrators_set_a_sites_rules_and_rotate_its_keys() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.verifyingSite(db)
            let api = APIHarness(db: db)
            let admin = try await api.key([.admin])
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                #expect(try await client.call(.put, "/v1/sites/acme/identity-rules", token: reader, json: ["link_claimed_emails": false]).status == .forbidden)
                let bad = try await client.call(.put, "/v1/sites/acme/identity-rules", token: admin, json: ["limits": ["phone": 3]])
                #expect(bad.status == .unprocessableContent)
                #expect(bad.json["field"] as? String == "limits")
                #expect(try await client.call(.put, "/v1/sites/acme/identity-rules", token: admin, json: ["colour": "red"]).status == .unprocessableContent)
                #expect(try await client.call(.put, "/v1/sites/nope/identity-rules", token: admin, json: [:]).status == .notFound)
                let good = try await client.call(.put, "/v1/sites/acme/identity-rules", token: admin,
                                                 json: ["link_claimed_emails": false, "blocked_values": ["kiosk-7"]])
                #expect(good.status == .ok)
                let shown = try await client.call(.get, "/v1/sites/acme/identity-rules", token: admin)
                #expect((shown.json["overrides"] as? [String: Any])?["link_claimed_emails"] as? Bool == false)
                #expect(shown.json["browser_verification"] as? Bool == true)
                let rotated = try await client.call(.post, "/v1/sites/acme/identity-keys", token: admin)
                #expect(rotated.status == .created)
                let newKey = try #require(rotated.json["server_key"] as? String)
                #expect(newKey.hasPrefix("sk_") && newKey != Self.serverKey)
                #expect((rotated.json["identity_secret"] as? String)?.count == 64)
            }
            #expect(try await db.scalar("SELECT identity_rules->>'link_claimed_emails' FROM sites WHERE slug = 'acme'", as: String.self) == "false")
            #expect(try await db.scalar("SELECT server_key_hash <> \(Self.serverKeyHash) FROM sites WHERE slug = 'acme'", as: Bool.self) == true)
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action IN ('site.identity_rules', 'site.identity_keys')", as: Int.self) == 2)
        }
    }
}
