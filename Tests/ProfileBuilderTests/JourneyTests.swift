import Foundation
@testable import ProfileAPIApp
import Testing

@Suite("Journeys")
struct JourneyTests {
    /// Five sessions whose paths, exits and funnel figures are worked out by hand in the tests.
    static func clickstream(_ db: TestDatabase) async throws {
        try await SegmentTests.syncBuiltins(db)
        let journeys: [(String, [(String, Double)])] = [
            ("a", [("/", 0), ("/features", 1), ("/pricing", 2), ("/signup", 3)]),
            ("b", [("/", 0), ("/pricing", 1), ("/signup", 2)]),
            ("c", [("/", 0), ("/features", 1), ("/pricing", 3)]),
            ("d", [("/blog", 0)]),
            ("e", [("/", 0), ("/features", 2)]),
        ]
        let start = Date().addingTimeInterval(-7200)
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var events: [[String: Any]] = []
        for (visitor, pages) in journeys {
            for (path, minute) in pages {
                events.append(["type": "page", "anonymousId": visitor, "timestamp": start.addingTimeInterval(minute * 60).formatted(style),
                               "properties": ["url": "https://acme.com\(path)", "path": path]])
            }
        }
        _ = try await ProfileEngineTests.ingest(db, [events])
    }

    @Test func test_navigation_analysis() async throws {
        try await TestDatabase.with { db in
            try await Self.clickstream(db)
            let api = APIHarness(db: db)
            let analyst = try await api.key([.reports])
            try await api.run { client in
                let journeys = try await client.call(.get, "/v1/journeys?site=acme&length=3", token: analyst)
                #expect(journeys.status == .ok)
                let paths = (journeys.json["paths"] as? [[String: Any]])?.map { ($0["steps"] as? [String] ?? [], $0["count"] as? Int ?? 0) }
                #expect(paths?.map(\.0) == [["/", "/features", "/pricing"], ["/", "/pricing", "/signup"], ["/features", "/pricing", "/signup"]])
                #expect(paths?.map(\.1) == [2, 1, 1])
                let entries = (journeys.json["entry_pages"] as? [[String: Any]])?.map { "\($0["path"]!)=\($0["sessions"]!)" }
                #expect(entries == ["/=4", "/blog=1"])
                let exits = (journeys.json["exit_pages"] as? [[String: Any]])?.map { "\($0["path"]!)=\($0["sessions"]!)" }
                #expect(exits == ["/signup=2", "/blog=1", "/features=1", "/pricing=1"])
                let dropOffs = (journeys.json["drop_offs"] as? [[String: Any]])?.map { "\($0["path"]!) \($0["exits"]!)/\($0["views"]!)" }
                #expect(dropOffs == ["/signup 2/2", "/blog 1/1", "/features 1/3", "/pricing 1/3", "/ 0/4"])

                let funnel = try await client.call(.get, "/v1/funnels?site=acme&steps=/,/pricing,/signup", token: analyst)
                let steps = try #require(funnel.json["steps"] as? [[String: Any]], "\(String(decoding: funnel.body, as: UTF8.self))")
                #expect(steps.map { $0["sessions"] as? Int } == [4, 3, 2])
                #expect(steps.map { $0["conversion_from_previous"] as? Double } == [1, 0.75, 0.6667])
                #expect(steps.map { $0["conversion_from_start"] as? Double } == [1, 0.75, 0.5])
                #expect(steps.map { $0["median_seconds_from_previous"] as? Double } == [nil, 120, 60])

                // Only the bouncer's session is left when scoped to that segment.
                let bouncers = try await client.call(.get, "/v1/journeys?site=acme&segment=bouncer", token: analyst)
                #expect((bouncers.json["entry_pages"] as? [[String: Any]])?.map { $0["path"] as? String } == ["/blog"])
                // An empty range is empty, not an error.
                let empty = try await client.call(.get, "/v1/journeys?site=acme&from=2020-01-01&to=2020-02-01", token: analyst)
                #expect((empty.json["paths"] as? [Any])?.isEmpty == true)
                #expect(try await client.call(.get, "/v1/funnels?site=acme&steps=/", token: analyst).status == .badRequest)
                #expect(try await client.call(.get, "/v1/journeys?site=acme", token: try await api.key([.profilesRead])).status == .forbidden)
            }
        }
    }

    @Test func test_engagement_metrics() async throws {
        try await TestDatabase.with { db in
            try await Self.clickstream(db)
            let api = APIHarness(db: db)
            let analyst = try await api.key([.reports])
            try await api.run { client in
                let distributions = try #require(try await client.call(.get, "/v1/journeys?site=acme", token: analyst).json["distributions"] as? [String: Any])
                #expect(distributions["sessions"] as? Int == 5)
                #expect((distributions["pages_per_session"] as? [[String: Any]])?.map { "\($0["pages"]!):\($0["sessions"]!)" } == ["1:1", "2:1", "3:2", "4:1"])
                #expect(distributions["avg_pages_per_session"] as? Double == 2.6)
                #expect(distributions["avg_time_on_site_seconds"] as? Double == 120)
                #expect((distributions["time_on_site"] as? [[String: Any]])?.map { "\($0["bucket"]!):\($0["sessions"]!)" } == ["0-10s:1", "1-3m:2", "3-10m:2"])
            }
            // Per profile: pages per session and time on site in engagement_metrics.
            #expect(try await db.scalar("SELECT pages_per_session::float8 FROM engagement_metrics m JOIN profile_identities i ON i.profile_id = m.profile_id WHERE i.value = 'a'", as: Double.self) == 4)
            #expect(try await db.scalar("SELECT total_time_seconds::int FROM engagement_metrics m JOIN profile_identities i ON i.profile_id = m.profile_id WHERE i.value = 'c'", as: Int.self) == 180)
            #expect(try await db.scalar("SELECT bounce_count FROM engagement_metrics m JOIN profile_identities i ON i.profile_id = m.profile_id WHERE i.value = 'd'", as: Int.self) == 1)
        }
    }
}
