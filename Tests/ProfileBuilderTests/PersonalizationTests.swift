import Foundation
import PostgresNIO
@testable import ProfileAPIApp
import ProfileModel
import Testing

@Suite("Recommendations and personalization")
struct PersonalizationTests {
    static let target = UUID(uuidString: "00000000-0000-0000-0000-0000000000a1")!
    static let owner = UUID(uuidString: "00000000-0000-0000-0000-0000000000a2")!

    /// A catalog, a visitor interested in the CRM suite who rejected the data warehouse, and
    /// neighbours whose interests make the right answer computable by hand (see the test).
    static func fixture(_ db: TestDatabase) async throws {
        try await db.client.query(
            """
            WITH site AS (INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk') RETURNING id),
            cats AS (INSERT INTO catalog_categories (site_id, slug, name) SELECT id, c, initcap(c) FROM site, unnest(ARRAY['crm', 'analytics']) c RETURNING id, slug)
            INSERT INTO catalog_items (site_id, slug, name, category_id, url_patterns)
            SELECT (SELECT id FROM site), i.slug, i.name, (SELECT id FROM cats WHERE cats.slug = i.category), i.patterns
            FROM (VALUES ('crm-suite', 'CRM Suite', 'crm', ARRAY['/crm*']), ('sales-ai', 'Sales AI', 'crm', ARRAY['/sales*']),
                         ('bi-dashboards', 'BI Dashboards', 'analytics', ARRAY['/dashboards*']),
                         ('data-warehouse', 'Data Warehouse', 'analytics', ARRAY['/warehouse*']),
                         ('support-desk', 'Support Desk', NULL, ARRAY['/support*'])) AS i(slug, name, category, patterns)
            """, logger: TestDatabase.logger)
        try await db.client.query(
            """
            INSERT INTO visitor_profiles (id, site_id, fields, stage, lead_score) VALUES
              (\(target), 1, '{"email": "ann@acme.com", "name": "Ann Lee", "job_title": "CTO"}', 'mql', 62),
              (\(owner), 1, '{"owned_products": ["crm-suite"]}', 'known', 10),
              ('00000000-0000-0000-0000-0000000000b1', 1, '{}', 'anonymous', 0),
              ('00000000-0000-0000-0000-0000000000b2', 1, '{}', 'anonymous', 0),
              ('00000000-0000-0000-0000-0000000000b3', 1, '{}', 'anonymous', 0)
            """, logger: TestDatabase.logger)
        try await db.client.query(
            """
            INSERT INTO interests (site_id, profile_id, catalog_item_id, confidence, negated)
            SELECT 1, p::uuid, (SELECT id FROM catalog_items WHERE slug = s), c, n FROM (VALUES
              ('00000000-0000-0000-0000-0000000000a1', 'crm-suite', 0.8, false), ('00000000-0000-0000-0000-0000000000a1', 'data-warehouse', 0.5, true),
              ('00000000-0000-0000-0000-0000000000a2', 'crm-suite', 0.8, false),
              ('00000000-0000-0000-0000-0000000000b1', 'crm-suite', 0.9, false), ('00000000-0000-0000-0000-0000000000b1', 'sales-ai', 0.7, false),
              ('00000000-0000-0000-0000-0000000000b2', 'crm-suite', 0.6, false), ('00000000-0000-0000-0000-0000000000b2', 'sales-ai', 0.5, false),
              ('00000000-0000-0000-0000-0000000000b2', 'bi-dashboards', 0.4, false),
              ('00000000-0000-0000-0000-0000000000b3', 'support-desk', 0.9, false)) AS v(p, s, c, n)
            """, logger: TestDatabase.logger)
        try await db.client.query(
            """
            WITH s AS (INSERT INTO sessions (site_id, profile_id, started_at, last_activity_at)
                       VALUES (1, '00000000-0000-0000-0000-0000000000b1', now(), now()), (1, \(target), now(), now()) RETURNING id, profile_id)
            INSERT INTO page_views (site_id, session_id, profile_id, url, path, title, viewed_at)
            SELECT 1, s.id, s.profile_id, 'https://acme.com' || v.path, v.path, v.title, now()
            FROM s JOIN (VALUES ('00000000-0000-0000-0000-0000000000b1'::uuid, '/sales/ai-assistant', 'AI assistant for sales'),
                               (\(target), '/crm/overview', 'CRM overview'),
                               ('00000000-0000-0000-0000-0000000000b1'::uuid, '/crm/overview', 'CRM overview')) AS v(profile_id, path, title)
                 ON v.profile_id = s.profile_id
            """, logger: TestDatabase.logger)
        try await db.client.query(
            """
            INSERT INTO conversations (site_id, id, profile_id, started_at, last_message_at) VALUES (1, 'c1', \(target), now(), now());
            """, logger: TestDatabase.logger)
        try await db.client.query(
            "INSERT INTO chat_intents (site_id, profile_id, conversation_id, intent, confidence) VALUES (1, \(target), 'c1', 'pricing_inquiry', 0.9)",
            logger: TestDatabase.logger)
        try await db.client.query(
            """
            INSERT INTO chat_intents (site_id, profile_id, conversation_id, intent, confidence, details)
            VALUES (1, \(target), 'c1', 'pain_point', 0.6, '{"pain_points": ["reports take hours in Excel"]}')
            """, logger: TestDatabase.logger)
    }

    @Test func test_content_recommendations() async throws {
        try await TestDatabase.with { db in
            try await Self.fixture(db)
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let answer = try await client.call(.get, "/v1/profiles/\(Self.target)/recommendations?limit=10", token: reader)
                #expect(answer.status == .ok)
                let items = try #require(answer.json["items"] as? [[String: Any]])
                // Neighbours by shared interest (similarity = product of confidences on crm-suite):
                // b1 0.72, b2 0.48, the owner 0.64; b3 shares nothing. Co-occurrence scores:
                // crm-suite 0.72·0.9 + 0.48·0.6 + 0.64·0.8 = 1.448 (the maximum), sales-ai 0.72·0.7 + 0.48·0.5 = 0.744,
                // bi-dashboards 0.48·0.4 = 0.192. Score = own + 0.6·co/max + 0.3·category:
                // crm-suite 0.8 + 0.6 + 0.24 = 1.64; sales-ai 0.3083 + 0.24 = 0.5483; bi-dashboards 0.0796.
                // data-warehouse was rejected; support-desk is unrelated.
                #expect(items.map { $0["item"] as? String } == ["crm-suite", "sales-ai", "bi-dashboards"])
                #expect(items.map { $0["score"] as? Double } == [1.64, 0.5483, 0.0796])
                let salesAI = items[1]
                #expect((salesAI["reasons"] as? [String])?.contains("2 visitors with similar interests engaged with it") == true)
                #expect((salesAI["content"] as? [[String: Any]])?.map { $0["path"] as? String } == ["/sales/ai-assistant"])
                // What the visitor has already seen is not recommended as content.
                #expect((items[0]["content"] as? [Any])?.isEmpty == true)
                // Products the visitor already owns are left out.
                let owner = try await client.call(.get, "/v1/profiles/\(Self.owner)/recommendations", token: reader)
                #expect((owner.json["items"] as? [[String: Any]])?.first?["item"] as? String == "sales-ai")
                #expect(try await client.call(.get, "/v1/profiles/\(UUID())/recommendations", token: reader).status == .notFound)
            }
        }
    }

    @Test func test_personalization_quality() async throws {
        try await TestDatabase.with { db in
            try await Self.fixture(db)
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let context = try await client.call(.get, "/v1/profiles/\(Self.target)/context", token: reader)
                #expect(context.status == .ok)
                let summary = try #require(context.json["summary"] as? String)
                #expect(summary.hasPrefix("Visitor stage: mql (lead score 62)."))
                #expect(summary.contains("email = ann@acme.com"))
                #expect(summary.contains("Recent intents: pricing_inquiry."))
                #expect(summary.contains("Pain points, in their words: \"reports take hours in Excel\"."))
                #expect(context.json["pain_points"] as? [String] == ["reports take hours in Excel"])
                // The profile document shows the same.
                let document = try await client.call(.get, "/v1/profiles/\(Self.target)", token: reader)
                let chat = try #require(document.json["chat"] as? [String: Any])
                #expect((chat["intents"] as? [[String: Any]])?.map { $0["intent"] as? String } == ["pricing_inquiry"])
                #expect((chat["intents"] as? [[String: Any]])?.first?["mentions"] as? Int == 1)
                #expect((chat["pain_points"] as? [[String: Any]])?.map { $0["text"] as? String } == ["reports take hours in Excel"])
                #expect(summary.contains("Do not ask again for: email, name, job_title."))
                #expect((context.json["known"] as? [[String: Any]])?.first?["description"] as? String == "The visitor's work or personal email address.")
                let holdout = context.json["holdout"] as? Bool ?? false
                #expect((context.json["recommended"] as? [String])?.isEmpty == holdout)
                // The bound holds, and it drops whole lines, least useful last.
                let short = try await client.call(.get, "/v1/profiles/\(Self.target)/context?max_chars=200", token: reader)
                let bounded = try #require(short.json["summary"] as? String)
                #expect(bounded.count <= 200 && bounded.hasPrefix("Visitor stage: mql"))
                #expect(try await client.call(.get, "/v1/profiles/\(Self.target)/context?max_chars=10", token: reader).status == .badRequest)
            }
        }
    }

    @Test func the_holdout_group_is_deterministic_and_gets_no_recommendations() throws {
        let registry = try FieldRegistry.load(path: RepositoryPaths.profileFields)
        let none = PersonalizationContext(registry: registry, holdoutPercent: 0)
        let all = PersonalizationContext(registry: registry, holdoutPercent: 100)
        let half = PersonalizationContext(registry: registry, holdoutPercent: 50)
        let ids = (0..<1000).map { _ in UUID() }
        #expect(ids.allSatisfy { !none.isHoldout($0) })
        #expect(ids.allSatisfy { all.isHoldout($0) })
        let share = Double(ids.filter(half.isHoldout).count) / Double(ids.count)
        #expect(share > 0.4 && share < 0.6)
        #expect(ids.allSatisfy { half.isHoldout($0) == half.isHoldout($0) })
        let profile: JSONValue = ["id": .string(ids[0].uuidString), "stage": "known", "lead_score": 5, "fields": [:], "interests": []]
        let recommendations: JSONValue = ["items": [["item": "crm-suite"]]]
        #expect(all.build(profile: profile, intents: [], recommendations: recommendations, maxCharacters: 500)["recommended"] == .array([]))
        #expect(none.build(profile: profile, intents: [], recommendations: recommendations, maxCharacters: 500)["recommended"] == .array(["crm-suite"]))
    }
}

@Suite("Email personalization")
struct EmailTemplateTests {
    static let template = """
        Hi {{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}there{{/first_name}},
        {{#conversation}}{{summary}}{{/conversation}}
        {{#company.name}}How is everyone at {{company.name}}?{{/company.name}}
        {{#recommended}}- {{name}}
        {{/recommended}}
        """

    @Test func templates_render_with_a_profile_and_its_conversation_and_tolerate_missing_fields() async throws {
        try await TestDatabase.with { db in
            try await PersonalizationTests.fixture(db)
            try await db.client.query(
                """
                INSERT INTO chat_messages (site_id, conversation_id, profile_id, role, text, sent_at) VALUES
                  (1, 'c1', \(PersonalizationTests.target), 'user', 'Does the CRM integrate with Outlook?', now() - interval '2 minutes'),
                  (1, 'c1', \(PersonalizationTests.target), 'assistant', 'Yes, it does.', now() - interval '1 minute')
                """, logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let writer = try await api.key([.profilesRead, .profilesWrite])
            try await api.run { client in
                let broken = try await client.call(.put, "/v1/email-templates/broken", token: writer, json: ["subject": "Hi", "body": "{{#open}} never closed"])
                #expect(broken.status == .unprocessableContent)
                #expect(broken.json["field"] as? String == "body")
                let saved = try await client.call(.put, "/v1/email-templates/follow-up", token: writer,
                                                  json: ["subject": "Following up, {{first_name}}", "body": Self.template])
                #expect(saved.status == .ok)
                let ann = try await client.call(.post, "/v1/profiles/\(PersonalizationTests.target)/email", token: writer, json: ["template": "follow-up"])
                #expect(ann.status == .ok)
                let body = try #require(ann.json["body"] as? String)
                #expect(ann.json["subject"] as? String == "Following up, Ann")
                #expect(ann.json["to"] as? String == "ann@acme.com")
                #expect(body.hasPrefix("Hi Ann,"))
                #expect(body.contains("You asked: “Does the CRM integrate with Outlook?”"))
                #expect(body.contains("- CRM Suite"))
                #expect(!body.contains("How is everyone at"))  // no company known: the section is left out
                // A visitor with no name and no conversation still gets a sensible email.
                let anonymous = try await client.call(.post, "/v1/profiles/00000000-0000-0000-0000-0000000000b3/email", token: writer, json: ["template": "follow-up"])
                #expect((anonymous.json["body"] as? String)?.hasPrefix("Hi there,") == true)
                #expect(anonymous.json["subject"] as? String == "Following up, ")
                #expect(try await client.call(.post, "/v1/profiles/\(PersonalizationTests.target)/email", token: writer, json: ["template": "nope"]).status == .notFound)
            }
        }
    }
}
