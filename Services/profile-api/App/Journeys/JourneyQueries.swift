import Foundation
import Logging
import PostgresNIO
import Shared

/// Site-wide navigation analysis over page views, by date range (sessions started in
/// [from, to)) and optionally one segment: common paths, entry and exit pages, drop-off points,
/// funnels and distributions. Each is one named SQL query with bound values.
struct JourneyQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    struct Scope: Sendable {
        let site: String
        let from: Date
        let to: Date
        let segment: String?
    }

    /// Sessions in scope (bots left out, as in every report), as a CTE named `scoped(id)`; its binds are $1...$4.
    private func scoped(_ scope: Scope, _ binds: inout PostgresBindings) throws -> String {
        binds.append(scope.site, context: .default)
        binds.append(scope.from, context: .default)
        binds.append(scope.to, context: .default)
        binds.append(scope.segment, context: .default)
        return """
            scoped AS (
                SELECT s.id FROM sessions s JOIN sites si ON si.id = s.site_id
                WHERE si.slug = $1 AND s.started_at >= $2 AND s.started_at < $3 AND NOT s.is_bot
                  AND ($4::text IS NULL OR EXISTS (
                      SELECT 1 FROM segment_memberships m JOIN segments sg ON sg.id = m.segment_id
                      WHERE m.profile_id = s.profile_id AND m.left_at IS NULL AND sg.slug = $4))
            )
            """
    }

    private func json(_ sql: String, _ binds: PostgresBindings) async throws -> JSONValue {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await text in rows.decode(String?.self) {
            return (try? JSONDecoder().decode(JSONValue.self, from: Data((text ?? "[]").utf8))) ?? .array([])
        }
        return .array([])
    }

    /// Named query `journey_paths`: the most common sequences of `length` consecutive pages within a session.
    func paths(_ scope: Scope, length: Int, limit: Int) async throws -> JSONValue {
        var binds = PostgresBindings()
        let cte = try scoped(scope, &binds)
        binds.append(length, context: .default)
        binds.append(limit, context: .default)
        return try await json("""
            WITH \(cte), ordered AS (
                SELECT pv.session_id, pv.path, row_number() OVER (PARTITION BY pv.session_id ORDER BY pv.viewed_at, pv.id) AS n
                FROM page_views pv JOIN scoped ON scoped.id = pv.session_id
            ), grams AS (
                SELECT array_agg(b.path ORDER BY b.n) AS steps
                FROM ordered a JOIN ordered b ON b.session_id = a.session_id AND b.n BETWEEN a.n AND a.n + $5 - 1
                GROUP BY a.session_id, a.n HAVING count(*) = $5
            ), counted AS (
                SELECT steps, count(*) AS sessions FROM grams GROUP BY steps ORDER BY count(*) DESC, steps LIMIT $6
            )
            SELECT jsonb_agg(jsonb_build_object('steps', to_jsonb(steps), 'count', sessions) ORDER BY sessions DESC, steps)::text FROM counted
            """, binds)
    }

    /// Named query `journey_entries_exits`: entry and exit pages, and each page's exit rate (drop-off).
    func entriesAndExits(_ scope: Scope, limit: Int) async throws -> JSONValue {
        var binds = PostgresBindings()
        let cte = try scoped(scope, &binds)
        binds.append(limit, context: .default)
        return try await json("""
            WITH \(cte), views AS (
                SELECT pv.path, count(*) AS views FROM page_views pv JOIN scoped ON scoped.id = pv.session_id GROUP BY pv.path
            ), entries AS (
                SELECT sa.entry_page AS path, count(*) AS n FROM session_analytics sa JOIN scoped ON scoped.id = sa.session_id GROUP BY 1
            ), exits AS (
                SELECT sa.exit_page AS path, count(*) AS n FROM session_analytics sa JOIN scoped ON scoped.id = sa.session_id GROUP BY 1
            )
            SELECT jsonb_build_object(
                'entry_pages', coalesce((SELECT jsonb_agg(jsonb_build_object('path', path, 'sessions', n) ORDER BY n DESC, path)
                                         FROM (SELECT * FROM entries ORDER BY n DESC, path LIMIT $5) e), '[]'),
                'exit_pages', coalesce((SELECT jsonb_agg(jsonb_build_object('path', path, 'sessions', n) ORDER BY n DESC, path)
                                        FROM (SELECT * FROM exits ORDER BY n DESC, path LIMIT $5) x), '[]'),
                'drop_offs', coalesce((SELECT jsonb_agg(jsonb_build_object('path', v.path, 'views', v.views, 'exits', coalesce(x.n, 0),
                                                                           'exit_rate', round(coalesce(x.n, 0)::numeric / v.views, 4))
                                                        ORDER BY coalesce(x.n, 0)::numeric / v.views DESC, v.views DESC, v.path)
                                       FROM (SELECT * FROM views ORDER BY views DESC, path LIMIT $5) v LEFT JOIN exits x USING (path)), '[]')
            )::text
            """, binds)
    }

    /// Named query `journey_distributions`: sessions by pages viewed and by time on site.
    func distributions(_ scope: Scope) async throws -> JSONValue {
        var binds = PostgresBindings()
        let cte = try scoped(scope, &binds)
        return try await json("""
            WITH \(cte), stats AS (
                SELECT sa.pages, sa.duration_seconds FROM session_analytics sa JOIN scoped ON scoped.id = sa.session_id
            )
            SELECT jsonb_build_object(
                'sessions', (SELECT count(*) FROM stats),
                'pages_per_session', coalesce((SELECT jsonb_agg(jsonb_build_object('pages', b, 'sessions', n) ORDER BY b)
                    FROM (SELECT CASE WHEN pages >= 10 THEN '10+' ELSE pages::text END AS b, count(*) AS n FROM stats GROUP BY 1) d), '[]'),
                'time_on_site', coalesce((SELECT jsonb_agg(jsonb_build_object('bucket', b, 'sessions', n) ORDER BY o)
                    FROM (SELECT CASE WHEN duration_seconds < 10 THEN '0-10s' WHEN duration_seconds < 60 THEN '10-60s'
                                      WHEN duration_seconds < 180 THEN '1-3m' WHEN duration_seconds < 600 THEN '3-10m'
                                      WHEN duration_seconds < 1800 THEN '10-30m' ELSE '30m+' END AS b,
                                 min(duration_seconds) AS o, count(*) AS n FROM stats GROUP BY 1) d), '[]'),
                'avg_pages_per_session', (SELECT round(avg(pages)::numeric, 2) FROM stats),
                'avg_time_on_site_seconds', (SELECT round(avg(duration_seconds)::numeric, 1) FROM stats)
            )::text
            """, binds)
    }

    /// Named query `funnel`: sessions that viewed each step after the previous one, conversion
    /// from the previous step and from the first, and the median seconds between steps.
    func funnel(_ scope: Scope, steps: [String]) async throws -> JSONValue {
        var binds = PostgresBindings()
        let cte = try scoped(scope, &binds)
        var stepCTEs: [String] = []
        for (index, step) in steps.enumerated() {
            binds.append(step, context: .default)
            let parameter = "$\(binds.count)"
            if index == 0 {
                stepCTEs.append("""
                    step0 AS (SELECT pv.session_id, min(pv.viewed_at) AS t, NULL::float8 AS gap FROM page_views pv JOIN scoped ON scoped.id = pv.session_id
                              WHERE pv.path = \(parameter) GROUP BY pv.session_id)
                    """)
            } else {
                stepCTEs.append("""
                    step\(index) AS (SELECT pv.session_id, min(pv.viewed_at) AS t, extract(epoch FROM min(pv.viewed_at) - max(prev.t))::float8 AS gap
                              FROM page_views pv JOIN step\(index - 1) prev ON prev.session_id = pv.session_id AND pv.viewed_at > prev.t
                              WHERE pv.path = \(parameter) GROUP BY pv.session_id)
                    """)
        }
        }
        let selects = steps.indices.map { index in
            "SELECT \(index) AS i, count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap FROM step\(index)"
        }.joined(separator: " UNION ALL ")
        let stepNames = JSONValue.array(steps.map(JSONValue.string)).jsonText
        binds.append(stepNames, context: .default)
        return try await json("""
            WITH \(cte), \(stepCTEs.joined(separator: ", ")), counts AS (\(selects)),
            rated AS (
                SELECT i, n, median_gap,
                       CASE WHEN i = 0 THEN 1 ELSE round(n::numeric / nullif(lag(n) OVER (ORDER BY i), 0), 4) END AS from_previous,
                       round(n::numeric / nullif(first_value(n) OVER (ORDER BY i), 0), 4) AS from_start
                FROM counts
            )
            SELECT jsonb_agg(jsonb_build_object(
                'step', ($\(binds.count)::jsonb)->>i, 'sessions', n, 'conversion_from_previous', from_previous,
                'conversion_from_start', from_start, 'median_seconds_from_previous', median_gap) ORDER BY i)::text
            FROM rated
            """, binds)
    }
}
