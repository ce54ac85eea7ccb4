import Foundation
@testable import InterestAnalysis
@testable import ProfileModel
import Testing
import TextEmbedding

/// The hybrid analyser with the real embedding model, on the bicycle shop's development catalog
/// (Tests/interest-eval/dev/bikes): what the keyword matcher cannot find, and what must still hold.
@Suite struct HybridAnalyzerTests {
    static func catalog() throws -> CatalogIndex {
        CatalogIndex(catalog: try CatalogFile(path: RepositoryPaths.root.appendingPathComponent("Tests/interest-eval/dev/bikes/catalog.yaml").path).catalog)
    }

    static func exemplars() throws -> IntentExemplars {
        try IntentExemplars(contentsOf: RepositoryPaths.root.appendingPathComponent("config/intent-exemplars.txt"))
    }

    /// One analyser on the embedded model for the whole process: it embeds the exemplars once,
    /// which takes seconds in a debug build.
    private static let shared = Result { HybridChatAnalyzer(embedder: try EmbeddingModelFolder.embedder(), exemplars: try exemplars()) }

    static func analyzer(_ embedder: (any SentenceEmbedder)? = nil) throws -> HybridChatAnalyzer {
        guard let embedder else { return try shared.get() }
        return HybridChatAnalyzer(embedder: embedder, exemplars: try exemplars())
    }

    func analyze(_ text: String, with analyzer: some ChatAnalyzer) async throws -> MessageAnalysis {
        try #require(await analyzer.analyze([ChatTurn(role: .user, text: text)], catalog: try Self.catalog()).messages.first)
    }

    @Test func a_paraphrase_without_any_keyword_is_found_by_the_model() async throws {
        let text = "how do i keep thieves from taking my bike"
        let keyword = try await analyze(text, with: OfflineChatAnalyzer()).mentions
        #expect(!keyword.contains { $0.target == .item("locks") }, "the keyword matcher should have nothing to go on: \(keyword)")
        let mentions = try await analyze(text, with: try Self.analyzer()).mentions
        let mention = try #require(mentions.first { $0.target == .item("locks") }, "\(mentions)")
        #expect(!mention.negated)
        #expect(mention.score >= ConversationSummary.interestThreshold)
        #expect(mention.detector == "embedding:all-MiniLM-L6-v2")
    }

    @Test func a_rejected_paraphrase_is_a_rejection() async throws {
        let mentions = try await analyze("we don't need anything to stop thieves taking the bike", with: try Self.analyzer()).mentions
        let locks = try #require(mentions.first { $0.target == .item("locks") })
        #expect(locks.negated)
    }

    @Test func a_keyword_match_keeps_its_detector_and_gains_from_agreement() async throws {
        let keyword = try #require(try await analyze("do you sell d-locks", with: OfflineChatAnalyzer()).mentions.first { $0.target == .item("locks") })
        let hybrid = try #require(try await analyze("do you sell d-locks", with: try Self.analyzer()).mentions.first { $0.target == .item("locks") })
        #expect(hybrid.score >= keyword.score)
        #expect((hybrid.detector ?? "keyword") == "keyword", "the stronger evidence names the detector")
    }

    @Test func a_described_fault_is_a_support_problem() async throws {
        // No cue of the rule list says this, the exemplars do.
        let text = "since yesterday it wont switch on and the display blinks"
        #expect(!(try await analyze(text, with: OfflineChatAnalyzer()).intents.contains { $0.intent == .supportProblem }))
        let support = try #require(try await analyze(text, with: try Self.analyzer()).intents.first { $0.intent == .supportProblem })
        #expect(support.detector == "embedding:all-MiniLM-L6-v2", "the evidence says the model found it")
    }

    @Test func a_failing_model_gives_the_keyword_analysis() async throws {
        let messages = [ChatTurn(role: .user, text: "how much is a d-lock? and a helmet for my son"),
                        ChatTurn(role: .assistant, text: "From £35."),
                        ChatTurn(role: .user, text: "ok thanks, I'm at sam@example.org")]
        let catalog = try Self.catalog()
        let failing = try Self.analyzer(FailingEmbedder())
        #expect(await failing.analyze(messages, catalog: catalog) == OfflineChatAnalyzer().analyze(messages, catalog: catalog))
    }

    @Test func a_site_without_catalog_still_gets_intents_and_details() async throws {
        let analysis = await (try Self.analyzer()).analyze(
            [ChatTurn(role: .user, text: "We want to buy licences for our whole team, can you send a quote? I'm jo@example.com")],
            catalog: CatalogIndex(catalog: .empty))
        let message = try #require(analysis.messages.first)
        #expect(message.mentions.isEmpty)
        #expect(message.intents.contains { $0.intent == .purchaseIntent })
        #expect(message.entities.contains { $0.field == "email" && $0.value == "jo@example.com" })
    }

    @Test func the_exemplar_file_has_every_intent() throws {
        let exemplars = try IntentExemplars(contentsOf: RepositoryPaths.root.appendingPathComponent("config/intent-exemplars.txt"))
        let counts = Dictionary(grouping: exemplars.exemplars.compactMap(\.intent), by: { $0 }).mapValues(\.count)
        for intent in ChatIntent.allCases { #expect(counts[intent, default: 0] >= 20, "\(intent)") }
        #expect(exemplars.exemplars.contains { $0.intent == nil })
    }

    @Test func a_malformed_exemplar_file_is_refused_with_the_line() {
        #expect(throws: IntentExemplars.ParseError.unknownSection(line: 2, name: "purchase")) {
            try IntentExemplars(text: "# comment\n[purchase]\nbuy it\n")
        }
        #expect(throws: IntentExemplars.ParseError.sentenceOutsideSection(line: 1)) { try IntentExemplars(text: "buy it\n") }
        #expect(throws: IntentExemplars.ParseError.empty) { try IntentExemplars(text: "[purchase_intent]\n") }
    }
}

/// An embedder whose every call fails, as a crashed model server would.
struct FailingEmbedder: SentenceEmbedder {
    struct Down: Error {}
    let modelName = "failing"
    func embed(_ texts: [String]) async throws -> [[Float]] { throw Down() }
}
