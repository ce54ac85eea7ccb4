import Foundation

/// Traffic and engagement trends: visitors, sessions, page views, pages per session, average
/// time on site and bounce rate per day or ISO week; every period of the range has a row.
extension Reports {
    static let trafficColumns = ["period_start", "visitors", "sessions", "page_views", "pages_per_session",
                                 "avg_time_on_site_seconds", "bounce_rate", "bounced_sessions"]

    /// Rows of sql/0005's analytics_traffic_rollup for the request.
    private static let trafficFromRollup = """
        SELECT period_start, visitors, sessions, bounced_sessions, duration_seconds, page_views
        FROM analytics_traffic_rollup
        WHERE site_id = $1 AND time_zone = $2::text AND period = $5::text AND period_start BETWEEN $3::date AND $4::date
        """

    /// Rows of sql/0012's analytics_segment_traffic_rollup: the segment's current members.
    private static let trafficFromSegmentRollup = """
        SELECT period_start, visitors, sessions, bounced_sessions, duration_seconds, page_views
        FROM analytics_segment_traffic_rollup
        WHERE segment_id = $6 AND site_id = $1 AND time_zone = $2::text AND period = $5::text AND period_start BETWEEN $3::date AND $4::date
        """

    /// The same figures computed from the raw tables (zones without rollups).
    private static let trafficLive = """
        SELECT period_start, visitors, sessions, bounced_sessions, duration_seconds, page_views
        FROM analytics_traffic($1, $2::text, $3::date, $4::date + 1, $6::bigint) WHERE period = $5::text
        """

    /// Above this many sessions in a range, its distinct visitors come from the daily HyperLogLog
    /// sketches (about 1.6 % error, milliseconds) instead of an exact count (seconds at millions).
    static let exactVisitorsMaxSessions = 200_000

    /// Named query `report_traffic`: one row per period plus range totals. Distinct visitors over the
    /// whole range cannot be summed from the periods (a returning visitor would count twice): they
    /// are counted from the sessions, or estimated from the rollup's sketches for big ranges. A
    /// segment's are counted member by member (sessions_profile_started_idx): a segment is a small
    /// part of the visitors, and the sketches are of the whole site.
    func traffic(_ scope: Scope) async throws -> ReportTable {
        let source = scope.source(rollup: Self.trafficFromRollup, segmentRollup: Self.trafficFromSegmentRollup, live: Self.trafficLive)
        var binds = binds(scope)
        // The sketches are of the whole site: a segment's visitors are always counted.
        binds.append(scope.rollups && scope.segmentID == nil, context: .default)
        binds.append(Self.exactVisitorsMaxSessions, context: .default)
        let result = try await json("""
            WITH \(Self.parameters), src AS (\(source)),
            periods AS (
                SELECT p::date AS period_start
                FROM generate_series($3::date, $4::date, CASE WHEN $5::text = 'week' THEN interval '7 days' ELSE interval '1 day' END) p
            ),
            r AS (
                SELECT periods.period_start, coalesce(visitors, 0) AS visitors, coalesce(sessions, 0) AS sessions,
                       coalesce(bounced_sessions, 0) AS bounced, coalesce(duration_seconds, 0) AS duration, coalesce(page_views, 0) AS views
                FROM periods LEFT JOIN src USING (period_start)
            ),
            totals AS (
                SELECT sum(sessions) AS sessions, sum(bounced) AS bounced, sum(duration) AS duration, sum(views) AS views,
                       $7::bool AND sum(sessions) > $8 AS estimated
                FROM r
            ),
            visitors AS (
                SELECT CASE WHEN (SELECT estimated FROM totals) THEN analytics_estimate_visitors($1, $2::text, $3::date, $4::date + 1)
                            WHEN $6::bigint IS NOT NULL THEN (SELECT count(*) FROM segment_memberships m
                                  WHERE m.segment_id = $6::bigint AND m.left_at IS NULL AND EXISTS (SELECT 1 FROM sessions se
                                        WHERE se.profile_id = m.profile_id AND se.site_id = $1 AND NOT se.is_bot AND \(Self.inRange("se.started_at"))))
                            ELSE (SELECT count(*) FROM (SELECT DISTINCT se.profile_id FROM sessions se
                                  WHERE se.site_id = $1 AND NOT se.is_bot AND \(Self.inRange("se.started_at"))) v)
                       END AS n
            )
            SELECT jsonb_build_object(
                'rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'period_start', to_char(period_start, 'YYYY-MM-DD'), 'visitors', visitors, 'sessions', sessions,
                        'page_views', views, 'bounced_sessions', bounced,
                        'pages_per_session', round(views::numeric / nullif(sessions, 0), 2),
                        'avg_time_on_site_seconds', round(duration::numeric / nullif(sessions, 0), 1),
                        'bounce_rate', round(bounced::numeric / nullif(sessions, 0), 4)) ORDER BY period_start) FROM r), '[]'),
                'totals', (SELECT jsonb_build_object(
                        'visitors', (SELECT n FROM visitors), 'visitors_estimated', estimated, 'sessions', sessions, 'page_views', views, 'bounced_sessions', bounced,
                        'pages_per_session', round(views::numeric / nullif(sessions, 0), 2),
                        'avg_time_on_site_seconds', round(duration::numeric / nullif(sessions, 0), 1),
                        'bounce_rate', round(bounced::numeric / nullif(sessions, 0), 4)) FROM totals)
            )::text
            """, binds)
        var table = ReportTable("traffic", columns: Self.trafficColumns, rows: result["rows"] ?? [])
        table.totals = result["totals"]?.objectValue ?? [:]
        table.source = scope.rollups ? "rollup" : "live"
        return table
    }
}
