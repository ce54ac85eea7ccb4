@testable import EngineApp
import Foundation
import PostgresNIO
import ProfileModel
import ServiceKit
import Testing

@Suite("Lead scoring")
struct LeadScoringTests {
    static let registry: FieldRegistry = try! FieldRegistry.load(path: RepositoryPaths.profileFields)
    static let config: LeadScoringConfig = try! LeadScoringConfig.load(
        path: RepositoryPaths.root.appendingPathComponent("config/lead_scoring.yaml").path, registry: registry)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func points(_ score: LeadScore) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: score.breakdown.compactMap { entry in
            entry["rule"]?.stringValue.map { ($0, entry["points"]?.doubleValue ?? 0) }
        })
    }

    @Test func test_lead_scoring() {
        var signals = ScoringSignals()
        signals.metrics = [.sessionsCount: 2, .pageViewsCount: 7, .pricingPageViews: 4, .totalTimeSeconds: 600, .returnVisits: 1, .chatMessages: 3]
        signals.lastActivity = now
        signals.intents = ["demo_request": now]
        let fields: [String: JSONValue] = ["job_title": "Head of Data", "company_size": "201-1000", "industry": "Software", "email": "ann@bigco.com"]
        let score = LeadScorer(config: Self.config, now: now).score(fields: fields, signals: signals, currentStage: "anonymous")
        // Exact breakdown: fit 15+15+10+5, engagement 6+2+15(capped)+5+2+1, intent 20.
        #expect(points(score) == ["senior_title": 15, "target_company_size": 15, "target_industry": 10, "has_email": 5,
                                  "sessions": 6, "page_views": 2, "pricing_pages": 15, "time_on_site": 5, "return_visits": 2,
                                  "chat_messages": 1, "demo_request": 20])
        #expect(score.lead == 96)
        #expect(score.engagement == 78)  // 31 of engagement_max 40
        #expect(score.stage == "mql")  // sql also needs a company
        #expect(score.stageReason == "lead score 96 ≥ 50; has email")
    }

    @Test func negative_signals_and_caps() {
        var signals = ScoringSignals()
        signals.intents = ["job_seeker": now, "not_interested": now]
        let score = LeadScorer(config: Self.config, now: now).score(
            fields: ["email": "dev@rivalsoft.example"], signals: signals, currentStage: "known")
        #expect(points(score)["competitor"] == -50)
        #expect(points(score)["job_seeker"] == -30)
        #expect(score.lead == 0)  // never below zero
        #expect(score.stage == "known")  // stages never move backwards
    }

    @Test func behaviour_and_intent_decay_with_a_half_life() {
        var signals = ScoringSignals()
        signals.metrics = [.pricingPageViews: 2]
        signals.lastActivity = now.addingTimeInterval(-30 * 86_400)  // one half-life ago
        signals.intents = ["pricing_inquiry": now.addingTimeInterval(-60 * 86_400)]  // two half-lives
        let score = LeadScorer(config: Self.config, now: now).score(fields: ["phone": "+14155552671"], signals: signals, currentStage: "anonymous")
        #expect(points(score) == ["has_phone": 5, "pricing_pages": 5, "pricing_inquiry": 3.8])
        #expect(score.lead == 14)
    }

    @Test(arguments: [
        ("version: 1\ndecay_half_life_days: 30\npricing_path: x\nengagement_max: 40\nfit: [{name: a, field: shoe, present: true, points: 1}]\nengagement: []\nintent: []\nstages: []\n", "unknown field 'shoe'"),
        ("version: 1\ndecay_half_life_days: 30\npricing_path: x\nengagement_max: 40\nfit: [{name: a, field: email, points: 1}]\nengagement: []\nintent: []\nstages: []\n", "exactly one of in, matches"),
        ("version: 1\ndecay_half_life_days: 30\npricing_path: \"(\"\nengagement_max: 40\nfit: []\nengagement: []\nintent: []\nstages: []\n", "pricing_path"),
        ("version: 1\ndecay_half_life_days: 30\npricing_path: x\nengagement_max: 40\nfit: []\nengagement: [{name: m, metric: karma, per: 1, points: 1, max: 1}]\nintent: []\nstages: []\n", "LEAD_SCORING_FILE"),
        ("version: 1\ndecay_half_life_days: 30\npricing_path: x\nengagement_max: 40\nfit: []\nengagement: []\nintent: []\nstages: [{stage: vip}]\n", "unknown stage 'vip'"),
        ("version: 1\npricing_path: x\n", "s.yaml: missing '"),
    ])
    func a_bad_scoring_file_is_refused_with_a_reason(yaml: String, reason: String) throws {
        let error = try #require(throws: ConfigError.self) { try LeadScoringConfig.parse(yaml, file: "s.yaml", registry: Self.registry) }
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test func test_dynamic_updates() async throws {
        try await TestDatabase.with { db in
            let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            func ago(_ minutes: Double) -> String { Date().addingTimeInterval(-minutes * 60).formatted(style) }
            func page(_ path: String, _ minutes: Double) -> [String: Any] {
                ["type": "page", "anonymousId": "lead", "timestamp": ago(minutes), "properties": ["url": "https://acme.com\(path)", "path": path]]
            }
            let engine = try await ProfileEngineTests.ingest(db, [[
                page("/pricing", 10), page("/plans", 9), page("/", 8),
                ["type": "identify", "anonymousId": "lead", "timestamp": ago(8),
                 "traits": ["email": "ann@bigco.com", "job_title": "VP Engineering", "company_size": "201-1000", "industry": "software", "phone": "+1 415 555 2671"]],
            ]])
            let profile = try #require(try await engine.profile("anonymous_id", "lead"))
            func scores() async throws -> (Int, Int, String) {
                let rows = try await db.client.query("SELECT lead_score, engagement_score, stage FROM visitor_profiles WHERE id = \(profile)", logger: TestDatabase.logger)
                for try await row in rows.decode((Int, Int, String).self) { return row }
                return (-1, -1, "")
            }
            // fit 50 (title, size, industry, email, phone) + engagement 15 (1 session, 3 pages, 2 pricing pages, 2 minutes)
            #expect(try await scores() == (65, 38, "mql"))
            #expect(try await engine.count("SELECT count(*)::int FROM stage_transitions WHERE profile_id = \(profile) AND to_stage = 'mql' AND lead_score = 65") == 1)
            #expect(try await engine.count("SELECT jsonb_array_length(score_breakdown) FROM visitor_profiles WHERE id = \(profile)") == 9)
            // One more pricing page three minutes later: the score follows in the same transaction.
            _ = try await ProfileEngineTests.ingest(db, [[page("/pricing", 5)]])
            #expect(try await scores() == (71, 53, "mql"))
            #expect(try await engine.count("SELECT count(*)::int FROM profile_changes WHERE profile_id = \(profile) AND kind = 'stage_changed'") == 1)
        }
    }

    @Test func scores_decay_without_events_when_the_engine_recomputes_them() async throws {
        try await TestDatabase.with { db in
            let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            func ago(_ minutes: Double) -> String { Date().addingTimeInterval(-minutes * 60).formatted(style) }
            let engine = try await ProfileEngineTests.ingest(db, [[
                ["type": "page", "anonymousId": "cooling", "timestamp": ago(10), "properties": ["url": "https://acme.com/pricing", "path": "/pricing"]],
                ["type": "page", "anonymousId": "cooling", "timestamp": ago(8), "properties": ["url": "https://acme.com/plans", "path": "/plans"]],
                ["type": "identify", "anonymousId": "cooling", "timestamp": ago(8), "traits": ["email": "cool@bigco.com", "job_title": "VP Engineering"]],
            ]])
            let profile = try #require(try await engine.profile("anonymous_id", "cooling"))
            func scores() async throws -> (lead: Int, engagement: Int) {
                let rows = try await db.client.query("SELECT lead_score, engagement_score FROM visitor_profiles WHERE id = \(profile)", logger: TestDatabase.logger)
                for try await row in rows.decode((Int, Int).self) { return row }
                return (-1, -1)
            }
            let fresh = try await scores()
            #expect(fresh.engagement > 0)
            // Nothing to recompute yet: the stored scores are current.
            #expect(try await engine.processor.rescoreAll(db.client).changed == 0)
            // Sixty days pass without a visit (two half-lives of the shipped config).
            try await db.client.query("UPDATE engagement_metrics SET last_visit_at = last_visit_at - interval '60 days' WHERE profile_id = \(profile)",
                                      logger: TestDatabase.logger)
            let result = try await engine.processor.rescoreAll(db.client)
            #expect(result.seen == 1 && result.changed == 1)
            let cooled = try await scores()
            #expect(cooled.engagement < fresh.engagement)
            #expect(cooled.lead < fresh.lead)
            #expect(try await engine.count("SELECT (score_breakdown::text LIKE '%decay%')::int FROM visitor_profiles WHERE id = \(profile)") == 1)
            // Recomputing again changes nothing.
            #expect(try await engine.processor.rescoreAll(db.client).changed == 0)
        }
    }
}
