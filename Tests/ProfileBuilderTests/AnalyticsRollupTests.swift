@testable import EngineApp
import Foundation
import PostgresNIO
import ServiceKit
import Testing

/// The engine's side of the report rollups: configured zones are registered and the recent days
/// recomputed, so a page view of a minute ago is in today's rollup row.
@Suite("Analytics rollups")
struct AnalyticsRollupTests {
    @Test func the_engine_refresh_registers_zones_and_keeps_recent_days_current() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            // A visit a minute ago, after the fixture's March data.
            try await db.client.query(
                """
                WITH s AS (INSERT INTO sessions (site_id, profile_id, started_at, last_activity_at, page_count)
                           VALUES (1, '00000000-0000-4000-8000-000000000003', now() - interval '1 minute', now(), 1) RETURNING id)
                INSERT INTO page_views (site_id, session_id, profile_id, url, path, viewed_at)
                SELECT 1, id, '00000000-0000-4000-8000-000000000003', 'https://acme.example/now', '/now', now() - interval '1 minute' FROM s
                """, logger: TestDatabase.logger)
            let rollups = AnalyticsRollups(client: db.client, logger: TestDatabase.logger)
            try await rollups.register(timeZones: ["UTC", "Asia/Tokyo"])
            #expect(try await rollups.refreshRecent(days: 2) > 0)
            for zone in ["UTC", "Asia/Tokyo"] {
                let views = try await db.scalar("""
                    SELECT page_views FROM analytics_traffic_rollup WHERE time_zone = \(zone) AND period = 'day'
                    AND period_start = (now() AT TIME ZONE \(zone) - interval '1 minute')::date
                    """, as: Int64.self)
                #expect(views == 1, "\(zone)")
            }
            // The recent refresh leaves March alone; the rebuild computes it.
            #expect(try await db.scalar("SELECT count(*) FROM analytics_page_rollup WHERE day < '2026-04-01'", as: Int64.self) == 0)
            _ = try await rollups.rebuild()
            #expect(try await db.scalar("SELECT sum(views)::bigint FROM analytics_page_rollup WHERE time_zone = 'UTC' AND day < '2026-04-01'",
                                        as: Int64.self) == 9)
        }
    }

    /// The refresh and the rebuild keep the journey rollups of sql/0007 with the others, and an
    /// erased session leaves the session paths with it.
    @Test func the_rebuild_keeps_session_paths_and_journey_figures() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            let rollups = AnalyticsRollups(client: db.client, logger: TestDatabase.logger)
            _ = try await rollups.rebuild()
            // Five non-bot sessions with 9 page views, s3 as / → /features → /pricing.
            #expect(try await db.scalar("SELECT count(*) FROM analytics_session_path_rollup", as: Int64.self) == 5)
            #expect(try await db.scalar("""
                SELECT array_to_string(paths, ' ') FROM analytics_session_path_rollup WHERE session_id = '10000000-0000-4000-8000-000000000003'
                """, as: String.self) == "/ /features /pricing")
            #expect(try await db.scalar("SELECT sum(n)::bigint FROM analytics_journey_rollup WHERE time_zone = 'UTC' AND kind = 'view'",
                                        as: Int64.self) == 9)
            #expect(try await db.scalar("""
                SELECT n FROM analytics_journey_rollup WHERE time_zone = 'UTC' AND day = '2026-03-03' AND kind = 'path' AND key = '{/,/features,/pricing}'
                """, as: Int64.self) == 1)
            try await db.client.query("DELETE FROM sessions WHERE id = '10000000-0000-4000-8000-000000000003'", logger: TestDatabase.logger)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_session_path_rollup", as: Int64.self) == 4)
        }
    }

    /// `analytics_refresh(from, to, false)` (sql/0011) recomputes every rollup but the session
    /// paths and journeys; `true` recomputes those too. The engine's schedule asks for them on its
    /// first refresh and then once per interval.
    @Test func the_journey_rollups_are_refreshed_on_their_own_cadence() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01', false)", logger: TestDatabase.logger)
            #expect(try await db.scalar("SELECT sum(views)::bigint FROM analytics_page_rollup WHERE time_zone = 'UTC'", as: Int64.self) == 9)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_session_path_rollup", as: Int64.self) == 0)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_journey_rollup", as: Int64.self) == 0)
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01', true)", logger: TestDatabase.logger)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_session_path_rollup", as: Int64.self) == 5)
            #expect(try await db.scalar("SELECT sum(n)::bigint FROM analytics_journey_rollup WHERE time_zone = 'UTC' AND kind = 'view'",
                                        as: Int64.self) == 9)
            // A refresh without journeys keeps the journey rows it did not recompute.
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01', false)", logger: TestDatabase.logger)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_session_path_rollup", as: Int64.self) == 5)
            #expect(try await db.scalar("SELECT sum(n)::bigint FROM analytics_journey_rollup WHERE time_zone = 'UTC' AND kind = 'view'",
                                        as: Int64.self) == 9)
        }
        var schedule = JourneyRefreshSchedule(intervalSeconds: 600)
        let start = ContinuousClock.now
        #expect(schedule.isDue(at: start))
        schedule.refreshed(at: start)
        #expect(!schedule.isDue(at: start + .seconds(60)))
        #expect(!schedule.isDue(at: start + .seconds(599)))
        #expect(schedule.isDue(at: start + .seconds(600)))
    }

    /// The per-segment rollups (sql/0012) are those of the current members: recent days are
    /// recomputed, and an entry or exit changes older days when the refresh applies it. After each
    /// step every row equals the live function (SQL written in sql/0005, per segment).
    @Test func segment_rollups_follow_who_enters_and_leaves() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            try await db.client.query("INSERT INTO analytics_time_zones (time_zone) VALUES ('Asia/Tokyo')", logger: TestDatabase.logger)
            // The session paths the journey figures are made from.
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01')", logger: TestDatabase.logger)
            // Nothing applied yet: the fixture's membership is logged, the rollups are empty.
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_changes", as: Int64.self) == 1)
            #expect(try await Self.segmentMismatches(db) > 0)

            // A refresh of April only: Grace's March figures come from her logged entry.
            try await AnalyticsFixture.refreshSegments(db, from: "2026-04-01", to: "2026-04-02")
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_changes", as: Int64.self) == 0)
            #expect(try await db.scalar("""
                SELECT sum(page_views)::bigint FROM analytics_segment_traffic_rollup WHERE time_zone = 'UTC' AND period = 'day'
                """, as: Int64.self) == 5)
            #expect(try await Self.segmentMismatches(db) == 0)

            // Ada enters again, Grace leaves, Alan enters and is erased: March changes without being recomputed.
            try await db.client.query("""
                WITH g AS (SELECT id, site_id FROM segments WHERE slug = 'pricing-viewers'),
                     left_now AS (UPDATE segment_memberships SET left_at = now()
                                  WHERE profile_id = '00000000-0000-4000-8000-000000000002' AND left_at IS NULL RETURNING 1)
                INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                SELECT g.id, g.site_id, p::uuid FROM g, unnest(ARRAY['00000000-0000-4000-8000-000000000001',
                                                                     '00000000-0000-4000-8000-000000000003']) p
                """, logger: TestDatabase.logger)
            try await db.client.query("DELETE FROM visitor_profiles WHERE id = '00000000-0000-4000-8000-000000000003'", logger: TestDatabase.logger)
            #expect(try await db.scalar("SELECT sum(delta)::bigint FROM analytics_segment_changes", as: Int64.self) == 0)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-04-01", to: "2026-04-02")
            #expect(try await db.scalar("""
                SELECT sum(page_views)::bigint FROM analytics_segment_traffic_rollup WHERE time_zone = 'UTC' AND period = 'day'
                """, as: Int64.self) == 3)
            #expect(try await Self.segmentMismatches(db) == 0)
            // Rows nobody is left in are gone, not zero.
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_traffic_rollup WHERE sessions = 0 AND page_views = 0",
                                        as: Int64.self) == 0)

            // A refresh over all of March without journeys (the engine's every-minute one) applies
            // a change to the journey figures and session paths of March too; with them it
            // recomputes them, to the same rows.
            try await db.client.query("""
                UPDATE segment_memberships SET left_at = now() WHERE profile_id = '00000000-0000-4000-8000-000000000001' AND left_at IS NULL
                """, logger: TestDatabase.logger)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-03-01", to: "2026-04-01", journeys: false)
            #expect(try await Self.segmentMismatches(db) == 0)
            try await db.client.query("""
                INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                SELECT id, site_id, '00000000-0000-4000-8000-000000000001' FROM segments WHERE slug = 'pricing-viewers'
                """, logger: TestDatabase.logger)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-03-01", to: "2026-04-01", journeys: false)
            #expect(try await Self.segmentMismatches(db) == 0)
            // A refresh over all of March gives the same rows; a deleted segment takes its rows along.
            try await AnalyticsFixture.refreshSegments(db, from: "2026-03-01", to: "2026-04-01")
            #expect(try await Self.segmentMismatches(db) == 0)
            // Erasing a member removes the copies of her session paths at once, not at the next refresh.
            let adaPaths = "SELECT count(*) FROM analytics_segment_session_path_rollup WHERE profile_id = '00000000-0000-4000-8000-000000000001'"
            #expect(try await db.scalar(PostgresQuery(unsafeSQL: adaPaths), as: Int64.self) == 2)
            try await db.client.query("DELETE FROM visitor_profiles WHERE id = '00000000-0000-4000-8000-000000000001'", logger: TestDatabase.logger)
            #expect(try await db.scalar(PostgresQuery(unsafeSQL: adaPaths), as: Int64.self) == 0)
            try await db.client.query("DELETE FROM segments WHERE slug = 'pricing-viewers'", logger: TestDatabase.logger)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-04-01", to: "2026-04-02")
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_page_rollup", as: Int64.self) == 0)
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_changes", as: Int64.self) == 0)
        }
    }

    /// A change committed while a refresh runs is outside the refresh's snapshot: it stays logged
    /// and the next refresh applies it, once.
    @Test func a_change_during_a_segment_refresh_is_applied_once_by_the_next() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-04-01')", logger: TestDatabase.logger)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-04-01", to: "2026-04-02")
            try await db.client.transaction(logger: TestDatabase.logger) { refresh in
                try await refresh.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: TestDatabase.logger)
                try await refresh.query("SELECT 1", logger: TestDatabase.logger)  // takes the snapshot
                // Meanwhile, on another connection, Ada enters the segment again (committed).
                try await db.client.query("""
                    INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                    SELECT id, site_id, '00000000-0000-4000-8000-000000000001' FROM segments WHERE slug = 'pricing-viewers'
                    """, logger: TestDatabase.logger)
                try await refresh.query("SELECT analytics_refresh_segments('2026-04-01', '2026-04-02')", logger: TestDatabase.logger)
            }
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_changes", as: Int64.self) == 1)
            #expect(try await Self.segmentMismatches(db) > 0)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-04-01", to: "2026-04-02")
            #expect(try await db.scalar("SELECT count(*) FROM analytics_segment_changes", as: Int64.self) == 0)
            #expect(try await Self.segmentMismatches(db) == 0)
        }
    }

    /// The refresh refuses READ COMMITTED: it would count a change made during it twice or never.
    @Test func the_segment_refresh_needs_repeatable_read() async throws {
        try await TestDatabase.with { db in
            let error = await #expect(throws: PSQLError.self) {
                _ = try await db.scalar("SELECT analytics_refresh_segments('2026-03-01', '2026-04-01')", as: Int64.self)
            }
            #expect(error?.serverInfo?[.message]?.contains("REPEATABLE READ") == true)
            try await AnalyticsFixture.refreshSegments(db, from: "2026-03-01", to: "2026-04-01")
        }
    }

    /// Rows of the segment rollups that differ from the live functions, both ways, over every
    /// segment and rollup zone (whole ISO weeks around March 2026): traffic, pages, interests,
    /// journey figures and session paths.
    static func segmentMismatches(_ db: TestDatabase) async throws -> Int64 {
        try await db.scalar("""
            WITH pairs AS (SELECT g.id AS seg, z.time_zone AS zone FROM segments g, analytics_time_zones z),
            rolled AS (
                SELECT seg, zone, 't' AS kind, row(period, period_start, visitors, sessions, bounced_sessions, duration_seconds, page_views)::text AS r
                FROM pairs JOIN analytics_segment_traffic_rollup t ON t.segment_id = seg AND t.time_zone = zone
                UNION ALL
                SELECT seg, zone, 'p', row(day, path, views, entries, exits)::text
                FROM pairs JOIN analytics_segment_page_rollup p ON p.segment_id = seg AND p.time_zone = zone
                UNION ALL
                SELECT seg, zone, 'i', row(day, target_kind, target_id, profiles, signals)::text
                FROM pairs JOIN analytics_segment_interest_rollup i ON i.segment_id = seg AND i.time_zone = zone
                UNION ALL
                SELECT seg, zone, 'j', row(day, kind, key, n)::text
                FROM pairs JOIN analytics_segment_journey_rollup j ON j.segment_id = seg AND j.time_zone = zone
                UNION ALL
                SELECT g.id, NULL, 's', row(session_id, paths, viewed_at)::text
                FROM segments g JOIN analytics_segment_session_path_rollup s ON s.segment_id = g.id
            ),
            live AS (
                SELECT seg, zone, 't' AS kind, row(t.*)::text AS r FROM pairs, analytics_traffic(1, zone, '2026-02-23', '2026-04-06', seg) t
                UNION ALL
                SELECT seg, zone, 'p', row(p.*)::text FROM pairs, analytics_pages(1, zone, '2026-02-23', '2026-04-06', seg) p
                UNION ALL
                SELECT seg, zone, 'i', row(i.*)::text FROM pairs, analytics_interests(1, zone, '2026-02-23', '2026-04-06', seg) i
                UNION ALL
                SELECT seg, zone, 'j', row(j.*)::text
                FROM pairs, analytics_journeys(1, zone, '2026-02-23'::timestamp AT TIME ZONE zone, '2026-04-06'::timestamp AT TIME ZONE zone, seg, true, NULL) j
                UNION ALL
                SELECT g.id, NULL, 's', row(p.session_id, p.paths, p.viewed_at)::text
                FROM segments g, analytics_session_paths(1, '-infinity', 'infinity', g.id) p
            )
            SELECT count(*) FROM ((SELECT * FROM rolled EXCEPT ALL SELECT * FROM live) UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM rolled)) d
            """, as: Int64.self) ?? -1
    }

    /// 20,000 visitors over ten days: the merged daily sketches estimate them within 5 % (three
    /// standard errors of 4096 registers), and one day's sketch agrees with that day's exact count.
    @Test func visitor_sketches_estimate_distinct_visitors_of_a_range() async throws {
        try await TestDatabase.with { db in
            try await db.client.query(
                """
                WITH site AS (INSERT INTO sites (slug, name, write_key) VALUES ('big', 'Big', 'wk_big') RETURNING id),
                profiles AS (INSERT INTO visitor_profiles (id, site_id) SELECT md5('v' || i)::uuid, (SELECT id FROM site)
                             FROM generate_series(1, 20000) i RETURNING id, site_id)
                INSERT INTO sessions (site_id, profile_id, started_at, last_activity_at)
                SELECT p.site_id, p.id, '2026-03-01'::timestamptz + d * interval '1 day', '2026-03-01'::timestamptz + d * interval '1 day'
                FROM profiles p, generate_series(0, 9) d WHERE mod(abs(hashtext(p.id::text || d)), 3) = 0
                """, logger: TestDatabase.logger)
            try await db.client.query("SELECT analytics_refresh('2026-03-01', '2026-03-11')", logger: TestDatabase.logger)
            let exact = try #require(try await db.scalar("SELECT count(DISTINCT profile_id) FROM sessions", as: Int64.self))
            let estimate = try #require(try await db.scalar("SELECT analytics_estimate_visitors(1, 'UTC', '2026-03-01', '2026-03-11')", as: Int64.self))
            #expect(abs(Double(estimate - exact)) / Double(exact) < 0.05, "estimate \(estimate), exact \(exact)")
            let day = try #require(try await db.scalar("SELECT analytics_estimate_visitors(1, 'UTC', '2026-03-04', '2026-03-05')", as: Int64.self))
            let dayExact = try #require(try await db.scalar(
                "SELECT visitors FROM analytics_traffic_rollup WHERE period = 'day' AND period_start = '2026-03-04'", as: Int64.self))
            #expect(abs(Double(day - dayExact)) / Double(dayExact) < 0.05, "estimate \(day), exact \(dayExact)")
        }
    }

    @Test func an_unknown_analytics_time_zone_stops_the_engine_with_its_name() throws {
        let error = try #require(throws: ConfigError.self) {
            try EngineConfig(environment: EnvironmentReader(["ANALYTICS_TIME_ZONES": "UTC, Mars/Olympus"]))
        }
        #expect(error.variable == "ANALYTICS_TIME_ZONES")
        #expect(try EngineConfig(environment: EnvironmentReader([:])).analyticsTimeZones == ["UTC"])
    }
}
