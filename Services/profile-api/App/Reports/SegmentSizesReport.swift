import Foundation

/// Segment sizes over time from the membership history: members at the end of each day or
/// week (local time), and how many entered and left during it.
extension Reports {
    static let segmentColumns = ["period_start", "segment", "members", "entered", "left"]

    /// Named query `report_segment_sizes`: members before the range, plus a running sum of each
    /// period's entries minus exits (one pass over the memberships, not one per period).
    func segmentSizes(_ scope: Scope) async throws -> ReportTable {
        let result = try await json("""
            WITH \(Self.parameters), periods AS (
                SELECT p::date AS period_start
                FROM generate_series($3::date, $4::date, CASE WHEN $5::text = 'week' THEN interval '7 days' ELSE interval '1 day' END) p
            ),
            segs AS (
                SELECT g.id, g.slug FROM segments g
                WHERE (g.site_id IS NULL OR g.site_id = $1) AND ($6::bigint IS NULL OR g.id = $6::bigint)
            ),
            m AS (
                SELECT m.segment_id, m.entered_at, m.left_at FROM segment_memberships m JOIN segs ON segs.id = m.segment_id
                WHERE m.site_id = $1 AND m.entered_at < (($4::date + 1)::timestamp AT TIME ZONE $2::text)
            ),
            before AS (
                SELECT segment_id, count(*) AS n FROM m
                WHERE m.entered_at < ($3::date::timestamp AT TIME ZONE $2::text)
                  AND (m.left_at IS NULL OR m.left_at >= ($3::date::timestamp AT TIME ZONE $2::text))
                GROUP BY 1
            ),
            changes AS (
                SELECT segment_id, at, entered, left_count FROM (
                    SELECT segment_id, entered_at AS at, 1 AS entered, 0 AS left_count FROM m
                    UNION ALL
                    SELECT segment_id, left_at, 0, 1 FROM m WHERE left_at < (($4::date + 1)::timestamp AT TIME ZONE $2::text)
                ) c
                WHERE at >= ($3::date::timestamp AT TIME ZONE $2::text)
            ),
            per_period AS (
                SELECT segment_id,
                       CASE WHEN $5::text = 'week' THEN date_trunc('week', at AT TIME ZONE $2::text)::date ELSE (at AT TIME ZONE $2::text)::date END
                           AS period_start,
                       sum(entered) AS entered, sum(left_count) AS left_count
                FROM changes GROUP BY 1, 2
            ),
            r AS (
                SELECT p.period_start, segs.slug, coalesce(c.entered, 0) AS entered, coalesce(c.left_count, 0) AS left_count,
                       coalesce(b.n, 0) + sum(coalesce(c.entered, 0) - coalesce(c.left_count, 0))
                           OVER (PARTITION BY segs.id ORDER BY p.period_start) AS members
                FROM periods p CROSS JOIN segs
                LEFT JOIN per_period c ON c.segment_id = segs.id AND c.period_start = p.period_start
                LEFT JOIN before b ON b.segment_id = segs.id
            )
            SELECT coalesce(jsonb_agg(jsonb_build_object('period_start', to_char(period_start, 'YYYY-MM-DD'), 'segment', slug,
                                                         'members', members, 'entered', entered, 'left', left_count)
                                      ORDER BY period_start, slug), '[]')::text
            FROM r
            """, binds(scope))
        return ReportTable("segments", columns: Self.segmentColumns, rows: result)
    }
}
