import Foundation

/// Top interests (catalog items and categories) over time: for the `limit` targets with the
/// most signals in the range, their signals and interested profiles per day or week.
extension Reports {
    static let interestColumns = ["period_start", "target_kind", "target_slug", "target_name", "signals", "profile_days"]

    private static let interestsFromRollup = """
        SELECT day, target_kind, target_id, profiles, signals FROM analytics_interest_rollup
        WHERE site_id = $1 AND time_zone = $2::text AND day BETWEEN $3::date AND $4::date
        """

    private static let interestsFromSegmentRollup = """
        SELECT day, target_kind, target_id, profiles, signals FROM analytics_segment_interest_rollup
        WHERE segment_id = $6 AND site_id = $1 AND time_zone = $2::text AND day BETWEEN $3::date AND $4::date
        """

    private static let interestsLive = """
        SELECT day, target_kind, target_id, profiles, signals FROM analytics_interests($1, $2::text, $3::date, $4::date + 1, $6::bigint)
        """

    /// Named query `report_interests`. `profile_days` sums each day's distinct profiles.
    func interests(_ scope: Scope) async throws -> ReportTable {
        let limit = try option(scope, "limit", default: 10, 1...100)
        var binds = binds(scope)
        binds.append(limit, context: .default)
        let source = scope.source(rollup: Self.interestsFromRollup, segmentRollup: Self.interestsFromSegmentRollup, live: Self.interestsLive)
        let result = try await json("""
            WITH \(Self.parameters), src AS (\(source)),
            targets AS (
                SELECT src.target_kind, src.target_id, coalesce(ci.slug, cc.slug) AS slug, coalesce(ci.name, cc.name) AS name,
                       sum(src.signals) AS signals, sum(src.profiles) AS profile_days
                FROM src
                LEFT JOIN catalog_items ci ON src.target_kind = 'item' AND ci.id = src.target_id
                LEFT JOIN catalog_categories cc ON src.target_kind = 'category' AND cc.id = src.target_id
                GROUP BY 1, 2, 3, 4
                ORDER BY sum(src.signals) DESC, 3 LIMIT $7
            ),
            r AS (
                SELECT CASE WHEN $5::text = 'week' THEN date_trunc('week', src.day)::date ELSE src.day END AS period_start,
                       t.target_kind, t.slug, t.name, sum(src.signals) AS signals, sum(src.profiles) AS profile_days, t.signals AS rank
                FROM src JOIN targets t USING (target_kind, target_id)
                GROUP BY 1, 2, 3, 4, 7
            )
            SELECT jsonb_build_object(
                'rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'period_start', to_char(period_start, 'YYYY-MM-DD'), 'target_kind', target_kind, 'target_slug', slug,
                        'target_name', name, 'signals', signals, 'profile_days', profile_days)
                    ORDER BY period_start, rank DESC, slug) FROM r), '[]'),
                'top', coalesce((SELECT jsonb_agg(jsonb_build_object('target_kind', target_kind, 'target_slug', slug, 'target_name', name,
                                                                     'signals', signals, 'profile_days', profile_days)
                                 ORDER BY signals DESC, slug) FROM targets), '[]')
            )::text
            """, binds)
        var table = ReportTable("interests", columns: Self.interestColumns, rows: result["rows"] ?? [])
        table.details = ["top": result["top"] ?? []]
        table.source = scope.rollups ? "rollup" : "live"
        return table
    }
}
