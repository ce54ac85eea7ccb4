import Foundation
import ProfileModel

/// The key figures of a range as metric/value rows: what the dashboard shows at the top and the
/// `profile-api report` command prints.
extension Reports {
    static let summaryColumns = ["metric", "value"]

    func summary(_ scope: Scope) async throws -> ReportTable {
        Self.summary(traffic: try await traffic(scope), pipeline: try await pipeline(scope))
    }

    /// The key figures from the traffic and pipeline reports of the same scope.
    static func summary(traffic: ReportTable, pipeline: ReportTable) -> ReportTable {
        let entered = Dictionary(pipeline.rows.compactMap { row in row["stage"]?.stringValue.map { ($0, row["entered"] ?? 0) } },
                                 uniquingKeysWith: { first, _ in first })
        var rows: [[String: JSONValue]] = ["visitors", "sessions", "page_views", "pages_per_session", "avg_time_on_site_seconds", "bounce_rate"]
            .map { ["metric": .string($0), "value": traffic.totals[$0] ?? .null] }
        for stage in [LeadStage.known, .mql, .sql, .customer].map(\.rawValue) {
            rows.append(["metric": .string("new_\(stage)"), "value": entered[stage] ?? 0])
        }
        var table = ReportTable("summary", columns: Self.summaryColumns, rows: .array(rows.map(JSONValue.object)))
        table.source = traffic.source
        return table
    }
}
