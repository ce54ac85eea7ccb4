@testable import EngineApp
import Foundation
import PostgresNIO
import Testing

@Suite("Statistics of growing tables")
struct GrowingTableStatisticsTests {
    /// A fresh database's `visitor_profiles` carries statistics that say it is empty (migration
    /// 0008 analyses it); once it holds more than twice that plus the floor, one pass analyses it,
    /// and the next pass leaves it alone.
    @Test func a_table_that_outgrew_its_statistics_is_analysed_once() async throws {
        try await TestDatabase.with { db in
            let believed = try await db.scalar("SELECT reltuples::float8 FROM pg_class WHERE relname = 'visitor_profiles'", as: Double.self)
            #expect((believed ?? 1) <= 0)
            let statistics = GrowingTableStatistics(client: db.client, logger: TestDatabase.logger)
            #expect(try await statistics.outgrown().isEmpty)

            let rows = GrowingTableStatistics.floorRows * 3
            // Autovacuum could analyse the table first under load (then nothing is left to do and
            // the pass rightly analyses nothing): this test is about the engine's pass alone.
            try await db.client.query("ALTER TABLE visitor_profiles SET (autovacuum_enabled = false)", logger: TestDatabase.logger)
            try await db.client.withConnection { connection in
                let site = try #require(try await connection.query(
                    "INSERT INTO sites (slug, name, write_key) VALUES ('grow', 'Grow', 'wk-grow') RETURNING id", logger: TestDatabase.logger)
                    .collect().first?.decode(Int64.self))
                try await connection.query(
                    "INSERT INTO visitor_profiles (id, site_id) SELECT gen_random_uuid(), \(site) FROM generate_series(1, \(rows))",
                    logger: TestDatabase.logger)
                // Statistics counters reach the shared view at most once a second unless forced.
                try await connection.query("SELECT pg_stat_force_next_flush()", logger: TestDatabase.logger)
                try await connection.query("SELECT 1", logger: TestDatabase.logger)
            }
            var analysed: [String] = []
            for _ in 0..<50 where analysed.isEmpty {
                analysed = try await statistics.analyseOutgrown()
                if analysed.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(analysed == ["visitor_profiles"])
            #expect(try await db.scalar("SELECT reltuples::int FROM pg_class WHERE relname = 'visitor_profiles'", as: Int.self) == rows)
            #expect(try await statistics.analyseOutgrown().isEmpty)
        }
    }

    /// Only the engine's own tables are ever named in an ANALYZE.
    @Test func the_tables_are_a_fixed_list_of_existing_tables() async throws {
        try await TestDatabase.with { db in
            for table in GrowingTableStatistics.tables {
                let found = try await db.scalar("SELECT to_regclass(\(table))::text", as: String?.self)
                #expect(found == .some(table), "\(table)")
            }
        }
    }
}
