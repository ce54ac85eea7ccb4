import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
@testable import EngineApp
@testable import ProfileAPIApp
import Testing

@Suite("Profile API")
struct ProfileAPITests {
    /// A site with three visitors built by the real collector and engine.
    static func seed(_ db: TestDatabase) async throws {
        _ = try await ProfileEngineTests.ingest(db, [[
            Events.page("ann-laptop", "https://acme.com/pricing", minute: 0),
            Events.identify("ann-laptop", userID: "u-ann", traits: ["email": "ann@acme.com", "name": "Ann Lee", "company": ["name": "Acme Corp"], "industry": "software"], minute: 1),
            Events.page("bob-phone", "https://acme.com/", minute: 2),
            Events.identify("bob-phone", traits: ["email": "bob@globex.com", "name": "Bob Stone", "industry": "finance", "phone": "+44 20 7946 0958"], minute: 3),
            Events.page("cat", "https://acme.com/blog", minute: 4),
        ]])
    }

    @Test func test_profile_api() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            let writer = try await api.key([.profilesRead, .profilesWrite])
            try await api.withEngineCommandWorkers { try await api.run { client in
                // Lookup by each kind of identity resolves to the same profile.
                let byEmail = try await client.call(.get, "/v1/profiles/lookup?site=acme&email=ANN@acme.com", token: reader)
                #expect(byEmail.status == .ok)
                let id = try #require(byEmail.json["id"] as? String)
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&user_id=u-ann", token: reader).json["id"] as? String == id)
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&anonymous_id=ann-laptop", token: reader).json["id"] as? String == id)
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&email=nobody@x.com", token: reader).status == .notFound)

                let read = try await client.call(.get, "/v1/profiles/\(id)", token: reader)
                #expect((read.json["fields"] as? [String: Any])?["name"] as? String == "Ann Lee")
                #expect((read.json["identities"] as? [Any])?.count == 3)
                let etag = try #require(read.headers[.eTag])
                #expect(try await client.call(.get, "/v1/profiles/\(id)", token: reader, headers: [.ifNoneMatch: etag]).status == .notModified)

                // Filters: on any field (GIN containment), stage, full text.
                let finance = try await client.call(.get, "/v1/profiles?site=acme&fields.industry=finance", token: reader)
                #expect((finance.json["data"] as? [[String: Any]])?.compactMap { ($0["fields"] as? [String: Any])?["name"] as? String } == ["Bob Stone"])
                let known = try await client.call(.get, "/v1/profiles?stage=known", token: reader)
                #expect((known.json["data"] as? [Any])?.count == 2)
                let text = try await client.call(.get, "/v1/profiles?q=acme", token: reader)
                #expect((text.json["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])

                // Update with optimistic concurrency.
                let updated = try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["job_title": "CTO"]], headers: [.ifMatch: etag])
                #expect(updated.status == .ok)
                #expect((updated.json["field_meta"] as? [String: Any]).flatMap { ($0["job_title"] as? [String: Any])?["source"] as? String } == "api")
                let stale = try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["job_title": "CEO"]], headers: [.ifMatch: etag])
                #expect(stale.status == .preconditionFailed)
                #expect(stale.json["field"] as? String == "If-Match")
                // Validation failures name the field and change nothing.
                let invalid = try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["job_title": "CEO", "email": "not an email"]])
                #expect(invalid.status == .unprocessableContent)
                #expect(invalid.json["field"] as? String == "fields.email")
                #expect(try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["shoe_size": 42]]).status == .unprocessableContent)
                // U+0000 cannot be stored by Postgres: refused as bad input, never a 500.
                let nul = try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["job_title": "CEO\u{0}"]])
                #expect(nul.status == .unprocessableContent)
                let after = try await client.call(.get, "/v1/profiles/\(id)", token: reader)
                #expect((after.json["fields"] as? [String: Any])?["job_title"] as? String == "CTO")

                // Create, then a conflicting identity.
                let created = try await client.call(.post, "/v1/profiles", token: writer, json: [
                    "site": "acme", "fields": ["name": "Dee", "email": "dee@acme.com"], "identities": [["kind": "email", "value": "dee@acme.com"]]])
                #expect(created.status == .created)
                #expect(created.headers[.location]?.hasPrefix("/v1/profiles/") == true)
                let clash = try await client.call(.post, "/v1/profiles", token: writer, json: ["site": "acme", "identities": [["kind": "email", "value": "dee@acme.com"]]])
                #expect(clash.status == .conflict)
                #expect(try await client.call(.post, "/v1/profiles", token: writer, json: ["site": "nope"]).status == .unprocessableContent)

                let timeline = try await client.call(.get, "/v1/profiles/\(id)/timeline", token: reader)
                #expect((timeline.json["events"] as? [Any])?.count == 2)
                #expect((timeline.json["changes"] as? [Any])?.isEmpty == false)
            } }
            // Each accepted write request is audited; refusals the API answers itself (412 on a
            // stale If-Match, 422) write no command. The clashing create reached the engine.
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'profile.update'", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'profile.create' AND api_key_id IS NOT NULL", as: Int.self) == 2)
            #expect(try await db.scalar("SELECT string_agg(kind || ':' || status || ':' || coalesce(error, '-'), ',' ORDER BY id) FROM profile_commands",
                                        as: String.self) == "update:done:-,create:done:-,create:failed:identity_taken")
        }
    }

    @Test func auth_failures_are_401_or_403_and_keys_are_stored_hashed() async throws {
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            let admin = try await api.key([.admin])
            let slow = try await api.key([.profilesRead], rateLimit: 6)
            try await api.run { client in
                #expect(try await client.call(.get, "/v1/profiles", token: nil).status == .unauthorized)
                #expect(try await client.call(.get, "/v1/profiles", token: "pb_AAAAAAAA_forged").status == .unauthorized)
                #expect(try await client.call(.get, "/v1/profiles", token: "garbage").status == .unauthorized)
                let forbidden = try await client.call(.patch, "/v1/profiles/\(UUID())", token: reader, json: ["fields": ["name": "x"]])
                #expect(forbidden.status == .forbidden)
                #expect(forbidden.json["type"] as? String == "urn:profile-builder:error:insufficient_scope")
                #expect(try await client.call(.post, "/v1/gdpr/erasure", token: reader, json: ["profile_id": UUID().uuidString]).status == .forbidden)
                // Admins create and revoke keys; a revoked key stops working.
                let created = try await client.call(.post, "/v1/api-keys", token: admin, json: ["name": "crm-sync", "scopes": ["profiles:read"]])
                #expect(created.status == .created)
                let token = try #require(created.json["token"] as? String)
                let prefix = try #require(created.json["prefix"] as? String)
                #expect(try await client.call(.get, "/v1/profiles", token: token).status == .ok)
                #expect(try await client.call(.delete, "/v1/api-keys/\(prefix)", token: admin).status == .noContent)
                #expect(try await client.call(.get, "/v1/profiles", token: token).status == .unauthorized)
                #expect(try await client.call(.post, "/v1/api-keys", token: admin, json: ["name": "x", "scopes": ["root"]]).status == .unprocessableContent)
                // Per-key rate limit: a burst of a tenth of the minute's allowance, then 429.
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 { statuses.append(try await client.call(.get, "/v1/profiles", token: slow).status) }
                #expect(statuses.last == .tooManyRequests)
            }
            // Only hashes are stored, never a token.
            let rows = try await db.client.query("SELECT secret_hash FROM api_keys", logger: TestDatabase.logger)
            for try await hash in rows.decode(String.self) { #expect(hash.count == 64 && !hash.hasPrefix("pb_")) }
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action IN ('api_key.create', 'api_key.revoke')", as: Int.self) == 2)
        }
    }

    @Test func pagination_is_stable_under_concurrent_inserts() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk')", logger: TestDatabase.logger)
            try await db.client.query(
                "INSERT INTO visitor_profiles (site_id, created_at) SELECT 1, now() - g * interval '1 second' FROM generate_series(1, 25) g",
                logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await client.call(.get, "/v1/profiles?limit=7" + (cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" } ?? ""), token: reader)
                    #expect(page.status == .ok)
                    seen += (page.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    cursor = page.json["next_cursor"] as? String
                    // New profiles arrive while the client pages through.
                    try await db.client.query("INSERT INTO visitor_profiles (site_id) VALUES (1)", logger: TestDatabase.logger)
                } while cursor != nil
                #expect(seen.count == 25)
                #expect(Set(seen).count == 25)
                #expect(try await client.call(.get, "/v1/profiles?cursor=bogus", token: reader).status == .badRequest)
                #expect(try await client.call(.get, "/v1/profiles?limit=0", token: reader).status == .badRequest)
                #expect(try await client.call(.get, "/v1/profiles?sort=shoe_size", token: reader).status == .badRequest)
            }
        }
    }

    @Test func test_gdpr_compliance() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            _ = try await ProfileEngineTests.ingest(db, [[
                Events.page("ann-phone", "https://acme.com/contact?email=ann@acme.com", minute: 10),
                // Ann signs in on her phone too (her email alone would not join a profile with a user id: docs/IDENTITY.md).
                Events.identify("ann-phone", userID: "u-ann", traits: ["email": "ann@acme.com", "phone": "+1 415 555 2671"], minute: 11),
            ]], chat: ["conversationId": "c-ann", "anonymousId": "ann-phone",
                       "messages": [["role": "user", "text": "Call me on +1 415 555 2671 or ann@acme.com"]]])
            let api = APIHarness(db: db)
            let dpo = try await api.key([.gdpr, .profilesRead])
            try await api.withEngineCommandWorkers { try await api.run { client in
                let archive = try await client.call(.post, "/v1/gdpr/access", token: dpo, json: ["site": "acme", "email": "ann@acme.com"])
                #expect(archive.status == .ok)
                #expect((archive.json["identities"] as? [Any])?.count == 4)  // two devices, user id, email
                #expect((archive.json["events"] as? [Any])?.count == 5)
                #expect((archive.json["chat_messages"] as? [Any])?.count == 1)

                let receipt = try await client.call(.post, "/v1/gdpr/erasure", token: dpo, json: ["site": "acme", "email": "ann@acme.com"])
                #expect(receipt.status == .ok)
                #expect((receipt.json["deleted"] as? [String: Any])?["events"] as? Int == 5)
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&email=ann@acme.com", token: dpo).status == .notFound)
            } }
            // No row in any table mentions Ann's ids, email or phone any more.
            for needle in ["ann@acme.com", "u-ann", "ann-laptop", "ann-phone", "4155552671", "415 555 2671"] {
                let tables = try await db.client.query(
                    """
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind = 'r'
                    """, logger: TestDatabase.logger)
                var names: [String] = []
                for try await name in tables.decode(String.self) { names.append(name) }
                for table in names {
                    let hits = try await db.scalar(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \"\(table)\" t WHERE t::text ILIKE $1", binds: {
                        var binds = PostgresBindings(); binds.append("%\(needle)%"); return binds }()), as: Int.self)
                    #expect(hits == 0, "\(table) still contains \(needle)")
                }
            }
            #expect(try await db.scalar("SELECT count(*)::int FROM erasure_requests WHERE status = 'done' AND receipt IS NOT NULL", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action = 'gdpr.erase'", as: Int.self) == 1)
            // Bob is untouched.
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE value = 'bob@globex.com'", as: Int.self) == 1)
            // New events for Ann are not rebuilt into a profile.
            let engine = try await ProfileEngineTests.ingest(db, [[
                Events.page("ann-laptop", "https://acme.com/again", minute: 20),
                Events.identify("ann-new-device", traits: ["email": "ann@acme.com"], minute: 21),
            ]])
            #expect(try await engine.profile("anonymous_id", "ann-laptop") == nil)
            #expect(try await engine.profile("email", "ann@acme.com") == nil)
            #expect(try await db.scalar("SELECT count(*)::int FROM events WHERE anonymous_id = 'ann-laptop'", as: Int.self) == 0)
        }
    }

    @Test func anonymisation_keeps_aggregates_and_removes_identifiers() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let api = APIHarness(db: db)
            let dpo = try await api.key([.gdpr])
            try await api.withEngineCommandWorkers { try await api.run { client in
                let answer = try await client.call(.post, "/v1/gdpr/anonymization", token: dpo, json: ["site": "acme", "email": "bob@globex.com"])
                #expect(answer.status == .ok)
            } }
            #expect(try await db.scalar("SELECT count(*)::int FROM visitor_profiles WHERE anonymized_at IS NOT NULL AND fields = '{}'", as: Int.self) == 1)
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_identities WHERE value IN ('bob@globex.com', 'bob-phone')", as: Int.self) == 0)
            #expect(try await db.scalar("SELECT sum(page_views_count)::int FROM engagement_metrics", as: Int.self) == 3)
        }
    }

    /// The API only asks; the engine's worker erases. Without a worker the request is answered
    /// 202 with the request to poll, and nothing is deleted until the engine carries it out.
    @Test func an_erasure_that_keeps_failing_is_finished_after_its_attempts_and_does_not_block_the_next() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let api = APIHarness(db: db)
            let dpo = try await api.key([.gdpr, .profilesRead])
            // A sweep that cannot succeed: deleting Bob's profile raises.
            try await db.client.query(
                """
                CREATE FUNCTION pg_temp_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF OLD.fields->>'name' = 'Bob Stone' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN OLD; END $$
                """, logger: TestDatabase.logger)
            try await db.client.query("CREATE TRIGGER refuse BEFORE DELETE ON visitor_profiles FOR EACH ROW EXECUTE FUNCTION pg_temp_refuse()",
                                      logger: TestDatabase.logger)
            try await api.run(environment: ["GDPR_WAIT_SECONDS": "0"]) { client in
                let bob = try await client.call(.post, "/v1/gdpr/erasure", token: dpo, json: ["site": "acme", "email": "bob@globex.com"])
                let ann = try await client.call(.post, "/v1/gdpr/erasure", token: dpo, json: ["site": "acme", "email": "ann@acme.com"])
                let bobID = try #require(bob.json["request_id"] as? Int)
                let annID = try #require(ann.json["request_id"] as? Int)
                let worker = ErasureWorker(client: db.client, logger: TestDatabase.logger)
                for _ in 0..<CommandAttempts.maximum {
                    await #expect(throws: (any Error).self) { try await worker.runNext() }
                }
                let failed = try await client.call(.get, "/v1/gdpr/requests/\(bobID)", token: dpo)
                #expect(failed.json["status"] as? String == "failed")
                #expect(failed.json["error"] as? String == "internal")
                #expect(try await db.scalar("SELECT attempts FROM erasure_requests WHERE id = \(bobID)", as: Int32.self) == Int32(CommandAttempts.maximum))
                // The request behind it is carried out; Bob's data is untouched (each try rolled back).
                #expect(try await worker.runNext() == Int64(annID))
                #expect(try await client.call(.get, "/v1/gdpr/requests/\(annID)", token: dpo).json["status"] as? String == "done")
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&email=bob@globex.com", token: dpo).status == .ok)
            }
        }
    }

    @Test func an_erasure_is_a_request_the_engine_carries_out() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let api = APIHarness(db: db)
            let dpo = try await api.key([.gdpr, .profilesRead])
            try await api.run(environment: ["GDPR_WAIT_SECONDS": "0"]) { client in
                let accepted = try await client.call(.post, "/v1/gdpr/erasure", token: dpo, json: ["site": "acme", "email": "bob@globex.com"])
                #expect(accepted.status == .accepted)
                let id = try #require(accepted.json["request_id"] as? Int)
                #expect(accepted.headers[.location] == "/v1/gdpr/requests/\(id)")
                let pending = try await client.call(.get, "/v1/gdpr/requests/\(id)", token: dpo)
                #expect(pending.json["status"] as? String == "pending")
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&email=bob@globex.com", token: dpo).status == .ok)

                let worker = ErasureWorker(client: db.client, logger: TestDatabase.logger)
                #expect(try await worker.runNext() == Int64(id))
                #expect(try await worker.runNext() == nil)
                let done = try await client.call(.get, "/v1/gdpr/requests/\(id)", token: dpo)
                #expect(done.json["status"] as? String == "done")
                #expect(((done.json["receipt"] as? [String: Any])?["deleted"] as? [String: Any])?["visitor_profiles"] as? Int == 1)
                #expect(try await client.call(.get, "/v1/profiles/lookup?site=acme&email=bob@globex.com", token: dpo).status == .notFound)
                #expect(try await client.call(.get, "/v1/gdpr/requests/999999", token: dpo).status == .notFound)
            }
            // The request is kept as proof, with the subject hashed by the one tombstone function.
            #expect(try await db.scalar(
                "SELECT count(*)::int FROM erasure_requests WHERE subject_kind = 'email' AND subject_hash = encode(sha256('email:bob@globex.com'::bytea), 'hex')",
                as: Int.self) == 1)
        }
    }

    @Test func the_openapi_document_is_served_and_lists_every_route() async throws {
        try await TestDatabase.with { db in
            try await APIHarness(db: db).run { client in
                let answer = try await client.call(.get, "/openapi.json", token: nil)
                #expect(answer.status == .ok)
                let paths = try #require(answer.json["paths"] as? [String: [String: Any]])
                let documented = Set(paths.flatMap { path, operations in
                    operations.keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) }.map { "\($0) \(path)" }
                })
                // The JSON API's routes as the controllers register them (the dashboard's HTML
                // pages are not part of it); `:id` is OpenAPI's `{id}`.
                var registered = Set<String>()
                let route = /router\.(get|post|put|patch|delete)\("(\/v1\/[^"]*)"/
                let sources = RepositoryPaths.root.appendingPathComponent("Services/profile-api")
                for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)! where file.pathExtension == "swift" {
                    for match in try String(contentsOf: file, encoding: .utf8).matches(of: route) {
                        let path = String(match.2).replacing(/:(\w+)/) { "{\($0.1)}" }
                        registered.insert("\(match.1) \(path)")
                    }
                }
                #expect(registered.count > 30)  // the scan found the routes at all
                #expect(registered.subtracting(documented).sorted() == [], "routes missing from docs/openapi.json")
                #expect(documented.filter { $0.contains(" /v1/") }.subtracting(registered).sorted() == [], "documented operations no route serves")
                for path in ["/health", "/ready", "/metrics"] { #expect(paths[path] != nil, "\(path) is not documented") }
                #expect(answer.json["openapi"] as? String == "3.1.0")
            }
        }
    }
}
