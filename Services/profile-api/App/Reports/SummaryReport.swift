import Foundation
import Shared

/// The key figures of a range as metric/value rows: what the dashboard shows at the top and the
/// `profile-api report` command prints.
extension Reports {
    static let summaryColumns = ["metric", "value"]

    func summary(_ scope: Scope) async throws -> ReportTable {
        let traffic = try await traffic(scope)
        let pipeline = try await pipeline(scope)
        let entered = Dictionary(pipeline.rows.compactMap { row in row["stage"]?.stringValue.map { ($0, row["entered"] ?? 0) } },
                                 uniquingKeysWith: { first, _ in first })
        var rows: [[String: JSONValue]] = ["visitors", "sessions", "page_views", "pages_per_session", "avg_time_on_site_seconds", "bounce_rate"]
            .map { ["metric": .string($0), "value": traffic.totals[$0] ?? .null] }
        for stage in ["known", "mql", "sql", "customer"] {
            rows.append(["metric": .string("new_\(stage)"), "value": entered[stage] ?? 0])
        }
        var table = ReportTable("summary", columns: Self.summaryColumns, rows: .array(rows.map(JSONValue.object)))
        table.source = traffic.source
        return table
    }
}
