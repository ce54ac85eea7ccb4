import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
@testable import EngineApp
@testable import ProfileAPIApp
import Testing

/// Profile creates and updates through the API are `profile_commands` the engine carries out
/// (issue #20): the API writes no profile table, and the engine's checks hold when the API's
/// own pre-checks were overtaken.
@Suite("Profile commands")
struct ProfileCommandTests {
    /// The API answers without waiting (PROFILE_WRITE_WAIT_SECONDS=0), so each command stays
    /// pending until the test runs the engine's worker by hand.
    static let noWait = ["PROFILE_WRITE_WAIT_SECONDS": "0"]

    @Test func writes_wait_for_the_engine_and_its_checks_win_over_the_apis() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_cmd')", logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let writer = try await api.key([.profilesRead, .profilesWrite])
            let worker = ProfileCommandWorker(client: db.client, logger: TestDatabase.logger)
            try await api.run(environment: Self.noWait) { client in
                // A create is accepted as a command: nothing is in the profile tables until the engine runs it.
                let accepted = try await client.call(.post, "/v1/profiles", token: writer, json: [
                    "site": "acme", "fields": ["name": "Ivy"], "identities": [["kind": "email", "value": "Ivy@Example.com "]]])
                #expect(accepted.status == .accepted)
                let profile = try #require(accepted.json["profile_id"] as? String)
                let status = try #require(accepted.headers[.location])
                #expect(status == accepted.json["status_url"] as? String)
                #expect(try await db.scalar("SELECT count(*)::int FROM visitor_profiles", as: Int.self) == 0)
                #expect(try await client.call(.get, status, token: writer).json["status"] as? String == "pending")
                #expect(try await client.call(.get, "/v1/profiles/\(profile)", token: writer).status == .notFound)

                // A second create claiming the same email, accepted before the first ran.
                let rival = try await client.call(.post, "/v1/profiles", token: writer, json: [
                    "site": "acme", "identities": [["kind": "email", "value": "ivy@example.com"]]])
                #expect(rival.status == .accepted)

                #expect(try await worker.runNext() != nil)
                #expect(try await worker.runNext() != nil)
                #expect(try await worker.runNext() == nil)
                let done = try await client.call(.get, status, token: writer)
                #expect(done.json["status"] as? String == "done")
                #expect((done.json["result"] as? [String: Any])?["version"] as? Int == 1)
                let read = try await client.call(.get, "/v1/profiles/\(profile)", token: writer)
                #expect((read.json["fields"] as? [String: Any])?["name"] as? String == "Ivy")
                #expect(read.json["stage"] as? String == "known")
                let refused = try await client.call(.get, try #require(rival.headers[.location]), token: writer)
                #expect(refused.json["status"] as? String == "failed")
                #expect(refused.json["error"] as? String == "identity_taken")

                // Two updates accepted at version 1; the second names If-Match 1, which the first
                // overtakes: the engine refuses it and says which version is current.
                let first = try await client.call(.patch, "/v1/profiles/\(profile)", token: writer, json: ["fields": ["job_title": "CTO"]])
                let second = try await client.call(.patch, "/v1/profiles/\(profile)", token: writer, json: ["fields": ["job_title": "CEO", "name": NSNull()]],
                                                   headers: [.ifMatch: "\"1\""])
                #expect(first.status == .accepted)
                #expect(second.status == .accepted)
                #expect(try await worker.runNext() != nil)
                #expect(try await worker.runNext() != nil)
                let mismatch = try await client.call(.get, try #require(second.headers[.location]), token: writer)
                #expect(mismatch.json["error"] as? String == "version_mismatch")
                #expect((mismatch.json["result"] as? [String: Any])?["version"] as? Int == 2)
                let after = try await client.call(.get, "/v1/profiles/\(profile)", token: writer)
                #expect(after.headers[.eTag] == "\"2\"")
                #expect((after.json["fields"] as? [String: Any])?["job_title"] as? String == "CTO")
                #expect((after.json["fields"] as? [String: Any])?["name"] as? String == "Ivy")

                #expect(try await client.call(.get, "/v1/profile-commands/999999", token: writer).status == .notFound)
                #expect(try await client.call(.get, "/v1/profile-commands/x", token: writer).status == .badRequest)
            }
            // The engine wrote the changes: one created, one updated (the refused update wrote nothing).
            #expect(try await db.scalar("SELECT string_agg(kind, ',' ORDER BY id) FROM profile_changes", as: String.self) == "created,updated")
            #expect(try await db.scalar("SELECT value FROM profile_identities", as: String.self) == "ivy@example.com")
        }
    }

    @Test func a_waiting_write_answers_with_the_profile_once_the_engine_has_applied_it() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_cmd')", logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let writer = try await api.key([.profilesRead, .profilesWrite])
            try await api.withEngineCommandWorkers { try await api.run { client in
                let created = try await client.call(.post, "/v1/profiles", token: writer, json: ["site": "acme", "fields": ["name": "Ada"]])
                #expect(created.status == .created)
                let id = try #require(created.json["id"] as? String)
                #expect(created.headers[.location] == "/v1/profiles/\(id)")
                #expect(created.headers[.eTag] == "\"1\"")
                let updated = try await client.call(.patch, "/v1/profiles/\(id)", token: writer, json: ["fields": ["name": "Ada L."]],
                                                    headers: [.ifMatch: "\"1\""])
                #expect(updated.status == .ok)
                #expect(updated.headers[.eTag] == "\"2\"")
                #expect((updated.json["fields"] as? [String: Any])?["name"] as? String == "Ada L.")
            } }
        }
    }

    @Test func a_command_the_engine_cannot_apply_is_finished_after_its_attempts_and_does_not_block_the_next() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_cmd')", logger: TestDatabase.logger)
            // Written by hand: the API never sends an identity kind the engine does not know.
            try await db.client.query(
                """
                INSERT INTO profile_commands (site_id, kind, profile_id, identities)
                SELECT id, 'create', gen_random_uuid(), '[{"kind": "fax", "value": "1"}]' FROM sites
                """, logger: TestDatabase.logger)
            try await db.client.query(
                "INSERT INTO profile_commands (site_id, kind, profile_id, fields) SELECT id, 'create', gen_random_uuid(), '{\"name\": \"Bo\"}' FROM sites",
                logger: TestDatabase.logger)
            let worker = ProfileCommandWorker(client: db.client, logger: TestDatabase.logger)
            for _ in 1..<CommandAttempts.maximum {
                await #expect(throws: (any Error).self) { try await worker.runNext() }
                #expect(try await db.scalar("SELECT status FROM profile_commands ORDER BY id LIMIT 1", as: String.self) == "pending")
            }
            await #expect(throws: (any Error).self) { try await worker.runNext() }
            #expect(try await db.scalar("SELECT status || ':' || error || ':' || attempts FROM profile_commands ORDER BY id LIMIT 1", as: String.self)
                    == "failed:internal:\(CommandAttempts.maximum)")
            #expect(try await db.scalar("SELECT last_error FROM profile_commands ORDER BY id LIMIT 1", as: String.self)?.contains("fax") == true)
            #expect(try await worker.runNext() != nil)
            #expect(try await db.scalar("SELECT fields->>'name' FROM visitor_profiles", as: String.self) == "Bo")
        }
    }
}
