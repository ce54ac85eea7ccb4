import Foundation
import PostgresNIO
import ServiceKit
import Testing

@Suite("Migrations")
struct MigrationTests {
    let migrations: [Migration]

    init() throws {
        migrations = try Migration.load(directory: RepositoryPaths.sql)
    }

    @Test func test_profile_schema_applies_to_an_empty_database_and_is_idempotent() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let runner = MigrationRunner(migrations: migrations, logger: TestDatabase.logger)
            #expect(try await MigrationRunner.currentVersion(db.client, logger: TestDatabase.logger) == 0)
            let first = try await runner.migrate(db.client)
            #expect(first == migrations.map(\.version))
            let second = try await runner.migrate(db.client)
            #expect(second.isEmpty)
            #expect(try await MigrationRunner.currentVersion(db.client, logger: TestDatabase.logger) == runner.latestVersion)
            let recorded = try await db.scalar("SELECT count(*)::int FROM schema_migrations", as: Int.self)
            #expect(recorded == migrations.count)
        }
    }

    @Test func two_concurrent_migrators_do_not_conflict() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let second = PostgresClient(configuration: db.url.clientConfiguration(maximumConnections: 2), backgroundLogger: TestDatabase.logger)
            let migrations = self.migrations
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                group.addTask { await second.run(); return [] }
                let runnerA = MigrationRunner(migrations: migrations, logger: TestDatabase.logger)
                async let a = runnerA.migrate(db.client)
                async let b = runnerA.migrate(second)
                let both = try await [a, b]
                group.cancelAll()
                return both
            }
            // Exactly one of them applied everything; the other found nothing left to do.
            #expect(results.map(\.count).sorted() == [0, migrations.count])
            let recorded = try await db.scalar("SELECT count(DISTINCT version)::int FROM schema_migrations", as: Int.self)
            #expect(recorded == migrations.count)
        }
    }

    @Test func an_edited_migration_is_refused() async throws {
        try await TestDatabase.with { db in
            var edited = migrations
            let first = edited[0]
            edited[0] = Migration(version: first.version, name: first.name, sql: first.sql + "\n-- edited")
            await #expect(throws: MigrationRunner.EditedMigration.self) {
                try await MigrationRunner(migrations: edited, logger: TestDatabase.logger).migrate(db.client)
            }
        }
    }

    @Test func a_failing_migration_leaves_nothing_half_applied() async throws {
        try await TestDatabase.with { db in
            let broken = migrations + [Migration(version: 9999, name: "broken", sql: "CREATE TABLE half_applied(x int); SELECT 1/0;")]
            await #expect(throws: (any Error).self) {
                try await MigrationRunner(migrations: broken, logger: TestDatabase.logger).migrate(db.client)
            }
            let leftover = try await db.scalar("SELECT to_regclass('half_applied')::text", as: String?.self)
            #expect(leftover == .some(nil))
            let version = try await MigrationRunner.currentVersion(db.client, logger: TestDatabase.logger)
            #expect(version == migrations.last?.version)
        }
    }

    @Test func every_table_and_view_has_a_comment_for_dbas() async throws {
        try await TestDatabase.with { db in
            let rows = try await db.client.query(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
                  AND c.relname <> 'schema_migrations' AND obj_description(c.oid, 'pg_class') IS NULL
                """, logger: TestDatabase.logger)
            var missing: [String] = []
            for try await name in rows.decode(String.self) { missing.append(name) }
            #expect(missing.isEmpty, "tables without COMMENT ON: \(missing)")
        }
    }

    @Test func test_profile_schema_has_the_tables_the_issues_name() async throws {
        let expected = [
            "sites", "api_keys", "events", "event_dedupe", "event_queue", "dead_letters", "visitor_profiles",
            "profile_identities", "sessions", "page_views", "interests", "product_interests", "page_interests",
            "catalog_items", "catalog_categories", "session_analytics", "engagement_metrics", "segments",
            "segment_memberships", "consents", "webhook_subscriptions", "webhook_deliveries", "export_jobs",
            "erasure_requests", "audit_log", "v_profiles", "v_top_interests",
        ]
        try await TestDatabase.with { db in
            for name in expected {
                let found = try await db.scalar("SELECT to_regclass(\(name))::text", as: String?.self)
                #expect(found == .some(name), "missing relation \(name)")
            }
        }
    }

    @Test func events_are_partitioned_by_time_and_land_in_the_right_partition() async throws {
        try await TestDatabase.with { db in
            let strategy = try await db.scalar(
                "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'events'::regclass", as: String.self)
            #expect(strategy == "r")
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('s1', 'Site', 'wk_partition')", logger: TestDatabase.logger)
            try await db.client.query(
                """
                INSERT INTO events (site_id, message_id, type, occurred_at, received_at)
                SELECT id, 'm1', 'track', now(), now() FROM sites WHERE slug = 's1'
                """, logger: TestDatabase.logger)
            let partition = try await db.scalar("SELECT tableoid::regclass::text FROM events WHERE message_id = 'm1'", as: String.self)
            #expect(partition != nil && partition != "events_default", "landed in \(partition ?? "nothing")")
        }
    }

    @Test func a_misnamed_migration_file_is_an_error() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "SELECT 1;".write(to: folder.appendingPathComponent("schema.sql"), atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try Migration.load(directory: folder.path) }
    }
}
