import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Testing

/// Each service connects as its own role (sql/0016), and PostgreSQL refuses what its service
/// may not do: the attacker's view of a compromised service.
@Suite("Service roles")
struct ServiceRoleTests {
    /// Runs `sql` as `role` on `db`; returns the SQLSTATE it failed with, or nil if it succeeded.
    static func attempt(_ db: TestDatabase, as role: String, _ sql: String) async throws -> String? {
        let configuration = PostgresConnection.Configuration(host: db.url.host, port: db.url.port, username: role, password: nil,
                                                             database: db.url.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestDatabase.logger)
        defer { Task { try? await connection.close() } }
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            for try await _ in rows {}
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState] ?? "unknown"
        }
    }

    static let refused = "42501"  // insufficient_privilege

    @Test func each_role_is_refused_what_its_service_may_not_do() async throws {
        try await TestDatabase.with { db in
            try await db.client.query(
                "INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk_roles')", logger: TestDatabase.logger)
            try await db.client.query(
                "INSERT INTO visitor_profiles (id, site_id, fields) SELECT gen_random_uuid(), id, '{\"email\": \"ann@acme.com\"}' FROM sites",
                logger: TestDatabase.logger)
            let cases: [(role: String, sql: String, expected: String?)] = [
                // The collector reads sites, opt-outs and tombstones and inserts inbox rows; it cannot read profiles.
                ("pb_collector", "SELECT id, write_key FROM sites", nil),
                ("pb_collector", "SELECT count(*) FROM erasure_tombstones", nil),
                ("pb_collector", "INSERT INTO opt_outs (site_id, anonymous_id) SELECT id, 'a1' FROM sites", nil),
                ("pb_collector", "SELECT fields FROM visitor_profiles", Self.refused),
                ("pb_collector", "SELECT properties FROM events", Self.refused),
                ("pb_collector", "DELETE FROM event_queue", Self.refused),
                ("pb_collector", "UPDATE sites SET name = 'x'", Self.refused),
                ("pb_collector", "SELECT * FROM api_keys", Self.refused),
                // The API writes its own tables and commands; the profile tables are the engine's.
                ("pb_api", "SELECT fields FROM visitor_profiles", nil),
                ("pb_api", "UPDATE sites SET name = 'Acme Ltd'", nil),
                ("pb_api", "INSERT INTO profile_commands (site_id, kind, profile_id) SELECT id, 'create', gen_random_uuid() FROM sites", nil),
                ("pb_api", "UPDATE visitor_profiles SET fields = '{}'", Self.refused),
                ("pb_api", "DELETE FROM events", Self.refused),
                ("pb_api", "UPDATE profile_commands SET status = 'done'", Self.refused),
                ("pb_api", "SELECT carry_out_erasure_request(1)", Self.refused),
                ("pb_api", "SELECT analyze_owned_table('visitor_profiles')", Self.refused),
                // The engine changes the profile tables; the API's keys, secrets and audit log are out of its reach.
                ("pb_engine", "UPDATE visitor_profiles SET version = version + 1", nil),
                ("pb_engine", "SELECT analyze_owned_table('visitor_profiles')", nil),
                ("pb_engine", "SELECT analyze_owned_table('api_keys')", Self.refused),
                ("pb_engine", "SELECT secret_hash FROM api_keys", Self.refused),
                ("pb_engine", "SELECT secret FROM webhook_subscriptions", Self.refused),
                ("pb_engine", "UPDATE segments SET name = 'x'", Self.refused),
                ("pb_engine", "DELETE FROM audit_log", Self.refused),
                // The analyst reads the views and profile tables, never keys, secrets or the audit log.
                ("pb_analyst", "SELECT * FROM v_profiles", nil),
                ("pb_analyst", "SELECT slug, name FROM sites", nil),
                ("pb_analyst", "SELECT write_key FROM sites", Self.refused),
                ("pb_analyst", "SELECT * FROM api_keys", Self.refused),
                ("pb_analyst", "SELECT * FROM audit_log", Self.refused),
                ("pb_analyst", "SELECT * FROM webhook_subscriptions", Self.refused),
                ("pb_analyst", "UPDATE visitor_profiles SET fields = '{}'", Self.refused),
                ("pb_analyst", "INSERT INTO profile_commands (site_id, kind, profile_id) SELECT id, 'create', gen_random_uuid() FROM sites", Self.refused),
            ]
            for item in cases {
                let outcome = try await Self.attempt(db, as: item.role, item.sql)
                #expect(outcome == item.expected, "\(item.role): \(item.sql)")
            }
            // The refused writes changed nothing.
            #expect(try await db.scalar("SELECT fields->>'email' FROM visitor_profiles", as: String.self) == "ann@acme.com")
        }
    }

    /// The privileges the database holds are those table_owners defines, which docs/TABLE_OWNERS.md
    /// shows: the owner's role alone may update a table, inserters may insert, and no other role may.
    @Test func privileges_follow_table_owners_and_the_documented_page() async throws {
        try await TestDatabase.with { db in
            let rows = try await db.client.query(
                "SELECT table_name, owner, inserted_by FROM table_owners ORDER BY table_name", logger: TestDatabase.logger)
            var defined: [String: (owner: String, inserters: Set<String>)] = [:]
            for try await (table, owner, inserters) in rows.decode((String, String, [String]).self) { defined[table] = (owner, Set(inserters)) }
            let documented = try OwnershipTests.owners()
            #expect(Set(defined.keys) == Set(documented.owner.keys))
            for (table, definition) in defined.sorted(by: { $0.key < $1.key }) {
                #expect(documented.owner[table] == definition.owner, "\(table): owner in docs/TABLE_OWNERS.md")
                #expect(documented.inserters[table, default: []] == definition.inserters, "\(table): inserters in docs/TABLE_OWNERS.md")
                for service in ["collector", "engine", "api"] {
                    let updates = try await db.scalar("SELECT has_table_privilege(\("pb_" + service), \(table), 'UPDATE')", as: Bool.self)
                    let inserts = try await db.scalar("SELECT has_table_privilege(\("pb_" + service), \(table), 'INSERT')", as: Bool.self)
                    #expect(updates == (service == definition.owner), "\(table): UPDATE for pb_\(service)")
                    #expect(inserts == (service == definition.owner || definition.inserters.contains(service)), "\(table): INSERT for pb_\(service)")
                }
                #expect(try await db.scalar("SELECT has_table_privilege('pb_analyst', \(table), 'INSERT, UPDATE, DELETE')", as: Bool.self) == false)
            }
        }
    }

    /// A table added without a row in table_owners gets no privileges: apply_service_grants refuses.
    @Test func a_table_without_an_owner_is_refused_by_the_grants() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE orphan (id int)", logger: TestDatabase.logger)
            await #expect(throws: (any Error).self) {
                for try await _ in try await db.client.query("SELECT apply_service_grants()::text", logger: TestDatabase.logger).decode(String?.self) {}
            }
        }
    }
}
