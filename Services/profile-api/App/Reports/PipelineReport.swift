import Foundation

/// The lead pipeline from `stage_transitions`: per stage, the profiles in it now, those that
/// entered it in the range, how many of those moved on to a later stage before the range ended
/// (conversion) and how long profiles stayed in it before their next transition.
extension Reports {
    static let pipelineColumns = ["stage", "current_profiles", "entered", "advanced", "conversion_to_next",
                                  "avg_hours_in_stage", "median_hours_in_stage"]

    /// Named query `report_pipeline`.
    func pipeline(_ scope: Scope) async throws -> ReportTable {
        let result = try await json("""
            WITH \(Self.parameters), stages(stage, ord) AS (
                VALUES ('anonymous', 0), ('known', 1), ('engaged', 2), ('mql', 3), ('sql', 4), ('customer', 5)
            ),
            t AS (
                SELECT st.profile_id, st.to_stage, st.transitioned_at,
                       lead(st.transitioned_at) OVER w AS next_at, lead(st.to_stage) OVER w AS next_stage
                FROM stage_transitions st
                WHERE st.site_id = $1 AND \(Self.inSegment("st.profile_id"))
                WINDOW w AS (PARTITION BY st.profile_id ORDER BY st.transitioned_at, st.id)
            ),
            entered AS (
                SELECT t.*, s.ord, n.ord AS next_ord,
                       CASE WHEN t.next_at < (($4::date + 1)::timestamp AT TIME ZONE $2::text)
                            THEN extract(epoch FROM t.next_at - t.transitioned_at) / 3600 END AS hours
                FROM t JOIN stages s ON s.stage = t.to_stage LEFT JOIN stages n ON n.stage = t.next_stage
                WHERE \(Self.inRange("t.transitioned_at"))
            ),
            current AS (
                SELECT p.stage, count(*) AS n FROM visitor_profiles p
                WHERE p.site_id = $1 AND p.merged_into IS NULL AND \(Self.inSegment("p.id")) GROUP BY p.stage
            ),
            r AS (
                SELECT s.stage, s.ord, coalesce(c.n, 0) AS current_profiles,
                       (SELECT count(*) FROM entered e WHERE e.to_stage = s.stage) AS entered,
                       (SELECT count(*) FROM entered e WHERE e.to_stage = s.stage AND e.next_ord > e.ord AND e.hours IS NOT NULL) AS advanced,
                       (SELECT round(avg(hours)::numeric, 2) FROM entered e WHERE e.to_stage = s.stage) AS avg_hours,
                       (SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours))::numeric, 2) FROM entered e
                         WHERE e.to_stage = s.stage AND e.hours IS NOT NULL) AS median_hours
                FROM stages s LEFT JOIN current c ON c.stage = s.stage
            )
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                'stage', stage, 'current_profiles', current_profiles, 'entered', entered, 'advanced', advanced,
                'conversion_to_next', round(advanced::numeric / nullif(entered, 0), 4),
                'avg_hours_in_stage', avg_hours, 'median_hours_in_stage', median_hours) ORDER BY ord), '[]')::text
            FROM r
            """, binds(scope))
        var table = ReportTable("pipeline", columns: Self.pipelineColumns, rows: result)
        table.totals = [
            "current_profiles": .number(table.rows.reduce(0) { $0 + ($1["current_profiles"]?.doubleValue ?? 0) }),
            "entered": .number(table.rows.reduce(0) { $0 + ($1["entered"]?.doubleValue ?? 0) }),
        ]
        return table
    }
}
