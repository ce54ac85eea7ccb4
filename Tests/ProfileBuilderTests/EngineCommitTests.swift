@testable import EngineApp
import Foundation
import PostgresNIO
import ServiceKit
import Testing

@Suite("Engine commits")
struct EngineCommitTests {
    /// What `synchronous_commit` was inside the transactions that wrote page views: a trigger
    /// records it, so the test sees the setting of the engine's own batch transaction.
    static func commitModes(engine: [String: String]) async throws -> [String] {
        try await TestDatabase.with { db in
            try await db.client.query(
                """
                CREATE TABLE seen_commit_modes (mode text NOT NULL);
                """, logger: TestDatabase.logger)
            try await db.client.query(
                """
                CREATE FUNCTION record_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO seen_commit_modes VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$
                """, logger: TestDatabase.logger)
            try await db.client.query(
                "CREATE TRIGGER record_commit_mode AFTER INSERT ON page_views FOR EACH STATEMENT EXECUTE FUNCTION record_commit_mode()",
                logger: TestDatabase.logger)
            _ = try await ProfileEngineTests.ingest(db, [[Events.page("anon-c", "https://acme.com/", minute: 0)]], engine: engine)
            #expect(try await db.scalar("SELECT count(*)::int FROM page_views", as: Int.self) == 1)
            let rows = try await db.client.query("SELECT DISTINCT mode FROM seen_commit_modes ORDER BY 1", logger: TestDatabase.logger)
            var modes: [String] = []
            for try await mode in rows.decode(String.self) { modes.append(mode) }
            return modes
        }
    }

    @Test func batches_commit_without_waiting_for_the_disk_by_default() async throws {
        #expect(try await Self.commitModes(engine: [:]) == ["off"])
    }

    @Test func engine_synchronous_commit_makes_batches_wait_for_the_disk() async throws {
        #expect(try await Self.commitModes(engine: ["ENGINE_SYNCHRONOUS_COMMIT": "true"]) == ["on"])
    }

    @Test func a_bad_setting_is_refused_at_start() {
        #expect(throws: (any Error).self) { try EngineConfig(environment: EnvironmentReader(["ENGINE_SYNCHRONOUS_COMMIT": "sometimes"])) }
    }
}
