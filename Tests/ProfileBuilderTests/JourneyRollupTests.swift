import Foundation
import HummingbirdTesting
@testable import ProfileAPIApp
import Testing

/// Journeys and funnels from the journey rollups (sql/0007) give the live answers. Each case is
/// asked over whole UTC days (rollup) and with `from` one second later (live: no session of the
/// fixtures starts in that second), and the two answers must be the same apart from `source`.
@Suite("Journey rollups")
struct JourneyRollupTests {
    static let march = "from=2026-03-01&to=2026-04-01"
    static let marchLive = "from=2026-03-01T00:00:01Z&to=2026-04-01"

    /// The answer without `source`, for comparing a rollup answer with a live one.
    static func figures(_ answer: APIAnswer) -> NSDictionary {
        var json = answer.json
        json["source"] = nil
        return json as NSDictionary
    }

    static func both(_ client: any TestClientProtocol, _ token: String, _ path: String, _ query: String) async throws -> (APIAnswer, APIAnswer) {
        let rollup = try await client.call(.get, "\(path)?site=acme&\(march)&\(query)", token: token)
        let live = try await client.call(.get, "\(path)?site=acme&\(marchLive)&\(query)", token: token)
        #expect(rollup.status == .ok, "\(String(decoding: rollup.body, as: UTF8.self))")
        #expect(rollup.json["source"] as? String == "rollup", "\(query)")
        #expect(live.json["source"] as? String == "live", "\(query)")
        return (rollup, live)
    }

    @Test func rollup_journeys_and_funnels_equal_the_live_answers() async throws {
        try await AnalyticsFixture.withReportsAPI { _, client, analyst in
            for length in 1...4 {
                let (rollup, live) = try await Self.both(client, analyst, "/v1/journeys", "length=\(length)")
                #expect(Self.figures(rollup) == Self.figures(live), "length \(length)")
                #expect(rollup.json["paths_estimated"] as? Bool == false)
            }
            let (journeys, _) = try await Self.both(client, analyst, "/v1/journeys", "length=2")
            // By hand from the fixture (bot session left out): entries of s1, s3, s4 on /, s2 on /blog, s6 on /pricing.
            #expect((journeys.json["entry_pages"] as? [[String: Any]])?.map { "\($0["path"]!)=\($0["sessions"]!)" } == ["/=3", "/blog=1", "/pricing=1"])
            #expect((journeys.json["drop_offs"] as? [[String: Any]])?.map { "\($0["path"]!) \($0["exits"]!)/\($0["views"]!)" }
                    == ["/blog 1/1", "/signup 1/1", "/pricing 2/3", "/ 1/3", "/features 0/1"])
            // Four two-page paths, once each, in order of their pages.
            #expect((journeys.json["paths"] as? [[String: Any]])?.map { ($0["steps"] as? [String] ?? []).joined(separator: " ") }
                    == ["/ /features", "/ /pricing", "/features /pricing", "/pricing /signup"])
            let distributions = journeys.json["distributions"] as? [String: Any]
            #expect(distributions?["sessions"] as? Int == 5)
            #expect(distributions?["avg_time_on_site_seconds"] as? Double == 204)

            for steps in ["/,/pricing", "/,/pricing,/signup", "/pricing,/signup", "/,/features,/pricing", "/blog,/", "/,/"] {
                let (rollup, live) = try await Self.both(client, analyst, "/v1/funnels", "steps=\(steps)")
                #expect(Self.figures(rollup) == Self.figures(live), "\(steps)")
            }
            // A segment's journeys and funnels come from its rollups (sql/0012): only Grace, a
            // current member, with her sessions of 03-03 (/ → /pricing → /signup) and 03-09.
            for length in 1...3 {
                let (rollup, live) = try await Self.both(client, analyst, "/v1/journeys", "length=\(length)&segment=pricing-viewers")
                #expect(Self.figures(rollup) == Self.figures(live), "segment, length \(length)")
            }
            let (members, _) = try await Self.both(client, analyst, "/v1/journeys", "length=2&segment=pricing-viewers")
            #expect((members.json["distributions"] as? [String: Any])?["sessions"] as? Int == 2)
            for steps in ["/,/pricing", "/,/pricing,/signup", "/pricing,/signup", "/blog,/"] {
                let (rollup, live) = try await Self.both(client, analyst, "/v1/funnels", "steps=\(steps)&segment=pricing-viewers")
                #expect(Self.figures(rollup) == Self.figures(live), "segment, \(steps)")
            }

            let (funnel, _) = try await Self.both(client, analyst, "/v1/funnels", "steps=/,/pricing")
            let steps = funnel.json["steps"] as? [[String: Any]]
            #expect(steps?.map { $0["sessions"] as? Int } == [3, 2])
            // s1 reached /pricing 300 s after /, s3 120 s after.
            #expect(steps?.map { $0["median_seconds_from_previous"] as? Double } == [nil, 210])

            // An empty range is answered from the rollups, empty.
            let empty = try await client.call(.get, "/v1/journeys?site=acme&from=2020-01-01&to=2020-02-01", token: analyst)
            #expect(empty.json["source"] as? String == "rollup")
            #expect((empty.json["paths"] as? [Any])?.isEmpty == true)
            #expect((empty.json["distributions"] as? [String: Any])?["sessions"] as? Int == 0)
            let emptyFunnel = try await client.call(.get, "/v1/funnels?site=acme&from=2020-01-01&to=2020-02-01&steps=/,/pricing", token: analyst)
            #expect((emptyFunnel.json["steps"] as? [[String: Any]])?.map { $0["sessions"] as? Int } == [0, 0])
            // An unknown segment is a 400 naming it.
            let unknown = try await client.call(.get, "/v1/funnels?site=acme&steps=/,/a&segment=nope", token: analyst)
            #expect(unknown.status == .badRequest)
            #expect(unknown.json["field"] as? String == "segment")
        }
    }

    @Test func the_journeys_report_keeps_sessions_on_their_local_day() async throws {
        try await AnalyticsFixture.withReportsAPI { db, client, analyst in
            // Ada's /blog session starts 2026-03-02 23:30 UTC: 03-03 in Berlin, 03-02 in UTC.
            let berlin = "/v1/reports/journeys?site=acme&from=2026-03-03&to=2026-03-03&tz=Europe/Berlin"
            let live = try await client.call(.get, berlin, token: analyst)
            #expect(live.json["source"] as? String == "live")
            let entries = { (answer: APIAnswer) in
                ((answer.json["details"] as? [String: Any])?["entry_pages"] as? [[String: Any]])?.map { "\($0["path"]!)=\($0["sessions"]!)" }
            }
            #expect(entries(live) == ["/=2", "/blog=1"])
            let funnel = "/v1/reports/journeys?site=acme&from=2026-03-02&to=2026-03-03&tz=Europe/Berlin&steps=/,/pricing"
            let liveFunnel = try await client.call(.get, funnel, token: analyst)
            #expect(liveFunnel.json["source"] as? String == "live")
            let utc = try await client.call(.get, "/v1/reports/journeys?site=acme&from=2026-03-03&to=2026-03-03", token: analyst)
            #expect(utc.json["source"] as? String == "rollup")
            #expect(entries(utc) == ["/=2"])

            try await AnalyticsFixture.refresh(db, zones: ["Europe/Berlin"])
            let rolled = try await client.call(.get, berlin, token: analyst)
            #expect(rolled.json["source"] as? String == "rollup")
            #expect((rolled.json["rows"] as? NSArray) == (live.json["rows"] as? NSArray))
            #expect((rolled.json["details"] as? NSDictionary) == (live.json["details"] as? NSDictionary))
            // The same Berlin day as instants: answered from the Berlin rollup, with the same figures.
            let instants = try await client.call(.get, "/v1/journeys?site=acme&from=2026-03-02T23:00:00Z&to=2026-03-03T23:00:00Z", token: analyst)
            #expect(instants.json["source"] as? String == "rollup")
            #expect((instants.json["entry_pages"] as? NSArray) == ((live.json["details"] as? [String: Any])?["entry_pages"] as? NSArray))
            let rolledFunnel = try await client.call(.get, funnel, token: analyst)
            #expect(rolledFunnel.json["source"] as? String == "rollup")
            #expect(Self.figures(rolledFunnel) == Self.figures(liveFunnel))
            #expect(((rolledFunnel.json["rows"] as? [[String: Any]]) ?? []).map { $0["sessions"] as? Int } == [3, 2])
        }
    }

    /// Two page views at the same instant: the later step must be strictly later, as in the live join.
    @Test func funnel_steps_at_the_same_instant_do_not_count_in_either_source() async throws {
        try await AnalyticsFixture.withReportsAPI(refresh: false) { db, client, analyst in
            try await db.client.query(
                """
                WITH s AS (INSERT INTO sessions (id, site_id, profile_id, started_at, last_activity_at, page_count)
                           VALUES ('20000000-0000-4000-8000-000000000001', 1, '00000000-0000-4000-8000-000000000003',
                                   '2026-03-20 10:00+00', '2026-03-20 10:00:05+00', 3) RETURNING id)
                INSERT INTO page_views (site_id, session_id, profile_id, url, path, viewed_at)
                SELECT 1, s.id, '00000000-0000-4000-8000-000000000003', 'https://acme.example' || v.path, v.path, v.at::timestamptz
                FROM s, (VALUES ('/a', '2026-03-20 10:00+00'), ('/b', '2026-03-20 10:00+00'), ('/b', '2026-03-20 10:00:05+00')) AS v(path, at)
                """, logger: TestDatabase.logger)
            try await AnalyticsFixture.refresh(db)
            let (rollup, live) = try await Self.both(client, analyst, "/v1/funnels", "steps=/a,/b")
            #expect(Self.figures(rollup) == Self.figures(live))
            #expect((rollup.json["steps"] as? [[String: Any]])?.map { $0["median_seconds_from_previous"] as? Double } == [nil, 5])
        }
    }

    /// A day with more distinct n-grams than the rollup keeps: the rollup holds the frequent ones
    /// and the largest count it left out; a range of this size is then answered exactly anyway.
    @Test func days_with_many_distinct_paths_keep_the_frequent_ones_and_answer_exactly() async throws {
        try await AnalyticsFixture.withReportsAPI(refresh: false) { db, client, analyst in
            try await db.client.query(
                """
                WITH s AS (
                    INSERT INTO sessions (site_id, profile_id, started_at, last_activity_at, page_count)
                    SELECT 1, '00000000-0000-4000-8000-000000000004', '2026-03-21 10:00+00'::timestamptz + i * interval '1 second',
                           '2026-03-21 10:00+00'::timestamptz + i * interval '1 second', 2
                    FROM generate_series(1, 1103) i RETURNING id, started_at
                ), numbered AS (SELECT id, started_at, row_number() OVER (ORDER BY started_at) AS i FROM s)
                INSERT INTO page_views (site_id, session_id, profile_id, url, path, viewed_at)
                SELECT 1, id, '00000000-0000-4000-8000-000000000004', 'https://acme.example/', p.path, started_at + p.k * interval '1 millisecond'
                FROM numbered, LATERAL (VALUES (0, CASE WHEN i <= 3 THEN '/x' ELSE '/a' || i END),
                                               (1, CASE WHEN i <= 3 THEN '/y' ELSE '/b' || i END)) AS p(k, path)
                """, logger: TestDatabase.logger)
            try await AnalyticsFixture.refresh(db)
            let kept = try await db.scalar(
                "SELECT count(*) FROM analytics_journey_rollup WHERE day = '2026-03-21' AND time_zone = 'UTC' AND kind = 'path'", as: Int64.self)
            #expect(kept == 1)
            let omitted = try await db.scalar(
                "SELECT n FROM analytics_journey_rollup WHERE day = '2026-03-21' AND time_zone = 'UTC' AND kind = 'path_omitted' AND key = '{2}'",
                as: Int64.self)
            #expect(omitted == 1)
            let (rollup, live) = try await Self.both(client, analyst, "/v1/journeys", "length=2&limit=5")
            #expect(Self.figures(rollup) == Self.figures(live))
            #expect(rollup.json["paths_estimated"] as? Bool == false)
            #expect((rollup.json["paths"] as? [[String: Any]])?.first?["count"] as? Int == 3)
        }
    }
}
