import Foundation
import ProfileModel
import ServiceKit

/// ROI of personalization: of the profiles first served by the recommendation or context
/// endpoint in the range, the share that reached the goal stage (`goal`, default `mql`, or any
/// later stage) after being served and before the range ended — for those shown recommendations
/// versus the holdout group — with the difference and its 95 % confidence interval.
extension Reports {
    static let roiColumns = ["group", "visitors", "converted", "conversion_rate"]
    static let stages = LeadStage.names

    /// Named query `report_personalization_roi`.
    func personalizationROI(_ scope: Scope) async throws -> ReportTable {
        let goal = scope.request.query["goal"] ?? LeadStage.mql.rawValue
        guard let rank = Self.stages.firstIndex(of: goal), rank > 0 else {
            throw APIError.badRequest("invalid_parameter", "'goal' must be one of known, engaged, mql, sql, customer", field: "goal")
        }
        var binds = binds(scope)
        binds.append(Array(Self.stages[rank...]), context: .default)
        let result = try await json("""
            WITH \(Self.parameters), e AS (
                SELECT pe.profile_id, pe.holdout, pe.first_served_at FROM personalization_exposures pe
                WHERE pe.site_id = $1 AND \(Self.inRange("pe.first_served_at")) AND \(Self.inSegment("pe.profile_id"))
            ),
            g AS (
                SELECT e.holdout, count(*) AS visitors,
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM stage_transitions t
                           WHERE t.profile_id = e.profile_id AND t.to_stage = ANY ($7::text[])
                             AND t.transitioned_at >= e.first_served_at
                             AND t.transitioned_at < (($4::date + 1)::timestamp AT TIME ZONE $2::text))) AS converted
                FROM e GROUP BY e.holdout
            ),
            groups(holdout, name) AS (VALUES (false, 'personalized'), (true, 'holdout'))
            SELECT jsonb_agg(jsonb_build_object('group', name, 'visitors', coalesce(visitors, 0), 'converted', coalesce(converted, 0),
                                                'conversion_rate', round(converted::numeric / nullif(visitors, 0), 4)) ORDER BY holdout)::text
            FROM groups LEFT JOIN g USING (holdout)
            """, binds)
        var table = ReportTable("personalization", columns: Self.roiColumns, rows: result)
        func count(_ group: Int, _ name: String) -> Int { table.rows.count > group ? table.rows[group][name]?.intValue ?? 0 : 0 }
        let interval = TwoProportionInterval(successes1: count(0, "converted"), trials1: count(0, "visitors"),
                                             successes2: count(1, "converted"), trials2: count(1, "visitors"))
        func rounded(_ value: Double?) -> JSONValue { value.map { .number(($0 * 10_000).rounded() / 10_000) } ?? .null }
        let holdoutRate = count(1, "visitors") > 0 ? Double(count(1, "converted")) / Double(count(1, "visitors")) : 0
        table.totals = [
            "difference": rounded(interval?.difference), "ci95_low": rounded(interval?.low), "ci95_high": rounded(interval?.high),
            "relative_lift": rounded(interval.flatMap { holdoutRate > 0 ? $0.difference / holdoutRate : nil }),
        ]
        table.details = ["goal": .string(goal), "confidence": 0.95,
                         "method": "two-proportion normal approximation, unpooled standard error"]
        return table
    }
}
