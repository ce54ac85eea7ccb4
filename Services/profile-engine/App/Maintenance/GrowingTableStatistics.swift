import Logging
import PostgresNIO
import ServiceLifecycle

/// Analyses the engine's tables while they outgrow their statistics, which autovacuum does only
/// once a minute at best. Why it matters: PostgreSQL plans a foreign-key check once per backend
/// and keeps the plan until the table's statistics change. A fresh database's `visitor_profiles`
/// is analysed while empty (migration 0008), so the checks were planned as sequential scans and
/// stayed so while the table grew: measured on a 1,000,000-event drain, 36.8 µs per event on
/// those checks (a fifth of the database's time) instead of 3 µs, in the runs where autovacuum's
/// first pass came late. A table is analysed when it holds more than twice the rows its
/// statistics say (plus a floor), so a growing table is analysed about log2(rows) times in all.
final class GrowingTableStatistics: Service, Sendable {
    /// The tables every batch writes to and reads back by key.
    static let tables = ["visitor_profiles", "profile_identities", "sessions", "page_views", "session_analytics",
                         "engagement_metrics", "segment_memberships", "interests", "page_interests", "profile_changes"]
    /// Below this many rows a sequential scan costs no more than an index lookup.
    static let floorRows = 1000

    private let client: PostgresClient
    private let intervalSeconds: Int
    private let logger: Logger

    init(client: PostgresClient, intervalSeconds: Int = 5, logger: Logger) {
        self.client = client
        self.intervalSeconds = intervalSeconds
        self.logger = logger
    }

    func run() async throws {
        await repeatUntilShutdown(every: intervalSeconds, logger: logger, failure: "statistics check failed") {
            try await analyseOutgrown()
        }
    }

    /// One pass: analyses every table that outgrew its statistics; returns their names.
    @discardableResult
    func analyseOutgrown() async throws -> [String] {
        let tables = try await outgrown()
        for table in tables {
            // ANALYZE needs the table's owner, the migration role: `analyze_owned_table` (sql/0016)
            // runs it for a table the engine's role may change. Read the answer: its error comes with it.
            for try await _ in try await client.query("SELECT analyze_owned_table(\(table))::text", logger: logger).decode(String?.self) {}
            logger.info("analysed a table that outgrew its statistics", metadata: ["table": "\(table)"])
        }
        return tables
    }

    /// Named query `outgrown_statistics`: live rows (the statistics collector's running count)
    /// against the row count the planner believes (-1 when never analysed).
    func outgrown() async throws -> [String] {
        let rows = try await client.query(
            """
            SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.schemaname = current_schema() AND s.relname = ANY(\(Self.tables))
              AND s.n_live_tup > 2 * greatest(c.reltuples, 0) + \(Self.floorRows)
            ORDER BY s.relname
            """, logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) where Self.tables.contains(name) { names.append(name) }
        return names
    }
}
