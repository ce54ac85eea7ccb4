@testable import EngineApp
@testable import ProfileAPIApp
import Foundation
import PostgresNIO
import ProfileModel
import Testing

@Suite("Segments")
struct SegmentTests {
    static func syncBuiltins(_ db: TestDatabase) async throws {
        try await BuiltinSegments.load(path: RepositoryPaths.root.appendingPathComponent("config/segments.yaml").path)
            .sync(db.client, logger: TestDatabase.logger)
    }

    static func members(_ db: TestDatabase, _ slug: String) async throws -> Set<String> {
        let rows = try await db.client.query(
            """
            SELECT i.value FROM segment_memberships m JOIN segments s ON s.id = m.segment_id
            JOIN profile_identities i ON i.profile_id = m.profile_id AND i.kind = 'anonymous_id'
            WHERE s.slug = \(slug) AND m.left_at IS NULL
            """, logger: TestDatabase.logger)
        var names = Set<String>()
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }

    static func recent(_ minutesAgo: Double) -> String {
        Date().addingTimeInterval(-minutesAgo * 60).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func page(_ visitor: String, _ path: String, _ minutesAgo: Double) -> [String: Any] {
        ["type": "page", "anonymousId": visitor, "timestamp": recent(minutesAgo), "properties": ["url": "https://acme.com\(path)", "path": path]]
    }

    @Test func the_profile_api_syncs_the_built_in_segments_when_it_starts() async throws {
        try await TestDatabase.with { db in
            // An older definition of one built-in: the sync updates it in place.
            try await db.client.query(
                """
                INSERT INTO segments (site_id, slug, name, description, definition, builtin)
                VALUES (NULL, 'bouncer', 'Old name', '', '{"stage": ["sql"]}', true)
                """, logger: TestDatabase.logger)
            try await APIHarness(db: db).run { _ in
                // config/segments.yaml lists five.
                try await WebhookTests.waitFor(db, "SELECT count(*)::int FROM segments WHERE builtin AND site_id IS NULL AND name <> 'Old name'", equals: 5)
            }
            #expect(try await db.scalar("SELECT name FROM segments WHERE slug = 'bouncer'", as: String.self) == "Bouncer")
            #expect(try await db.scalar("SELECT count(*)::int FROM segments", as: Int.self) == 5)
        }
    }

    @Test func test_visitor_segmentation() async throws {
        try await TestDatabase.with { db in
            try await Self.syncBuiltins(db)
            var events: [[String: Any]] = [Self.page("bouncer", "/", 5)]
            // Researcher: 8 pages over two sessions, never pricing.
            events += (0..<4).map { Self.page("reader", "/blog/\($0)", 200 - Double($0)) } + (0..<4).map { Self.page("reader", "/docs/\($0)", 20 - Double($0)) }
            // Returning evaluator: three sessions, one of them on pricing.
            events += [Self.page("evaluator", "/", 300), Self.page("evaluator", "/features", 200), Self.page("evaluator", "/pricing", 100)]
            // High intent through qualification (fit + pricing pushes the lead score over the MQL line).
            events += [Self.page("buyer", "/pricing", 10), Self.page("buyer", "/plans", 9), Self.page("buyer", "/quote", 8),
                       ["type": "identify", "anonymousId": "buyer", "timestamp": Self.recent(7),
                        "traits": ["email": "cfo@bigco.com", "job_title": "CFO", "company_size": "1001-5000", "industry": "finance", "phone": "+14155552671"]]]
            _ = try await ProfileEngineTests.ingest(db, [events])
            #expect(try await Self.members(db, "bouncer") == ["bouncer"])
            #expect(try await Self.members(db, "researcher") == ["reader"])
            #expect(try await Self.members(db, "returning-evaluator") == ["evaluator"])
            #expect(try await Self.members(db, "high-intent") == ["buyer"])
            #expect(try await Self.members(db, "at-risk").isEmpty)
        }
    }

    @Test func test_pattern_recognition() async throws {
        try await TestDatabase.with { db in
            try await Self.syncBuiltins(db)
            // Engaged a year ago (three sessions), silent since: at risk of churning.
            _ = try await ProfileEngineTests.ingest(db, [[
                Events.page("lapsed", "https://acme.com/a", minute: 0), Events.page("lapsed", "https://acme.com/b", minute: 100),
                Events.page("lapsed", "https://acme.com/c", minute: 200), Events.page("fresh", "https://acme.com/", minute: 0),
            ]])
            #expect(try await Self.members(db, "at-risk") == ["lapsed"])
            // "fresh" had one session a year ago: a bouncer, not at risk.
            #expect(try await Self.members(db, "bouncer").contains("fresh"))
        }
    }

    @Test func memberships_are_entered_and_left_incrementally() async throws {
        try await TestDatabase.with { db in
            try await Self.syncBuiltins(db)
            let engine = try await ProfileEngineTests.ingest(db, [[Self.page("v", "/", 30)]])
            #expect(try await Self.members(db, "bouncer") == ["v"])
            _ = try await ProfileEngineTests.ingest(db, [[Self.page("v", "/features", 29)]])
            #expect(try await Self.members(db, "bouncer").isEmpty)
            let profile = try #require(try await engine.profile("anonymous_id", "v"))
            #expect(try await engine.count("SELECT count(*)::int FROM segment_memberships WHERE profile_id = \(profile) AND left_at IS NOT NULL") == 1)
            #expect(try await engine.count("SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile) AND kind = 'segment_entered' AND changes->>'segment' = 'bouncer'") == 1)
            #expect(try await engine.count("SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile) AND kind = 'segment_left'") == 1)
        }
    }

    /// A definition written to the table directly, past the API's check, that PostgreSQL cannot
    /// run: the engine sets it aside and the batch, and every other segment, go on.
    @Test func a_segment_postgresql_cannot_run_is_set_aside_and_the_batch_goes_on() async throws {
        try await TestDatabase.with { db in
            let collector = CollectorHarness(db: db)
            try await collector.site("acme", writeKey: "wk")
            for (slug, definition) in [("bad-pattern", #"{"page_path": "(?<x>a)"}"#), ("pricing", #"{"page_path": "^/pricing"}"#)] {
                try await db.client.query("INSERT INTO segments (site_id, slug, name, definition) VALUES (1, \(slug), \(slug), \(definition)::jsonb)",
                                          logger: TestDatabase.logger)
            }
            let engine = try await ProfileEngineTests.ingest(db, [[Events.page("v", "https://acme.com/pricing", minute: 0)]])
            #expect(try await db.scalar("SELECT count(*)::int FROM dead_letters", as: Int.self) == 0)
            #expect(try await db.scalar("SELECT count(*)::int FROM event_queue", as: Int.self) == 0)
            #expect(try await Self.members(db, "pricing") == ["v"])
            let error = try #require(try await db.scalar(
                "SELECT f.error FROM segment_failures f JOIN segments s ON s.id = f.segment_id WHERE s.slug = 'bad-pattern'", as: String.self))
            #expect(error.hasPrefix("2201B"), "\(error)")
            // Set aside: later batches leave it out without trying it again.
            _ = try await ProfileEngineTests.ingest(db, [[Events.page("w", "https://acme.com/pricing", minute: 1)]])
            #expect(try await Self.members(db, "pricing") == ["v", "w"])
            #expect(try await db.scalar("SELECT count(*)::int FROM dead_letters", as: Int.self) == 0)
            _ = engine
            // The API shows why.
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let list = try await client.call(.get, "/v1/segments", token: reader)
                let bad = (list.json["data"] as? [[String: Any]])?.first { $0["slug"] as? String == "bad-pattern" }
                #expect(((bad?["failure"] as? [String: Any])?["error"] as? String)?.hasPrefix("2201B") == true)
                let good = (list.json["data"] as? [[String: Any]])?.first { $0["slug"] as? String == "pricing" }
                #expect(good?["failure"] is NSNull)
            }
        }
    }

    @Test func custom_rules_handle_missing_fields_nulls_and_combinations() async throws {
        try await TestDatabase.with { db in
            _ = try await ProfileEngineTests.ingest(db, [[
                Events.identify("fin", traits: ["industry": "finance", "employees": 500], minute: 0),
                Events.identify("sw", traits: ["industry": "software", "employees": 20], minute: 0),
                Events.identify("bare", traits: ["name": "No Industry"], minute: 0),
            ]])
            func define(_ slug: String, _ definition: JSONValue) async throws {
                _ = try SegmentRule(json: definition)
                try await db.client.query("INSERT INTO segments (site_id, slug, name, definition) VALUES (1, \(slug), \(slug), \(definition.jsonText)::jsonb)",
                                          logger: TestDatabase.logger)
            }
            try await define("not-software", ["field": "industry", "op": "neq", "value": "software"])
            try await define("big-or-finance", ["any": [["field": "employees", "op": "gte", "value": 200], ["field": "industry", "op": "in", "value": ["finance", "healthcare"]]]])
            try await define("no-industry", ["field": "industry", "op": "missing"])
            try await define("small-and-not-finance", ["all": [["field": "employees", "op": "lt", "value": 100], ["not": ["field": "industry", "op": "eq", "value": "finance"]]]])
            let count = try await SegmentEvaluator(logger: TestDatabase.logger).reevaluateAll(db.client)
            #expect(count == 3)
            // A missing field is "not software" (neq is null-safe) but never "less than 100".
            #expect(try await Self.members(db, "not-software") == ["bare", "fin"])
            #expect(try await Self.members(db, "big-or-finance") == ["fin"])
            #expect(try await Self.members(db, "no-industry") == ["bare"])
            #expect(try await Self.members(db, "small-and-not-finance") == ["sw"])
        }
    }

    @Test(arguments: [
        (JSONValue.object([:]), "definition: must be a non-empty JSON object"),
        (["all": []], "definition.all: must be a non-empty array"),
        (["all": [["field": "x", "op": "near", "value": 1]]], "definition.all[0].op: must be one of"),
        (["metric": "karma", "op": "gt", "value": 1], "definition.metric: must be one of"),
        (["page_path": "(", "min_views": 1], "definition.page_path: is not a valid regular expression"),
        (["field": "industry", "op": "in", "value": "finance"], "definition.value: must be an array for op in"),
        (["colour": "blue"], "definition: is not a condition"),
        (["page_path": .string(String(repeating: "a", count: 201))], "definition.page_path: must be at most 200 characters"),
        (["any": .array((0..<101).map { _ in ["stage": "known"] })], "definition.any: has 101 conditions; at most 100"),
        ((0..<9).reduce(JSONValue.object(["stage": "known"])) { inner, _ in ["not": inner] }, "definition.not.not.not.not.not.not.not.not.not: nests deeper than 8 levels"),
        (["all": .array((0..<60).map { _ in ["not": ["stage": "known"]] })], "definition: has 121 conditions; at most 100"),
    ] as [(JSONValue, String)])
    func invalid_definitions_name_the_place_of_the_error(definition: JSONValue, message: String) throws {
        let error = try #require(throws: SegmentRule.Invalid.self) { try SegmentRule(json: definition) }
        #expect(error.description.hasPrefix(message), "\(error)")
    }
}

@Suite("Segments API")
struct SegmentsAPITests {
    /// Attack: a pattern ICU accepts and PostgreSQL refuses used to make every engine batch fail.
    @Test func a_page_path_postgresql_refuses_is_refused_by_the_api_naming_the_condition() async throws {
        try await TestDatabase.with { db in
            try await CollectorHarness(db: db).site("acme", writeKey: "wk")
            let api = APIHarness(db: db)
            let writer = try await api.key([.profilesRead, .profilesWrite])
            try await api.run { client in
                for (definition, field) in [
                    (["page_path": "(?<x>a)"] as [String: Any], "definition.page_path"),
                    (["any": [["stage": "known"], ["page_path": "\\p{L}+"]]] as [String: Any], "definition.any[1].page_path"),
                ] {
                    #expect((try? NSRegularExpression(pattern: (definition["page_path"] as? String) ?? "\\p{L}+")) != nil, "ICU accepts it")
                    let answer = try await client.call(.post, "/v1/segments", token: writer, json: ["site": "acme", "slug": "evil", "name": "Evil", "definition": definition])
                    #expect(answer.status == .unprocessableContent, "\(answer.json)")
                    #expect(answer.json["field"] as? String == field)
                    #expect((answer.json["detail"] as? String)?.contains("PostgreSQL") == true, "\(answer.json)")
                }
                #expect(try await db.scalar("SELECT count(*)::int FROM segments WHERE slug = 'evil'", as: Int.self) == 0)
                // A pattern both accept still works.
                #expect(try await client.call(.post, "/v1/segments", token: writer, json: [
                    "site": "acme", "slug": "pricing-readers", "name": "Pricing readers", "definition": ["page_path": "^/pricing", "min_views": 2]]).status == .created)
            }
        }
    }

    @Test func segments_are_defined_listed_and_deleted_through_the_api() async throws {
        try await TestDatabase.with { db in
            _ = try await ProfileEngineTests.ingest(db, [[Events.identify("fin", traits: ["industry": "finance"], minute: 0)]])
            let api = APIHarness(db: db)
            let writer = try await api.key([.profilesRead, .profilesWrite])
            try await api.run { client in
                let bad = try await client.call(.post, "/v1/segments", token: writer, json: ["site": "acme", "slug": "x", "name": "X",
                                                                                            "definition": ["all": [["field": "industry", "op": "near"]]]])
                #expect(bad.status == .unprocessableContent)
                #expect(bad.json["field"] as? String == "definition.all[0].op")
                let created = try await client.call(.post, "/v1/segments", token: writer, json: [
                    "site": "acme", "slug": "finance", "name": "Finance", "definition": ["field": "industry", "op": "eq", "value": "finance"]])
                #expect(created.status == .created)
                #expect(try await client.call(.post, "/v1/segments", token: writer, json: [
                    "site": "acme", "slug": "finance", "name": "Again", "definition": ["stage": ["mql"]]]).status == .conflict)
                _ = try await SegmentEvaluator(logger: TestDatabase.logger).reevaluateAll(db.client)
                let list = try await client.call(.get, "/v1/segments", token: writer)
                let finance = (list.json["data"] as? [[String: Any]])?.first { $0["slug"] as? String == "finance" }
                #expect(finance?["members"] as? Int == 1)
                let members = try await client.call(.get, "/v1/profiles?segment=finance", token: writer)
                #expect((members.json["data"] as? [Any])?.count == 1)
                // A second site with a segment of the same slug, which deleting acme's must leave alone.
                try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('beta', 'Beta', 'wk-beta')", logger: TestDatabase.logger)
                #expect(try await client.call(.post, "/v1/segments", token: writer, json: [
                    "site": "beta", "slug": "finance", "name": "Finance", "definition": ["stage": ["mql"]]]).status == .created)
                let withoutSite = try await client.call(.delete, "/v1/segments/finance", token: writer)
                #expect(withoutSite.status == .badRequest)
                #expect(withoutSite.json["field"] as? String == "site")
                #expect(try await client.call(.delete, "/v1/segments/finance?site=acme", token: writer).status == .noContent)
                #expect(try await client.call(.delete, "/v1/segments/finance?site=acme", token: writer).status == .notFound)
                #expect(try await db.scalar("SELECT count(*)::int FROM segments s JOIN sites si ON si.id = s.site_id WHERE s.slug = 'finance' AND si.slug = 'beta'",
                                            as: Int.self) == 1)
            }
        }
    }
}
