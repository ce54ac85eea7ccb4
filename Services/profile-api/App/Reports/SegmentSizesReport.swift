import Foundation
import Shared

/// Segment sizes over time from the membership history: members at the end of each day or
/// week (local time), and how many entered and left during it.
extension Reports {
    static let segmentColumns = ["period_start", "segment", "members", "entered", "left"]

    /// Named query `report_segment_sizes`.
    func segmentSizes(_ scope: Scope) async throws -> ReportTable {
        let result = try await json("""
            WITH \(Self.parameters), periods AS (
                SELECT p::date AS period_start,
                       (p::date::timestamp AT TIME ZONE $2::text) AS lo,
                       ((p::date + CASE WHEN $5::text = 'week' THEN 7 ELSE 1 END)::timestamp AT TIME ZONE $2::text) AS hi
                FROM generate_series($3::date, $4::date, CASE WHEN $5::text = 'week' THEN interval '7 days' ELSE interval '1 day' END) p
            ),
            segs AS (
                SELECT g.id, g.slug FROM segments g
                WHERE (g.site_id IS NULL OR g.site_id = $1) AND ($6::bigint IS NULL OR g.id = $6::bigint)
            ),
            m AS (
                SELECT m.segment_id, m.entered_at, m.left_at FROM segment_memberships m
                JOIN segs ON segs.id = m.segment_id
                WHERE m.site_id = $1
                  AND m.entered_at < (($4::date + 1)::timestamp AT TIME ZONE $2::text)
                  AND (m.left_at IS NULL OR m.left_at >= ($3::date::timestamp AT TIME ZONE $2::text))
            ),
            r AS (
                SELECT p.period_start, segs.slug,
                       count(*) FILTER (WHERE m.entered_at < p.hi AND (m.left_at IS NULL OR m.left_at >= p.hi)) AS members,
                       count(*) FILTER (WHERE m.entered_at >= p.lo AND m.entered_at < p.hi) AS entered,
                       count(*) FILTER (WHERE m.left_at >= p.lo AND m.left_at < p.hi) AS left_count
                FROM periods p CROSS JOIN segs LEFT JOIN m ON m.segment_id = segs.id AND m.entered_at < p.hi
                GROUP BY 1, 2
            )
            SELECT coalesce(jsonb_agg(jsonb_build_object('period_start', to_char(period_start, 'YYYY-MM-DD'), 'segment', slug,
                                                         'members', members, 'entered', entered, 'left', left_count)
                                      ORDER BY period_start, slug), '[]')::text
            FROM r
            """, binds(scope))
        return ReportTable("segments", columns: Self.segmentColumns, rows: result)
    }
}
