import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The engine's side of the analytics rollups (sql/0005, per segment sql/0012): which zones they
/// are kept in, and recomputing them for recent days or for everything.
struct AnalyticsRollups: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Named query `analytics_register_zones`: adds the configured zones (existing ones stay).
    func register(timeZones: [String]) async throws {
        try await client.query(
            "INSERT INTO analytics_time_zones (time_zone) SELECT unnest(\(timeZones)::text[]) ON CONFLICT DO NOTHING", logger: logger)
    }

    /// Named query `analytics_refresh_recent`: the last `days` days (in every zone: the UTC dates
    /// are widened by one on each side), the session-path and journey rollups (site-wide and per
    /// segment) only if `journeys`; returns the rollup rows written.
    func refreshRecent(days: Int, journeys: Bool = true) async throws -> Int64 {
        let written = try await scalar("""
            SELECT analytics_refresh((now() AT TIME ZONE 'UTC')::date - \(days)::int - 1, (now() AT TIME ZONE 'UTC')::date + 2, \(journeys))
            """)
        return written + (try await refreshSegments("""
            SELECT analytics_refresh_segments((now() AT TIME ZONE 'UTC')::date - \(days)::int - 1, (now() AT TIME ZONE 'UTC')::date + 2, \(journeys))
            """))
    }

    /// Named query `analytics_rebuild`: every day from the first session or matched page to tomorrow.
    func rebuild() async throws -> Int64 {
        let written = try await scalar(PostgresQuery(unsafeSQL: """
            SELECT analytics_refresh(\(Self.firstDay), (now() AT TIME ZONE 'UTC')::date + 2)
            """))
        return written + (try await refreshSegments(PostgresQuery(unsafeSQL: """
            SELECT analytics_refresh_segments(\(Self.firstDay), (now() AT TIME ZONE 'UTC')::date + 2)
            """)))
    }

    /// The day before the first session or matched page (today when there is none).
    private static let firstDay = """
        coalesce(least((SELECT min(started_at) FROM sessions), (SELECT min(detected_at) FROM product_interests)), now())::date - 1
        """

    /// Named query `analytics_refresh_segments` (sql/0012) runs in REPEATABLE READ: the membership
    /// changes it consumes and the members it recomputes from must be one snapshot. A refresh that
    /// overlaps another engine's fails with a serialization error and is retried on the next tick.
    private func refreshSegments(_ query: PostgresQuery) async throws -> Int64 {
        try await client.transaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            for try await value in try await connection.query(query, logger: logger).decode(Int64.self) { return value }
            return 0
        }
    }

    private func scalar(_ query: PostgresQuery) async throws -> Int64 {
        for try await value in try await client.query(query, logger: logger).decode(Int64.self) { return value }
        return 0
    }
}
