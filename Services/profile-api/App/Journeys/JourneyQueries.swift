import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Site-wide navigation analysis over the sessions started in [from, to), optionally of one
/// segment: common paths, entry and exit pages, drop-off points, distributions and funnels.
/// The figures come from the engine's journey rollups (sql/0007, per segment sql/0012) when the
/// range is whole local days of a rollup zone (`source: rollup`), otherwise from the raw tables
/// through the same SQL functions (`source: live`).
struct JourneyQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A range resolved against the database: the site's id (nil: no such site, so nothing is
    /// found), the segment's id, and the instants bounding the sessions' starts.
    struct Scope: Sendable {
        let siteID: Int64?
        let segmentID: Int64?
        let from: Date
        let to: Date
    }

    /// Above this many sessions an estimated n-gram list (days that kept only their most frequent
    /// n-grams) is answered as is; below it the exact list is computed from the session paths.
    static let exactPathsMaxSessions = Reports.exactVisitorsMaxSessions

    /// SQL fragment: the id of segment `slug` for site `site` (the site's own before a built-in one).
    static func segmentID(site: String, slug: String) -> String {
        "(SELECT g.id FROM segments g WHERE g.slug = \(slug) AND (g.site_id IS NULL OR g.site_id = \(site)) ORDER BY g.site_id NULLS LAST LIMIT 1)"
    }

    /// Named query `journey_scope`: site and segment ids of the slugs (an unknown segment is a 400).
    func resolve(site: String, segment: String?, from: Date, to: Date) async throws -> Scope {
        var binds = PostgresBindings()
        binds.append(site, context: .default)
        binds.append(segment, context: .default)
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: """
                WITH site AS (SELECT id FROM sites WHERE slug = $1)
                SELECT (SELECT id FROM site), \(Self.segmentID(site: "(SELECT id FROM site)", slug: "$2::text"))
                """, binds: binds), logger: logger)
        for try await (siteID, segmentID) in rows.decode((Int64?, Int64?).self) {
            if let segment, segmentID == nil {
                throw APIError.badRequest("invalid_parameter", "no segment '\(segment)' for this site", field: "segment")
            }
            return Scope(siteID: siteID, segmentID: segmentID, from: from, to: to)
        }
        throw APIError.unavailable("the database gave no answer; retry later")
    }

    /// The binds every journeys query starts with: $1 site id, $2 from, $3 to, $4 segment id.
    private static func binds(_ scope: Scope) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(scope.siteID, context: .default)
        binds.append(scope.from, context: .default)
        binds.append(scope.to, context: .default)
        binds.append(scope.segmentID, context: .default)
        return binds
    }

    /// The first CTEs of every journeys query: the parameters' types, and the rollup zone whose
    /// local midnights both ends of the range are (UTC first). A segment has rollups of its own
    /// (sql/0012).
    private static let rollupZone = """
        parameters AS (SELECT $1::bigint, $2::timestamptz, $3::timestamptz, $4::bigint),
        zone AS (
            SELECT time_zone AS z FROM analytics_time_zones
            WHERE ($2::timestamptz AT TIME ZONE time_zone)::time = '00:00'
              AND ($3::timestamptz AT TIME ZONE time_zone)::time = '00:00'
            ORDER BY time_zone <> 'UTC', time_zone LIMIT 1
        )
        """

    /// SQL fragment: the journey rollup rows of the range's days in the chosen zone.
    private static let rollupDays = """
        site_id = $1 AND time_zone = (SELECT z FROM zone)
        AND day >= ($2::timestamptz AT TIME ZONE (SELECT z FROM zone))::date AND day < ($3::timestamptz AT TIME ZONE (SELECT z FROM zone))::date
        """

    /// Runs a query whose one row and column is a JSON object; with `settings`, in a transaction
    /// of its own that applies them to this query only (SET LOCAL).
    private func json(_ sql: String, _ binds: PostgresBindings, settings: [String] = []) async throws -> [String: JSONValue] {
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        guard !settings.isEmpty else { return try await Self.object(try await client.query(query, logger: logger)) }
        return try await client.transaction(logger: logger) { connection in
            for setting in settings {
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL \(setting)"), logger: logger)
            }
            return try await Self.object(try await connection.query(query, logger: logger))
        }
    }

    private static func object(_ rows: PostgresRowSequence) async throws -> [String: JSONValue] {
        for try await text in rows.decode(String?.self) {
            return (try? JSONDecoder().decode(JSONValue.self, from: Data((text ?? "{}").utf8)))?.objectValue ?? [:]
        }
        return [:]
    }

    /// A segment's journey rollup keeps every n-gram (sql/0012): a quarter of a segment of 7 % of
    /// the visitors is 460,000 rows and 270,000 keys at 10,000,000 page views. The planner, which
    /// cannot see the zone and days behind the parameters, expected 900 rows: it read them through
    /// the primary key one heap page at a time (2 s) and sorted them by their text-array keys to
    /// group them (1.4 s, spilling to disk with the default work_mem). A bitmap scan of the two
    /// partial indexes of sql/0012 reads the same rows in page order (the filter below is written
    /// so that it matches their predicates), and hashing groups them in memory: 0.75 s.
    static let segmentJourneysSettings = ["work_mem = '64MB'", "enable_indexscan = off", "enable_sort = off"]

    /// Named query `journeys`: the most common sequences of `length` consecutive pages within a
    /// session (`paths`), entry and exit pages, each page's exit rate among the most viewed
    /// (`drop_offs`), sessions by pages and by time on site (`distributions`), and `source`.
    /// From the rollup, days with more distinct n-grams than they keep make `paths_estimated`
    /// true: each count may then be short by up to `paths_max_undercount`.
    func journeys(_ scope: Scope, length: Int, limit: Int) async throws -> [String: JSONValue] {
        var binds = Self.binds(scope)
        binds.append(length, context: .default)
        binds.append(limit, context: .default)
        binds.append(Self.exactPathsMaxSessions, context: .default)
        return try await json("""
            WITH \(Self.rollupZone),
            figures AS (
                SELECT kind, key, sum(n)::bigint AS n FROM analytics_journey_rollup
                WHERE $4::bigint IS NULL AND \(Self.rollupDays)
                  AND CASE kind WHEN 'path' THEN cardinality(key) = $5 WHEN 'path_omitted' THEN key = ARRAY[$5::text] ELSE true END
                GROUP BY kind, key
                UNION ALL
                SELECT kind, key, sum(n)::bigint AS n FROM analytics_segment_journey_rollup
                WHERE segment_id = $4::bigint AND \(Self.rollupDays) AND (kind <> 'path' OR (kind = 'path' AND cardinality(key) = $5))
                GROUP BY kind, key
                UNION ALL
                SELECT kind, key, sum(n)::bigint FROM analytics_journeys($1, 'UTC', $2, $3, $4, true, $5::int)
                WHERE (SELECT z FROM zone) IS NULL
                GROUP BY kind, key
            ),
            totals AS (
                SELECT coalesce(sum(n) FILTER (WHERE kind = 'path_omitted'), 0) AS omitted,
                       coalesce(sum(n) FILTER (WHERE kind = 'sessions'), 0) AS sessions,
                       sum(n) FILTER (WHERE kind = 'pages_sum') AS pages_sum, sum(n) FILTER (WHERE kind = 'seconds_sum') AS seconds_sum
                FROM figures
            ),
            exact_paths AS (
                SELECT key, sum(n)::bigint AS n
                FROM analytics_journeys($1, (SELECT z FROM zone), $2, $3, NULL, false, $5::int)
                WHERE kind = 'path' AND (SELECT omitted > 0 AND sessions <= $7 FROM totals)
                GROUP BY key
            ),
            grams AS (
                SELECT key AS steps, n FROM figures
                WHERE ((kind = 'path' AND $5 >= 2) OR (kind = 'view' AND $5 = 1)) AND NOT (SELECT omitted > 0 AND sessions <= $7 FROM totals)
                UNION ALL
                SELECT key, n FROM exact_paths
            ),
            views AS (SELECT key[1] AS path, n AS views FROM figures WHERE kind = 'view'),
            entries AS (SELECT key[1] AS path, n FROM figures WHERE kind = 'entry'),
            exits AS (SELECT key[1] AS path, n FROM figures WHERE kind = 'exit'),
            estimated AS (SELECT omitted > 0 AND NOT (sessions <= $7) AS yes, omitted FROM totals)
            SELECT jsonb_build_object(
                'source', CASE WHEN (SELECT z FROM zone) IS NULL THEN 'live' ELSE 'rollup' END,
                'paths', coalesce((SELECT jsonb_agg(jsonb_build_object('steps', to_jsonb(steps), 'count', n) ORDER BY n DESC, steps)
                                   FROM (SELECT * FROM grams ORDER BY n DESC, steps LIMIT $6) g), '[]'),
                'paths_estimated', (SELECT yes FROM estimated),
                'paths_max_undercount', (SELECT CASE WHEN yes THEN omitted ELSE 0 END FROM estimated),
                'entry_pages', coalesce((SELECT jsonb_agg(jsonb_build_object('path', path, 'sessions', n) ORDER BY n DESC, path)
                                         FROM (SELECT * FROM entries ORDER BY n DESC, path LIMIT $6) e), '[]'),
                'exit_pages', coalesce((SELECT jsonb_agg(jsonb_build_object('path', path, 'sessions', n) ORDER BY n DESC, path)
                                        FROM (SELECT * FROM exits ORDER BY n DESC, path LIMIT $6) x), '[]'),
                'drop_offs', coalesce((SELECT jsonb_agg(jsonb_build_object('path', v.path, 'views', v.views, 'exits', coalesce(x.n, 0),
                                                                           'exit_rate', round(coalesce(x.n, 0)::numeric / v.views, 4))
                                                        ORDER BY coalesce(x.n, 0)::numeric / v.views DESC, v.views DESC, v.path)
                                       FROM (SELECT * FROM views ORDER BY views DESC, path LIMIT $6) v LEFT JOIN exits x USING (path)), '[]'),
                'distributions', jsonb_build_object(
                    'sessions', (SELECT sessions FROM totals),
                    'pages_per_session', coalesce((SELECT jsonb_agg(jsonb_build_object('pages', b, 'sessions', n) ORDER BY b)
                        FROM (SELECT CASE WHEN key[1]::int >= 10 THEN '10+' ELSE key[1] END AS b, sum(n) AS n
                              FROM figures WHERE kind = 'pages' GROUP BY 1) d), '[]'),
                    'time_on_site', coalesce((SELECT jsonb_agg(jsonb_build_object('bucket', analytics_time_on_site_label(b), 'sessions', n) ORDER BY b)
                        FROM (SELECT key[1]::int AS b, n FROM figures WHERE kind = 'time') d), '[]'),
                    'avg_pages_per_session', (SELECT round(pages_sum::numeric / nullif(sessions, 0), 2) FROM totals),
                    'avg_time_on_site_seconds', (SELECT round(seconds_sum::numeric / nullif(sessions, 0), 1) FROM totals))
            )::text
            """, binds, settings: scope.segmentID == nil ? [] : Self.segmentJourneysSettings)
    }

    /// Named query `funnel`: sessions that viewed each step after the previous one (the first view
    /// of a step strictly later than the previous step's), conversion from the previous step and
    /// from the first, and the median seconds between steps, plus `source`. From the rollup, the
    /// first step's sessions are summed from the days' `visited` counts and only sessions that
    /// viewed the first two steps are read (GIN index on their paths).
    func funnel(_ scope: Scope, steps: [String]) async throws -> [String: JSONValue] {
        var binds = Self.binds(scope)
        var parameters: [String] = []
        for step in steps {
            binds.append(step, context: .default)
            parameters.append("$\(binds.count)::text")
        }
        binds.append(JSONValue.array(steps.map(JSONValue.string)).jsonText, context: .default)
        let names = "$\(binds.count)::jsonb"
        // Position of step k: the first view of it after step k-1 and strictly later in time
        // (views at the same instant as step k-1 do not count, as in a join on viewed_at >).
        let positions = parameters.indices.map { k -> String in
            if k == 0 { return "CROSS JOIN LATERAL (SELECT array_position(sp.paths, \(parameters[0])) AS i) m0" }
            let previous = "m\(k - 1).i", next = "array_position(sp.paths, \(parameters[k]), \(previous) + 1)"
            return """
                CROSS JOIN LATERAL (SELECT CASE WHEN \(previous) IS NULL THEN NULL
                    WHEN coalesce(sp.viewed_at[\(next)] > sp.viewed_at[\(previous)], true) THEN \(next)
                    ELSE (SELECT min(j) FROM generate_subscripts(sp.paths, 1) j
                          WHERE j > \(previous) AND sp.paths[j] = \(parameters[k]) AND sp.viewed_at[j] > sp.viewed_at[\(previous)]) END AS i) m\(k)
                """
        }
        let counts = parameters.indices.dropFirst().map { k in
            "SELECT \(k), count(i\(k)), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t[i\(k)] - t[i\(k - 1)])::float8) FROM matched"
        }
        return try await json("""
            WITH \(Self.rollupZone),
            sp AS (
                SELECT paths, viewed_at FROM analytics_session_path_rollup
                WHERE (SELECT z FROM zone) IS NOT NULL AND $4::bigint IS NULL AND site_id = $1 AND started_at >= $2 AND started_at < $3
                  AND paths @> ARRAY[\(parameters[0]), \(parameters[1])]
                UNION ALL
                SELECT paths, viewed_at FROM analytics_segment_session_path_rollup
                WHERE (SELECT z FROM zone) IS NOT NULL AND segment_id = $4::bigint AND site_id = $1 AND started_at >= $2 AND started_at < $3
                  AND paths @> ARRAY[\(parameters[0]), \(parameters[1])]
                UNION ALL
                SELECT paths, viewed_at FROM analytics_session_paths($1, $2, $3, $4) WHERE (SELECT z FROM zone) IS NULL
            ),
            matched AS (
                SELECT sp.viewed_at AS t, \(parameters.indices.map { "m\($0).i AS i\($0)" }.joined(separator: ", "))
                FROM sp \(positions.joined(separator: "\n"))
            ),
            counts AS (
                SELECT 0 AS i,
                       CASE WHEN (SELECT z FROM zone) IS NULL THEN (SELECT count(i0) FROM matched)
                            WHEN $4::bigint IS NULL THEN (SELECT coalesce(sum(n), 0)::bigint FROM analytics_journey_rollup
                                  WHERE \(Self.rollupDays) AND kind = 'visited' AND key = ARRAY[\(parameters[0])])
                            ELSE (SELECT coalesce(sum(n), 0)::bigint FROM analytics_segment_journey_rollup
                                  WHERE segment_id = $4::bigint AND \(Self.rollupDays) AND kind = 'visited' AND key = ARRAY[\(parameters[0])]) END AS n,
                       NULL::float8 AS median_gap
                UNION ALL \(counts.joined(separator: " UNION ALL "))
            ),
            rated AS (
                SELECT i, n, median_gap,
                       CASE WHEN i = 0 THEN 1 ELSE round(n::numeric / nullif(lag(n) OVER (ORDER BY i), 0), 4) END AS from_previous,
                       round(n::numeric / nullif(first_value(n) OVER (ORDER BY i), 0), 4) AS from_start
                FROM counts
            )
            SELECT jsonb_build_object(
                'source', CASE WHEN (SELECT z FROM zone) IS NULL THEN 'live' ELSE 'rollup' END,
                'steps', (SELECT jsonb_agg(jsonb_build_object(
                    'step', \(names)->>i, 'sessions', n, 'conversion_from_previous', from_previous,
                    'conversion_from_start', from_start, 'median_seconds_from_previous', median_gap) ORDER BY i) FROM rated)
            )::text
            """, binds)
    }
}
