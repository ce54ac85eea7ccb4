import Foundation
import HummingbirdTesting
import PostgresNIO
@testable import ProfileAPIApp
import ServiceKit

/// Loads Tests/fixtures/analytics.sql (also used by the dashboard browser test) and refreshes
/// the rollups the way the engine does.
enum AnalyticsFixture {
    static func load(_ db: TestDatabase) async throws {
        let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("Tests/fixtures/analytics.sql"), encoding: .utf8)
        let statements = text.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        for statement in statements {
            try await db.client.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
        }
    }

    /// Keeps rollups in `zones` too and recomputes March 2026, per segment too.
    static func refresh(_ db: TestDatabase, zones: [String] = []) async throws {
        try await db.client.query("INSERT INTO analytics_time_zones (time_zone) SELECT unnest(\(zones)::text[]) ON CONFLICT DO NOTHING",
                                  logger: TestDatabase.logger)
        try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01')", logger: TestDatabase.logger)
        try await refreshSegments(db, from: "2026-03-01", to: "2026-04-01")
    }

    /// `analytics_refresh_segments` (sql/0012) in the REPEATABLE READ transaction it requires.
    static func refreshSegments(_ db: TestDatabase, from: String, to: String, journeys: Bool = true) async throws {
        try await db.client.transaction(logger: TestDatabase.logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: TestDatabase.logger)
            try await connection.query("SELECT analytics_refresh_segments(\(from)::date, \(to)::date, \(journeys))", logger: TestDatabase.logger)
        }
    }
}

extension AnalyticsFixture {
    /// The setup most report tests share: the fixture loaded (and its rollups refreshed), a live
    /// profile API and a key with the `reports` scope.
    static func withReportsAPI(refresh: Bool = true,
                               _ body: @escaping @Sendable (TestDatabase, any TestClientProtocol, String) async throws -> Void) async throws {
        try await TestDatabase.with { db in
            try await load(db)
            if refresh { try await self.refresh(db) }
            let api = APIHarness(db: db)
            let analyst = try await api.key([.reports])
            try await api.run { client in try await body(db, client, analyst) }
        }
    }
}
