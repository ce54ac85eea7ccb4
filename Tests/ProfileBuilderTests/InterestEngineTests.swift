@testable import EngineApp
import Foundation
@testable import InterestAnalysis
import PostgresNIO
import ServiceKit
@testable import ProfileAPIApp
@testable import ProfileModel
import Testing

/// Interests built by the real engine from chat and page events, against a real database.
@Suite struct InterestEngineTests {
    static func prepare(_ db: TestDatabase) async throws {
        try await CollectorHarness(db: db).site("acme", writeKey: "wk")
        _ = try await CatalogImportTests.importDemo(db)
    }

    static func dwell(_ anonymousID: String, pageView: String, minute: Double, ms: Int, scroll: Int) -> [String: Any] {
        ["type": "track", "event": "Page Dwell", "anonymousId": anonymousID, "timestamp": Events.at(minute),
         "properties": ["dwell_ms": ms, "max_scroll_depth": scroll, "page_view_id": pageView]]
    }

    func confidence(_ db: TestDatabase, _ profile: UUID, item: String) async throws -> Double? {
        try await db.scalar("""
            SELECT i.confidence::float8 FROM interests i JOIN catalog_items c ON c.id = i.catalog_item_id
            WHERE i.profile_id = \(profile) AND c.slug = \(item)
            """, as: Double.self)
    }

    @Test func test_page_interest_inference() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            let engine = try await ProfileEngineTests.ingest(db, [[
                Events.page("deep", "https://acme.com/products/crm/features", minute: 0, id: "pv-deep", title: "Lumen CRM"),
                Self.dwell("deep", pageView: "pv-deep", minute: 3, ms: 150_000, scroll: 100),
                Events.page("glance", "https://acme.com/products/crm", minute: 0, id: "pv-glance", title: "Lumen CRM"),
                Events.page("blog", "https://acme.com/blog/why-sales-forecasting-fails", minute: 0, id: "pv-blog", title: "Why sales forecasting fails"),
                Events.page("blog", "https://acme.com/about", minute: 1, id: "pv-about", title: "About us"),
            ]])
            let deep = try #require(try await engine.profile("anonymous_id", "deep"))
            let glance = try #require(try await engine.profile("anonymous_id", "glance"))
            let blog = try #require(try await engine.profile("anonymous_id", "blog"))
            #expect(try await db.scalar("SELECT matched_pattern FROM page_interests WHERE profile_id = \(deep) AND catalog_item_id IS NOT NULL",
                                        as: String.self) == "/products/crm*")
            // Deeper engagement gives higher confidence; the dwell arrived after the view and still counts.
            let deepConfidence = try #require(try await confidence(db, deep, item: "lumen-crm"))
            let glanceConfidence = try #require(try await confidence(db, glance, item: "lumen-crm"))
            #expect(deepConfidence > glanceConfidence && glanceConfidence > 0)
            #expect(try await db.scalar("SELECT dwell_ms FROM page_interests WHERE profile_id = \(deep) LIMIT 1", as: Int64.self) == 150_000)
            // The category gets the item's evidence too, and the title maps a blog post.
            #expect(try await db.scalar("""
                SELECT count(*)::int FROM interests i JOIN catalog_categories c ON c.id = i.category_id WHERE i.profile_id = \(deep) AND c.slug = 'crm'
                """, as: Int.self) == 1)
            #expect(try await db.scalar("SELECT matched_pattern FROM page_interests WHERE profile_id = \(blog)", as: String.self)?.hasPrefix("title:") == true)
            #expect(try await confidence(db, blog, item: "forecast") != nil)
            #expect(try await db.scalar("SELECT count(*)::int FROM page_interests WHERE profile_id = \(blog)", as: Int.self) == 1)
        }
    }

    @Test func chat_builds_interests_intents_and_fields() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            let engine = try await ProfileEngineTests.ingest(db, [[Events.page("v1", "https://acme.com/", minute: 0)]], chat: [
                "conversationId": "conv-1", "anonymousId": "v1",
                "messages": [
                    ["role": "user", "text": "Hi, I'm head of sales ops at Initech. We don't need the helpdesk, but how much is Lumen CRM for 12 reps?",
                     "timestamp": Events.at(1)],
                    ["role": "assistant", "text": "Lumen CRM is $49 per user. Would you like a demo of Forecast too?", "timestamp": Events.at(2)],
                    ["role": "user", "text": "Sure, book a demo. Reach me at ann@initech, or ann.lee@initech.com. We're a 300 employees company.",
                     "timestamp": Events.at(3)],
                ]])
            let profile = try #require(try await engine.profile("anonymous_id", "v1"))
            #expect(try #require(try await confidence(db, profile, item: "lumen-crm")) >= 0.6)
            #expect(try await db.scalar("""
                SELECT negated FROM interests i JOIN catalog_items c ON c.id = i.catalog_item_id WHERE i.profile_id = \(profile) AND c.slug = 'helpdesk'
                """, as: Bool.self) == true)
            // What the assistant says is not the visitor's interest.
            #expect(try await confidence(db, profile, item: "forecast") == nil)
            #expect(try await db.scalar("SELECT count(*)::int FROM product_interests WHERE profile_id = \(profile) AND detector = 'keyword'",
                                        as: Int.self) ?? 0 >= 2)
            let intents = try await db.scalar("SELECT string_agg(DISTINCT intent, ',' ORDER BY intent) FROM chat_intents WHERE profile_id = \(profile)",
                                              as: String.self)
            #expect(intents?.contains("pricing_inquiry") == true && intents?.contains("demo_request") == true)
            #expect(try await db.scalar("SELECT interest_tags FROM visitor_profiles WHERE id = \(profile)", as: [String].self)?.first == "lumen-crm")
            // Volunteered details are validated fields with source chat; the malformed email is not stored.
            let fields = try #require(try await db.scalar("SELECT fields::text FROM visitor_profiles WHERE id = \(profile)", as: String.self))
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(fields.utf8))
            #expect(json["email"] == nil)
            #expect(json["job_title"] == "head of sales ops")
            #expect(json["company_size"] == "201-1000")
            #expect(try await db.scalar("SELECT field_meta->'job_title'->>'source' FROM visitor_profiles WHERE id = \(profile)", as: String.self) == "chat")
            #expect(try await db.scalar("SELECT count(*)::int FROM field_rejections WHERE profile_id = \(profile) AND field = 'email' AND source = 'chat'",
                                        as: Int.self) == 1)
        }
    }

    @Test func a_site_without_a_catalog_gets_intents_pain_points_and_volunteered_details() async throws {
        try await TestDatabase.with { db in
            // No catalog import: the site has no items and no categories.
            let engine = try await ProfileEngineTests.ingest(db, [[Events.page("vp", "https://acme.com/pricing", minute: 0)]], chat: [
                "conversationId": "conv-nc", "anonymousId": "vp",
                "messages": [["role": "user", "timestamp": Events.at(1),
                              "text": "We want to buy licences for our whole team, can you send a quote? Onboarding new reps is a nightmare. I'm jo@example.com"]],
            ], engine: ["EMBEDDING_MODEL_DIR": EmbeddingModelFolder.path])
            let profile = try #require(try await engine.profile("anonymous_id", "vp"))
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self) == 0)
            let intents = try await db.scalar("SELECT string_agg(intent, ',' ORDER BY intent) FROM chat_intents WHERE profile_id = \(profile)", as: String.self)
            #expect(intents?.split(separator: ",").contains("purchase_intent") == true, "\(intents ?? "none")")
            #expect(intents?.split(separator: ",").contains("pain_point") == true, "\(intents ?? "none")")
            #expect(try await db.scalar("SELECT details->'pain_points'->>0 FROM chat_intents WHERE profile_id = \(profile) AND intent = 'pain_point'",
                                        as: String.self) == "Onboarding new reps is a nightmare")
            #expect(try await db.scalar("SELECT fields->>'email' FROM visitor_profiles WHERE id = \(profile)", as: String.self) == "jo@example.com")
            #expect(try await db.scalar("SELECT field_meta->'email'->>'source' FROM visitor_profiles WHERE id = \(profile)", as: String.self) == "chat")
            #expect(try await db.scalar("SELECT count(*)::int FROM product_interests WHERE profile_id = \(profile)", as: Int.self) == 0)
        }
    }

    func embeddedAt(_ db: TestDatabase) async throws -> [String: Date] {
        var result: [String: Date] = [:]
        let rows = try await db.client.query("""
            SELECT i.slug, e.embedded_at FROM catalog_item_embeddings e JOIN catalog_items i ON i.id = e.catalog_item_id
            """, logger: TestDatabase.logger)
        for try await (slug, at) in rows.decode((String, Date).self) { result[slug] = at }
        return result
    }

    @Test func catalog_vectors_are_stored_reused_by_the_next_engine_and_made_again_only_for_changed_items() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            let hybrid = ["EMBEDDING_MODEL_DIR": EmbeddingModelFolder.path]
            _ = try await ProfileEngineTests.ingest(db, [[Events.page("e1", "https://acme.com/", minute: 0)]], chat: [
                "conversationId": "conv-e1", "anonymousId": "e1",
                "messages": [["role": "user", "text": "we keep losing track of who said what to which customer", "timestamp": Events.at(1)]],
            ], engine: hybrid)
            let active = try #require(try await db.scalar("SELECT count(*)::int FROM catalog_items WHERE active", as: Int.self))
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_item_embeddings WHERE model = 'all-MiniLM-L6-v2'", as: Int.self) == active)
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_item_embeddings WHERE cardinality(vectors) <> cardinality(texts) * 384",
                                        as: Int.self) == 0)
            // The texts are the item's own: "name: description" first, then the names and keywords.
            #expect(try await db.scalar("""
                SELECT e.texts[2] FROM catalog_item_embeddings e JOIN catalog_items i ON i.id = e.catalog_item_id WHERE i.slug = 'sso'
                """, as: String.self) == "Single Sign-On")
            let first = try await embeddedAt(db)

            // Another engine (a new analyser, nothing in memory) loads them rather than embedding again.
            _ = try await ProfileEngineTests.ingest(db, [[Events.page("e2", "https://acme.com/", minute: 0)]], chat: [
                "conversationId": "conv-e2", "anonymousId": "e2",
                "messages": [["role": "user", "text": "our agents answer the same questions all day", "timestamp": Events.at(1)]],
            ], engine: hybrid)
            #expect(try await embeddedAt(db) == first)

            // A changed item is embedded again by the re-map its import leaves; the others are kept.
            let update = #"{"items": [{"slug": "sso", "name": "Single Sign-On", "category": "security", "keywords": ["log in once"], "url_patterns": ["/products/sso*"]}]}"#
            _ = try await CatalogImportTests.importer().importCatalog(text: update, format: .json, siteSlug: "acme", dryRun: false, client: db.client)
            let engine = try EngineHarness(db: db, hybrid)
            let worker = CatalogRemapWorker(client: db.client, analyzer: engine.components.analyzers.reanalysis,
                                            embeddings: engine.processor.interests.embeddings, scoring: InterestScoring(), logger: TestDatabase.logger)
            while try await worker.runNext() != nil {}
            let after = try await embeddedAt(db)
            #expect(after.filter { $0.key != "sso" } == first.filter { $0.key != "sso" })
            #expect(try #require(after["sso"]) > (try #require(first["sso"])))
            #expect(try await db.scalar("""
                SELECT 'log in once' = ANY(e.texts) FROM catalog_item_embeddings e JOIN catalog_items i ON i.id = e.catalog_item_id
                WHERE i.slug = 'sso'
                """, as: Bool.self) == true)
        }
    }

    @Test func a_broken_model_folder_or_exemplar_file_stops_the_engine_at_start() async throws {
        try await TestDatabase.with { db in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("broken-model-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            // A folder with a config but truncated weights.
            let real = URL(fileURLWithPath: EmbeddingModelFolder.path)
            for file in ["config.json", "vocab.txt", "tokenizer.json"] {
                try FileManager.default.copyItem(at: real.appendingPathComponent(file), to: folder.appendingPathComponent(file))
            }
            try Data(try Data(contentsOf: real.appendingPathComponent("model.safetensors")).prefix(1000)).write(to: folder.appendingPathComponent("model.safetensors"))
            do {
                _ = try EngineHarness(db: db, ["EMBEDDING_MODEL_DIR": folder.path])
                Issue.record("the engine started with truncated weights")
            } catch let error as ConfigError {
                #expect(error.variable == "EMBEDDING_MODEL_DIR")
                #expect(error.message.contains(folder.appendingPathComponent("model.safetensors").path), "\(error)")
            }
            do {
                _ = try EngineHarness(db: db, ["EMBEDDING_MODEL_DIR": real.path, "INTENT_EXEMPLARS_FILE": folder.appendingPathComponent("none.txt").path])
                Issue.record("the engine started without its exemplars")
            } catch let error as ConfigError {
                #expect(error.variable == "INTENT_EXEMPLARS_FILE")
                #expect(error.message.contains("none.txt"), "\(error)")
            }
        }
    }

    @Test func older_evidence_decays() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            // Same reading of the SSO page, once and 28 days (two half-lives) before a later event.
            let engine = try await ProfileEngineTests.ingest(db, [[
                Events.page("fresh", "https://acme.com/products/sso", minute: 40_320, id: "f1"),
                Self.dwell("fresh", pageView: "f1", minute: 40_321, ms: 150_000, scroll: 100),
                Events.page("old", "https://acme.com/products/sso", minute: 0, id: "o1"),
                Self.dwell("old", pageView: "o1", minute: 1, ms: 150_000, scroll: 100),
                Events.page("old", "https://acme.com/", minute: 40_320),
            ]])
            let fresh = try #require(try await engine.profile("anonymous_id", "fresh"))
            let old = try #require(try await engine.profile("anonymous_id", "old"))
            let freshConfidence = try #require(try await confidence(db, fresh, item: "sso"))
            let oldConfidence = try #require(try await confidence(db, old, item: "sso"))
            #expect(abs(freshConfidence - InterestScoring().pageWeight) < 0.01)
            #expect(abs(oldConfidence - InterestScoring().pageWeight / 4) < 0.01)
        }
    }

    @Test func interests_fade_in_the_periodic_rescoring_without_new_evidence() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            // A chat mention two chat half-lives (2 × 30 days) ago, and nothing since.
            let then = Date().addingTimeInterval(-60 * 86_400).formatted(Events.style)
            var view = Events.page("quiet", "https://acme.com/", minute: 0)
            view["timestamp"] = then
            let engine = try await ProfileEngineTests.ingest(db, [[view]], chat: [
                "conversationId": "conv-q", "anonymousId": "quiet",
                "messages": [["role": "user", "text": "How much is Lumen CRM for 12 reps?", "timestamp": then]],
            ])
            let profile = try #require(try await engine.profile("anonymous_id", "quiet"))
            // Applied live, the evidence is as strong as when it was said.
            let before = try #require(try await confidence(db, profile, item: "lumen-crm"))
            #expect(before >= 0.5)
            #expect(try await db.scalar("SELECT interest_tags FROM visitor_profiles WHERE id = \(profile)", as: [String].self)?.contains("lumen-crm") == true)
            let changesBefore = try #require(try await db.scalar("SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile)", as: Int.self))

            _ = try await db.client.withConnection { connection in try await engine.processor.rescore([profile], on: connection) }
            // Two half-lives later: a quarter (0.5²) of it, and below the tag threshold.
            let after = try #require(try await confidence(db, profile, item: "lumen-crm"))
            #expect(abs(after / before - 0.25) < 0.01, "\(before) → \(after)")
            #expect(try await db.scalar("SELECT interest_tags FROM visitor_profiles WHERE id = \(profile)", as: [String].self)?.contains("lumen-crm") == false)
            #expect(try await db.scalar("""
                SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile) AND changes->'fields' ? 'interest_tags'
                """, as: Int.self) ?? 0 > 0)
            #expect(try await db.scalar("SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile)", as: Int.self) ?? 0 > changesBefore)
        }
    }

    @Test func a_catalog_update_remaps_affected_interests() async throws {
        try await TestDatabase.with { db in
            try await Self.prepare(db)
            // Re-mapping looks back a few half-lives from now, so this visit is recent.
            var view = Events.page("v1", "https://acme.com/products/ai-assistant", minute: 0, id: "a1", title: "Lumen AI Assistant")
            var dwell = Self.dwell("v1", pageView: "a1", minute: 2, ms: 120_000, scroll: 90)
            view["timestamp"] = Date().addingTimeInterval(-86_400).formatted(Events.style)
            dwell["timestamp"] = Date().addingTimeInterval(-86_000).formatted(Events.style)
            let engine = try await ProfileEngineTests.ingest(db, [[view, dwell]])
            let profile = try #require(try await engine.profile("anonymous_id", "v1"))
            #expect(try await db.scalar("SELECT count(*)::int FROM interests WHERE profile_id = \(profile)", as: Int.self) == 0)
            let update = #"{"items": [{"slug": "ai-assistant", "name": "AI Assistant", "category": "support", "url_patterns": ["/products/ai-assistant*"]}]}"#
            let result = try await CatalogImportTests.importer().importCatalog(text: update, format: .json, siteSlug: "acme", dryRun: false, client: db.client)
            #expect(result.report.changedTargets == [.item("ai-assistant")])
            // The import only leaves a command: the interest tables are the engine's.
            let remap = try #require(result.remapID)
            #expect(try await db.scalar("SELECT targets FROM catalog_remaps WHERE id = \(remap) AND finished_at IS NULL", as: [String].self)
                    == ["item:ai-assistant"])
            #expect(try await confidence(db, profile, item: "ai-assistant") == nil)
            let worker = CatalogRemapWorker(client: db.client, scoring: InterestScoring(), logger: TestDatabase.logger)
            // The demo catalog's own import left the first command.
            var ran: [Int64] = []
            while let id = try await worker.runNext() { ran.append(id) }
            #expect(ran.last == remap)
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_remaps WHERE finished_at IS NULL", as: Int.self) == 0)
            #expect(try await db.scalar("SELECT (outcome->>'profiles_recomputed')::int FROM catalog_remaps WHERE id = \(remap) AND finished_at IS NOT NULL",
                                        as: Int.self) == 1)
            #expect(try #require(try await confidence(db, profile, item: "ai-assistant")) > 0.2)
            #expect(try await db.scalar("SELECT interest_tags FROM visitor_profiles WHERE id = \(profile)", as: [String].self) == [])
        }
    }
}
