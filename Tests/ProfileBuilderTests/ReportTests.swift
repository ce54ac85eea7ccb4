import Foundation
import HTTPTypes
@testable import ProfileAPIApp
import Testing

/// Reports over Tests/fixtures/analytics.sql. Every expected figure is worked out by hand from the
/// fixture's rows (see the comments there) or by separate SQL over the raw tables.
@Suite("Reports")
struct ReportTests {
    typealias Row = [String: Any]

    static func rows(_ answer: APIAnswer) -> [Row] { answer.json["rows"] as? [Row] ?? [] }
    static func column(_ rows: [Row], _ name: String) -> [String] { rows.map { "\($0[name] ?? "nil")" } }
    static func text(_ answer: APIAnswer) -> String { String(decoding: answer.body, as: UTF8.self) }

    @Test func test_analytics_calculations() async throws {
        try await AnalyticsFixture.withReportsAPI { db, client, analyst in
            let range = "site=acme&from=2026-03-01&to=2026-03-10"
            let traffic = try await client.call(.get, "/v1/reports/traffic?\(range)", token: analyst)
            #expect(traffic.status == .ok, "\(Self.text(traffic))")
            #expect(traffic.json["source"] as? String == "rollup")
            let days = Self.rows(traffic)
            #expect(days.count == 10)
            // UTC: 03-02 has Ada's two sessions (one bounced at 23:30), 03-03 Grace and Alan (the bot is left out).
            let busy = days.filter { ($0["sessions"] as? Int ?? 0) > 0 }
            #expect(Self.column(busy, "period_start") == ["2026-03-02", "2026-03-03", "2026-03-09"])
            #expect(Self.column(busy, "visitors") == ["1", "2", "1"])
            #expect(Self.column(busy, "sessions") == ["2", "2", "1"])
            #expect(Self.column(busy, "page_views") == ["3", "4", "2"])
            #expect(Self.column(busy, "bounce_rate") == ["0.5", "0.5", "0"])
            #expect(Self.column(busy, "pages_per_session") == ["1.5", "2", "2"])
            #expect(Self.column(busy, "avg_time_on_site_seconds") == ["150", "60", "600"])
            let totals = try #require(traffic.json["totals"] as? Row)
            #expect(totals["visitors"] as? Int == 3)
            #expect(totals["visitors_estimated"] as? Bool == false)
            #expect(totals["sessions"] as? Int == 5)
            #expect(totals["page_views"] as? Int == 9)
            #expect(totals["pages_per_session"] as? Double == 1.8)
            #expect(totals["avg_time_on_site_seconds"] as? Double == 204)
            #expect(totals["bounce_rate"] as? Double == 0.4)

            // Weeks are whole ISO weeks: 03-01 (a Sunday) widens the range back to Monday 02-23.
            let weeks = try await client.call(.get, "/v1/reports/traffic?\(range)&interval=week", token: analyst)
            #expect(weeks.json["from"] as? String == "2026-02-23")
            #expect(weeks.json["to"] as? String == "2026-03-15")
            #expect(Self.column(Self.rows(weeks), "visitors") == ["0", "3", "1"])
            #expect(Self.column(Self.rows(weeks), "sessions") == ["0", "4", "1"])

            // A segment comes from its rollup (sql/0012): only Grace is a current member.
            let segment = try await client.call(.get, "/v1/reports/traffic?\(range)&segment=pricing-viewers", token: analyst)
            #expect(segment.json["source"] as? String == "rollup")
            let segmentTotals = try #require(segment.json["totals"] as? Row)
            #expect(segmentTotals["visitors"] as? Int == 1)
            #expect(segmentTotals["sessions"] as? Int == 2)
            #expect(segmentTotals["page_views"] as? Int == 5)

            // Pages: "/" and "/pricing" both have 3 views; exits per view.
            let pages = try await client.call(.get, "/v1/reports/pages?\(range)", token: analyst)
            #expect(Self.column(Self.rows(pages), "path") == ["/", "/pricing", "/blog", "/features", "/signup"])
            #expect(Self.column(Self.rows(pages), "views") == ["3", "3", "1", "1", "1"])
            #expect(Self.column(Self.rows(pages), "entries") == ["3", "1", "1", "0", "0"])
            #expect(Self.column(Self.rows(pages), "exits") == ["1", "2", "1", "0", "1"])
            #expect(Self.column(Self.rows(pages), "exit_rate") == ["0.3333", "0.6667", "1", "0", "1"])
            let exits = try await client.call(.get, "/v1/reports/pages?\(range)&sort=exits&limit=2", token: analyst)
            #expect(Self.column(Self.rows(exits), "path") == ["/pricing", "/"])

            // Interests: three matched Pro plan views, one Plans mention (the negated one does not count).
            let interests = try await client.call(.get, "/v1/reports/interests?\(range)", token: analyst)
            let top = try #require(interests.json["details"] as? Row)["top"] as? [Row]
            #expect(top?.map { "\($0["target_slug"]!)=\($0["signals"]!)" } == ["pro-plan=3", "plans=1"])
            #expect(Self.column(Self.rows(interests), "period_start") == ["2026-03-02", "2026-03-03", "2026-03-03", "2026-03-09"])

            // Pipeline: known entered by Ada, Grace, Alan; Ada and Grace moved on after 24 h; Grace reached customer 48 h after mql.
            let pipeline = try await client.call(.get, "/v1/reports/pipeline?\(range)", token: analyst)
            let stages = Dictionary(uniqueKeysWithValues: Self.rows(pipeline).map { ($0["stage"] as? String ?? "", $0) })
            #expect(stages["known"]?["entered"] as? Int == 3)
            #expect(stages["known"]?["advanced"] as? Int == 2)
            #expect(stages["known"]?["conversion_to_next"] as? Double == 0.6667)
            #expect(stages["known"]?["avg_hours_in_stage"] as? Double == 24)
            #expect(stages["mql"]?["entered"] as? Int == 2)
            #expect(stages["mql"]?["conversion_to_next"] as? Double == 0.5)
            #expect(stages["mql"]?["median_hours_in_stage"] as? Double == 48)
            #expect(stages["customer"]?["entered"] as? Int == 1)
            #expect(Self.column(Self.rows(pipeline), "current_profiles") == ["2", "2", "0", "1", "0", "1"])

            // Segment sizes: Ada left at 03-04 00:00 UTC, so she is still a member at the end of 03-03.
            let sizes = try await client.call(.get, "/v1/reports/segments?site=acme&from=2026-03-02&to=2026-03-04&segment=pricing-viewers",
                                              token: analyst)
            #expect(Self.column(Self.rows(sizes), "members") == ["1", "2", "1"])
            #expect(Self.column(Self.rows(sizes), "entered") == ["1", "1", "0"])
            #expect(Self.column(Self.rows(sizes), "left") == ["0", "0", "1"])
        }
    }

    @Test func test_time_zone_boundaries() async throws {
        try await AnalyticsFixture.withReportsAPI { db, client, analyst in
            let berlin = "/v1/reports/traffic?site=acme&from=2026-03-02&to=2026-03-03&tz=Europe/Berlin"
            // No rollups in Berlin yet: computed live. Ada's 23:30 UTC session is on 03-03 there.
            let live = try await client.call(.get, berlin, token: analyst)
            #expect(live.json["source"] as? String == "live")
            #expect(Self.column(Self.rows(live), "sessions") == ["1", "3"])
            #expect(Self.column(Self.rows(live), "visitors") == ["1", "3"])
            #expect(Self.column(Self.rows(live), "page_views") == ["2", "5"])
            // Independently: sessions by Berlin day straight from the table.
            let counted = try await db.scalar("""
                SELECT string_agg(n::text, ',' ORDER BY d) FROM (
                  SELECT (started_at AT TIME ZONE 'Europe/Berlin')::date AS d, count(*) AS n FROM sessions
                  WHERE NOT is_bot AND (started_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN '2026-03-02' AND '2026-03-03' GROUP BY 1) x
                """, as: String.self)
            #expect(counted == "1,3")

            try await AnalyticsFixture.refresh(db, zones: ["Europe/Berlin"])
            let rolled = try await client.call(.get, berlin, token: analyst)
            #expect(rolled.json["source"] as? String == "rollup")
            #expect(Self.rows(rolled).map { $0 as NSDictionary } == Self.rows(live).map { $0 as NSDictionary })
            #expect((rolled.json["totals"] as? NSDictionary) == (live.json["totals"] as? NSDictionary))

            // In UTC the same session stays on 03-02.
            let utc = try await client.call(.get, "/v1/reports/traffic?site=acme&from=2026-03-02&to=2026-03-03", token: analyst)
            #expect(Self.column(Self.rows(utc), "sessions") == ["2", "2"])
            // An empty range gives zero rows for each day, not an error.
            let empty = try await client.call(.get, "/v1/reports/traffic?site=acme&from=2020-01-01&to=2020-01-07", token: analyst)
            #expect(empty.status == .ok)
            #expect(Self.column(Self.rows(empty), "sessions") == Array(repeating: "0", count: 7))
            #expect((empty.json["totals"] as? Row)?["visitors"] as? Int == 0)
            #expect((empty.json["totals"] as? Row)?["bounce_rate"] is NSNull)
        }
    }

    @Test func test_personalization_roi() async throws {
        // 60/100 against 40/100: difference 0.2 ± 1.96·√(0.24/100 + 0.24/100).
        let interval = try #require(TwoProportionInterval(successes1: 60, trials1: 100, successes2: 40, trials2: 100))
        #expect(abs(interval.difference - 0.2) < 1e-12)
        #expect(abs(interval.low - 0.064210) < 1e-5)
        #expect(abs(interval.high - 0.335790) < 1e-5)
        #expect(TwoProportionInterval(successes1: 0, trials1: 0, successes2: 1, trials2: 2) == nil)

        try await AnalyticsFixture.withReportsAPI(refresh: false) { db, client, analyst in
            // Shown: Ada (reached mql after being served), Alan, #4 → 1/3. Holdout: Grace (mql), #5 → 1/2.
            let roi = try await client.call(.get, "/v1/reports/personalization?site=acme&from=2026-03-01&to=2026-03-10", token: analyst)
            #expect(Self.column(Self.rows(roi), "group") == ["personalized", "holdout"])
            #expect(Self.column(Self.rows(roi), "visitors") == ["3", "2"])
            #expect(Self.column(Self.rows(roi), "converted") == ["1", "1"])
            let totals = try #require(roi.json["totals"] as? Row)
            let se = (1.0 / 3 * (2.0 / 3) / 3 + 0.25 / 2).squareRoot()
            #expect(totals["difference"] as? Double == -0.1667)
            #expect(abs((totals["ci95_low"] as? Double ?? 0) - (1.0 / 3 - 0.5 - 1.959964 * se)) < 1e-4)
            #expect(abs((totals["ci95_high"] as? Double ?? 0) - (1.0 / 3 - 0.5 + 1.959964 * se)) < 1e-4)
            // Customer as the goal: only Grace (held out) got there.
            let customer = try await client.call(.get, "/v1/reports/personalization?site=acme&from=2026-03-01&to=2026-03-10&goal=customer",
                                                 token: analyst)
            #expect(Self.column(Self.rows(customer), "converted") == ["0", "1"])
        }
    }

    @Test func test_exposures_are_recorded_by_the_recommendation_call() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let id = "00000000-0000-4000-8000-000000000006"
                let recommendations = try await client.call(.get, "/v1/profiles/\(id)/recommendations", token: reader)
                #expect(recommendations.status == .ok)
                let context = try await client.call(.get, "/v1/profiles/\(id)/context", token: reader)
                #expect(context.status == .ok)
            }
            #expect(try await db.scalar("SELECT served_count FROM personalization_exposures WHERE profile_id = '00000000-0000-4000-8000-000000000006'",
                                        as: Int.self) == 2)
        }
    }

    @Test func test_report_generation() async throws {
        try await AnalyticsFixture.withReportsAPI { db, client, analyst in
            let range = "site=acme&from=2026-03-01&to=2026-03-10"
            // Every report answers as JSON with its columns, and as CSV with the same columns.
            for name in ReportsController.names {
                let json = try await client.call(.get, "/v1/reports/\(name)?\(range)", token: analyst)
                #expect(json.status == .ok, "\(name): \(Self.text(json))")
                let columns = json.json["columns"] as? [String] ?? []
                #expect(!columns.isEmpty, "\(name)")
                let csv = try await client.call(.get, "/v1/reports/\(name)?\(range)", token: analyst, headers: [.accept: "text/csv"])
                #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true, "\(name)")
                let lines = Self.text(csv).split(separator: "\r\n")
                #expect(lines.first.map(String.init) == columns.joined(separator: ","), "\(name)")
                #expect(lines.count == Self.rows(json).count + 1, "\(name)")
            }
            let csv = try await client.call(.get, "/v1/reports/pages?\(range)&format=csv&limit=2", token: analyst)
            #expect(Self.text(csv) == "path,views,entries,exits,exit_rate\r\n/,3,3,1,0.3333\r\n/pricing,3,1,2,0.6667\r\n")
            let summary = try await client.call(.get, "/v1/reports/summary?\(range)", token: analyst)
            let figures = Dictionary(uniqueKeysWithValues: Self.rows(summary).map { ("\($0["metric"]!)", "\($0["value"]!)") })
            #expect(figures["visitors"] == "3")
            #expect(figures["new_mql"] == "2")
            #expect(figures["new_customer"] == "1")
            let funnel = try await client.call(.get, "/v1/reports/journeys?\(range)&steps=/,/pricing", token: analyst)
            #expect(Self.column(Self.rows(funnel), "sessions") == ["3", "2"])
        }
    }

    @Test func test_hostile_report_parameters() async throws {
        try await AnalyticsFixture.withReportsAPI(refresh: false) { db, client, analyst in
            let bad: [(String, String)] = [
                ("from=2026-13-01", "from"), ("from=2026-02-30", "from"), ("from=yesterday", "from"), ("to=2026-03-01T00:00:00Z", "to"),
                ("from=2026-03-10&to=2026-03-01", "from"), ("from=2000-01-01&to=2026-01-01", "from"),
                ("tz=Mars/Olympus_Mons", "tz"), ("tz=UTC%27%3B%20DROP%20TABLE%20sites", "tz"), ("interval=month", "interval"),
                ("format=xml", "format"), ("segment=%00", "segment"), ("limit=0", "limit"), ("limit=abc", "limit"),
                ("segment=nope", "segment"),
            ]
            for (query, field) in bad {
                let answer = try await client.call(.get, "/v1/reports/pages?site=acme&\(query)", token: analyst)
                #expect(answer.status == .badRequest, "\(query): \(Self.text(answer))")
                #expect(answer.headers[.contentType] == "application/problem+json", "\(query)")
                #expect(answer.json["field"] as? String == field, "\(query)")
            }
            #expect(try await client.call(.get, "/v1/reports/traffic?site=nowhere", token: analyst).status == .notFound)
            #expect(try await client.call(.get, "/v1/reports/traffic?site=ACME%20", token: analyst).status == .badRequest)
            #expect(try await client.call(.get, "/v1/reports/traffic", token: analyst).status == .badRequest)
            #expect(try await client.call(.get, "/v1/reports/nothing?site=acme", token: analyst).status == .notFound)
            #expect(try await client.call(.get, "/v1/reports/personalization?site=acme&goal=anonymous", token: analyst).status == .badRequest)
            #expect(try await client.call(.get, "/v1/reports/journeys?site=acme&steps=/", token: analyst).status == .badRequest)
            #expect(try await client.call(.get, "/v1/reports/traffic?site=acme", token: nil).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/reports/traffic?site=acme", token: try await APIHarness(db: db).key([.profilesRead])).status == .forbidden)
            #expect(try await client.call(.get, "/v1/reports/traffic?site=acme", token: try await APIHarness(db: db).key([.admin])).status == .ok)
        }
    }
}
