import Foundation
import ServiceKit

/// Top pages with their entries, exits and exit rate; `sort=entries` or `sort=exits` turns it
/// into the entry-page or exit-page list.
extension Reports {
    static let pageColumns = ["path", "views", "entries", "exits", "exit_rate"]

    private static let pagesFromRollup = """
        SELECT path, views, entries, exits FROM analytics_page_rollup
        WHERE site_id = $1 AND time_zone = $2::text AND day BETWEEN $3::date AND $4::date
        """

    private static let pagesFromSegmentRollup = """
        SELECT path, views, entries, exits FROM analytics_segment_page_rollup
        WHERE segment_id = $6 AND site_id = $1 AND time_zone = $2::text AND day BETWEEN $3::date AND $4::date
        """

    private static let pagesLive = """
        SELECT path, views, entries, exits FROM analytics_pages($1, $2::text, $3::date, $4::date + 1, $6::bigint)
        """

    /// Named query `report_pages`.
    func pages(_ scope: Scope) async throws -> ReportTable {
        let sort = scope.request.query["sort"] ?? "views"
        guard ["views", "entries", "exits"].contains(sort) else {
            throw APIError.badRequest("invalid_parameter", "'sort' must be views, entries or exits", field: "sort")
        }
        let limit = try option(scope, "limit", default: 20, 1...500)
        var binds = binds(scope)
        binds.append(sort, context: .default)
        binds.append(limit, context: .default)
        let source = scope.source(rollup: Self.pagesFromRollup, segmentRollup: Self.pagesFromSegmentRollup, live: Self.pagesLive)
        let result = try await json("""
            WITH \(Self.parameters), src AS (\(source)),
            per_path AS (SELECT path, sum(views) AS views, sum(entries) AS entries, sum(exits) AS exits FROM src GROUP BY path),
            ranked AS (
                SELECT * FROM per_path
                ORDER BY CASE $7::text WHEN 'entries' THEN entries WHEN 'exits' THEN exits ELSE views END DESC, path
                LIMIT $8
            )
            SELECT jsonb_build_object(
                'rows', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'path', path, 'views', views, 'entries', entries, 'exits', exits,
                        'exit_rate', round(exits::numeric / nullif(views, 0), 4))
                    ORDER BY CASE $7::text WHEN 'entries' THEN entries WHEN 'exits' THEN exits ELSE views END DESC, path) FROM ranked), '[]'),
                'totals', (SELECT jsonb_build_object('views', coalesce(sum(views), 0), 'entries', coalesce(sum(entries), 0),
                                                     'exits', coalesce(sum(exits), 0), 'paths', count(*)) FROM per_path)
            )::text
            """, binds)
        var table = ReportTable("pages", columns: Self.pageColumns, rows: result["rows"] ?? [])
        table.totals = result["totals"]?.objectValue ?? [:]
        table.details = ["sort": .string(sort)]
        table.source = scope.rollups ? "rollup" : "live"
        return table
    }
}
