import Foundation
@testable import InterestAnalysis
@testable import ProfileModel
import Testing

/// The offline analyser and the confidence math, without a database.
@Suite struct InterestAnalyzerTests {
    static let catalog: Catalog = {
        // The demo catalog is part of the repository; a broken file fails every test here.
        (try? CatalogFile(path: RepositoryPaths.root.appendingPathComponent("config/demo-catalog.yaml").path).catalog) ?? .empty
    }()
    static let index = CatalogIndex(catalog: catalog)

    func analyze(_ text: String) -> MessageAnalysis { OfflineChatAnalyzer().analyze(text, catalog: Self.index) }
    func targets(_ analysis: MessageAnalysis, negated: Bool = false) -> Set<String> {
        Set(analysis.mentions.filter { $0.negated == negated && $0.target == .item($0.target.slug) }.map(\.target.slug))
    }

    static func evaluation() async throws -> InterestEvaluation.Report {
        let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("Tests/interest-eval/conversations.txt"), encoding: .utf8)
        let evaluation = try InterestEvaluation(text: text)
        #expect(evaluation.conversations.count >= 150)
        #expect(evaluation.unknownItems(in: catalog).isEmpty)
        return await evaluation.run(OfflineChatAnalyzer(), catalog: index)
    }

    @Test func test_interest_extraction() async throws {
        #expect(Self.catalog.items.count >= 30)
        let report = try await Self.evaluation()
        #expect(report.f1 >= 0.85, "interest F1 \(report.f1) (precision \(report.precision), recall \(report.recall))")
        #expect(targets(analyze("Do you have a ticketing system for our support team?")) == ["helpdesk"])
    }

    @Test func test_intent_classification() async throws {
        let report = try await Self.evaluation()
        #expect(report.intentAccuracy >= 0.85, "intent accuracy \(report.intentAccuracy)")
        let cases: [(String, ChatIntent)] = [
            ("How much is the CRM per user?", .pricingInquiry),
            ("Could we book a demo of the helpdesk next week?", .demoRequest),
            ("We'd like to buy 40 seats, please send the contract", .purchaseIntent),
            ("How is your helpdesk different from Zendesk?", .competitorComparison),
            ("Our SSO login stopped working, users see an error", .supportProblem),
            ("Are you hiring backend engineers?", .jobSeeker),
            ("No thanks, not interested.", .notInterested),
            ("Does the warehouse support SQL?", .generalResearch),
        ]
        for (text, expected) in cases {
            let summary = ConversationSummary(await OfflineChatAnalyzer().analyze([ChatTurn(role: .user, text: text)], catalog: Self.index))
            #expect(summary.intent == expected, "\(text)")
        }
    }

    @Test func negation_excludes_only_the_rejected_item() {
        let analysis = analyze("We don't need the helpdesk, but how much is live chat?")
        #expect(targets(analysis, negated: true) == ["helpdesk"])
        #expect(targets(analysis) == ["live-chat"])
        // A rejection that names nothing reaches back to what the message named.
        let back = analyze("We built our own data pipelines and warehouse, so we don't need those.")
        #expect(targets(back, negated: true) == ["pipelines", "warehouse"])
        #expect(targets(analyze("Not interested in marketing automation, thanks"), negated: true) == ["journeys"])
        // Problems with a product are not rejections of it.
        #expect(targets(analyze("The helpdesk SLA timers aren't working since Monday")) == ["helpdesk"])
        // A later positive mention in the conversation lifts an earlier rejection.
        let summary = ConversationSummary(ChatAnalysis(messages: [analyze("we don't need SSO"), analyze("actually, SSO pricing please")], detector: "t"))
        #expect(summary.items == ["sso"])
    }

    @Test func hypotheticals_lower_the_score() {
        let plain = analyze("We need single sign-on.").mentions.first { $0.target == .item("sso") }
        let maybe = analyze("Maybe someday we need single sign-on.").mentions.first { $0.target == .item("sso") }
        #expect(maybe?.hypothetical == true)
        #expect((maybe?.score ?? 1) < (plain?.score ?? 0))
    }

    @Test func multi_product_conversations_keep_every_item() async {
        let turns = [ChatTurn(role: .user, text: "We're buying SSO, MFA and the password vault for 400 users."),
                     ChatTurn(role: .assistant, text: "Great, would you also like Cloud Backup?"),
                     ChatTurn(role: .user, text: "And a demo of the contact center for our call centre team.")]
        let summary = ConversationSummary(await OfflineChatAnalyzer().analyze(turns, catalog: Self.index))
        #expect(Set(summary.items) == ["sso", "mfa", "vault", "contact-center"])
        #expect(summary.intent == .purchaseIntent)
    }

    @Test func test_interest_product_mapping() {
        #expect(targets(analyze("looking for a zendesk alternative")) == ["helpdesk"])
        #expect(targets(analyze("we need a help desk")) == ["helpdesk"])          // two words meet the one-word keyword
        #expect(targets(analyze("pricing for emial marketing?")) == ["email-studio"])  // one typo forgiven
        #expect(targets(analyze("Necesitamos un CRM para ventas")) == ["lumen-crm"])
        #expect(analyze("What's the weather like today?").mentions.isEmpty)
        // Categories are matched too, and Journeys is known by its bracketed name.
        let analysis = analyze("We want marketing automation")
        #expect(analysis.mentions.contains { $0.target == .item("journeys") })
        #expect(analysis.mentions.contains { $0.target == .category("marketing") })
    }

    @Test func entity_extraction_offers_raw_values() {
        let text = "I'm head of sales ops at Initech. My name is Ann Lee, email ann.lee@initech.com, phone +1 (415) 555-2671. "
            + "We're a 300 employees company, budget is $25k and we want to start next quarter."
        let entities = Dictionary(analyze(text).entities.map { ($0.field, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(entities["email"] == .string("ann.lee@initech.com"))
        #expect(entities["phone"] == .string("+1 (415) 555-2671"))
        #expect(entities["name"] == .string("Ann Lee"))
        #expect(entities["job_title"] == .string("head of sales ops"))
        #expect(entities["company_size"] == .string("201-1000"))
        #expect(entities["budget"] == .number(25_000))
        #expect(entities["timeline"] == .string("next quarter"))
        #expect(EntityExtractor().extract("I'm from Initech, we have 20 million API calls a month").first { $0.field == "company" }?.value == .string("Initech"))
        #expect(!EntityExtractor().extract("we do 20 million calls a month in 2024").contains { $0.field == "phone" })
    }

    @Test func url_patterns_are_case_insensitive_globs() {
        #expect(URLPattern("/products/crm*").matches(path: "/Products/CRM/pricing?x=1"))
        #expect(URLPattern("/products/crm*").matches(path: "/products/crm"))
        #expect(!URLPattern("/products/crm*").matches(path: "/blog/products/crm"))
        #expect(URLPattern("*/pricing").matches(path: "/products/sso/pricing/"))
        #expect(URLPattern("/about").matches(path: "/about/"))
        #expect(!URLPattern("/about").matches(path: "/about/team"))
        #expect(URLPattern("/a*b*c").matches(path: "/axxbyyc"))
        #expect(!URLPattern("/a*b*c").matches(path: "/axxcyyb"))
    }

    @Test func pages_map_by_pattern_then_by_title() {
        let matcher = PageInterestMatcher(index: Self.index)
        let crm = matcher.matches(path: "/products/crm/features", title: "Lumen CRM features")
        #expect(crm.contains { $0.target == .item("lumen-crm") && $0.matchedBy == "/products/crm*" && $0.factor == 1 })
        let blog = matcher.matches(path: "/blog/why-sales-forecasting-fails", title: "Why sales forecasting fails")
        #expect(blog.map(\.target) == [.item("forecast")])
        #expect(blog.first?.factor == PageInterestMatcher.titleFactor)
        #expect(matcher.matches(path: "/sales/teams", title: nil).map(\.target) == [.category("crm")])
        #expect(matcher.matches(path: "/about", title: "About us").isEmpty)
    }

    @Test func test_interest_confidence_scoring() {
        let scoring = InterestScoring()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let glance = scoring.engagement(dwellMilliseconds: 0, scrollPercent: 0)
        let read = scoring.engagement(dwellMilliseconds: 45_000, scrollPercent: 60)
        let deep = scoring.engagement(dwellMilliseconds: 180_000, scrollPercent: 100)
        #expect(glance < read && read < deep && deep == 1)

        func confidence(_ evidence: [InterestScoring.Evidence]) -> Double { scoring.combine(evidence, now: now).confidence }
        let page = { (strength: Double, daysAgo: Double) in
            InterestScoring.Evidence(channel: .page, strength: strength, at: now.addingTimeInterval(-daysAgo * 86_400))
        }
        // Deeper engagement, more visits and fresher evidence each give more confidence.
        #expect(confidence([page(glance, 0)]) < confidence([page(deep, 0)]))
        #expect(confidence([page(deep, 0)]) < confidence([page(deep, 0), page(deep, 1), page(deep, 2)]))
        #expect(confidence([page(deep, 28)]) < confidence([page(deep, 0)]))
        // Decay halves a piece of evidence's contribution every half-life.
        #expect(abs(scoring.decay(.page, age: 14 * 86_400) - 0.5) < 1e-9)
        #expect(abs(scoring.decay(.chat, age: 30 * 86_400) - 0.5) < 1e-9)
        // An explicit chat mention counts more than many glances, and everything stays in [0, 1].
        let chat = InterestScoring.Evidence(channel: .chat, strength: 0.9, at: now)
        #expect(confidence([chat]) > confidence(Array(repeating: page(glance, 0), count: 5)))
        let everything = confidence([chat, chat, chat] + Array(repeating: page(deep, 0), count: 50))
        #expect(everything <= 1 && everything > 0.99)
        // A rejection after interest negates it; a positive mention after the rejection lifts it.
        let no = InterestScoring.Evidence(channel: .chat, strength: 0.9, negated: true, at: now.addingTimeInterval(60))
        #expect(scoring.combine([chat, page(deep, 0), no], now: now).negated)
        #expect(confidence([chat, page(deep, 0), no]) == 0)
        let again = InterestScoring.Evidence(channel: .chat, strength: 0.75, at: now.addingTimeInterval(120))
        #expect(abs(confidence([chat, no, again]) - 0.75) < 1e-9)
        // Items count toward their category, scaled.
        let rolled = scoring.withCategoryRollup([.item("sso"): [chat]], categoryOfItem: ["sso": "security"])
        #expect(rolled[.category("security")]?.first?.strength == 0.9 * scoring.categoryRollup)
        let tags = scoring.tags([.item("sso"): scoring.combine([chat], now: now), .category("security"): scoring.combine(rolled[.category("security")] ?? [], now: now),
                                 .item("mfa"): scoring.combine([page(glance, 0)], now: now)])
        #expect(tags == ["sso", "security"])
    }
}
