import Foundation
import ProfileModel
import TextEmbedding

/// The lexical analyser's matches and cue rules combined with a sentence-embedding model: each
/// clause of a visitor message is compared with every catalog item's texts (calibrated against
/// ordinary chat, see SemanticCatalog) and each message with labelled intent exemplars. Negation
/// and hypotheticals apply to semantic mentions as to lexical ones, by clause. If the model fails,
/// the lexical analysis is returned as it is: a batch never fails on analysis.
public struct HybridChatAnalyzer: ChatAnalyzer {
    public let embedder: any SentenceEmbedder
    public let parameters: HybridParameters
    private let lexical = OfflineChatAnalyzer()
    /// Answers when the embedder fails (another hybrid analyser on the embedded model, say); the
    /// keyword analysis when nil.
    private let fallback: (any ChatAnalyzer)?
    private let exemplars: ExemplarVectors
    private let cache = SemanticCatalogCache()

    /// Detector name of evidence found by the model ("embedding:all-MiniLM-L6-v2").
    public var semanticDetector: String { Self.semanticDetectorPrefix + embedder.modelName }
    public static let semanticDetectorPrefix = "embedding:"

    /// The exemplars are embedded on first use (a remote embedder may be down at start); they serve
    /// both the intent vote and the catalog calibration.
    public init(embedder: any SentenceEmbedder, exemplars: IntentExemplars, parameters: HybridParameters = HybridParameters(),
                fallback: (any ChatAnalyzer)? = nil) {
        self.embedder = embedder
        self.parameters = parameters
        self.fallback = fallback
        self.exemplars = ExemplarVectors(exemplars: exemplars, embedder: embedder)
    }

    /// The catalog's item vectors, embedded on first use and cached by content.
    public func semanticCatalog(_ catalog: Catalog) async throws -> SemanticCatalog {
        let embedder = self.embedder
        let background = try await exemplars.vectors()
        return try await cache.catalog(for: catalog) { try await SemanticCatalog.embed($0, with: embedder, background: background) }
    }

    /// Whether the catalog's item vectors are in memory already.
    public func hasSemanticCatalog(_ catalog: Catalog) async -> Bool { await cache.contains(catalog) }

    /// Puts the catalog's item vectors in memory, embedding only the items `known` has no vectors
    /// for (vectors stored earlier for exactly the item's current texts, by slug); returns the
    /// catalog, whose `embedded` names the items that were embedded now.
    @discardableResult
    public func prepareSemanticCatalog(_ catalog: Catalog, known: [String: [[Float]]]) async throws -> SemanticCatalog {
        let embedder = self.embedder
        let background = try await exemplars.vectors()
        return try await cache.catalog(for: catalog) { try await SemanticCatalog.embed($0, with: embedder, background: background, known: known) }
    }

    private func intentClassifier() async throws -> ExemplarIntentClassifier {
        let (_, regression) = try await exemplars.model()
        return ExemplarIntentClassifier(regression: regression, parameters: parameters)
    }

    /// A part of a visitor message that is embedded: the whole message (for its intent) or one clause.
    private struct Span {
        let message: Int
        let clause: Int?
        let text: String
    }

    /// Every message is analysed on its own (its conversation only decides where its analysis
    /// goes), so the messages of many conversations share one embedding call.
    public func analyze(conversations: [[ChatTurn]], catalog: CatalogIndex) async -> [ChatAnalysis] {
        let all = await analyze(conversations.flatMap { $0 }, catalog: catalog)
        var result: [ChatAnalysis] = []
        var offset = 0
        for conversation in conversations {
            result.append(ChatAnalysis(messages: Array(all.messages[offset..<offset + conversation.count]), detector: all.detector))
            offset += conversation.count
        }
        return result
    }

    public func analyze(_ messages: [ChatTurn], catalog: CatalogIndex) async -> ChatAnalysis {
        var analyses = messages.map { $0.role == .user ? lexical.analyze($0.text, catalog: catalog) : .empty }
        let tokens = messages.map { $0.role == .user ? TextNormalizer.tokens($0.text) : [] }
        var spans: [Span] = []
        for (index, message) in messages.enumerated() where !tokens[index].isEmpty {
            spans.append(Span(message: index, clause: nil, text: message.text))
            let sentences = Dictionary(grouping: tokens[index], by: \.sentence)
            if parameters.switches.sentenceIntents, sentences.count > 1 {
                for (_, words) in sentences.sorted(by: { $0.key < $1.key }) {
                    guard let first = words.first, let last = words.last else { continue }
                    spans.append(Span(message: index, clause: nil, text: String(message.text[first.range.lowerBound..<last.range.upperBound])))
                }
            }
            for (clause, words) in Dictionary(grouping: tokens[index], by: \.clause).sorted(by: { $0.key < $1.key }) {
                guard words.filter({ !StopWords.all.contains($0.text) }).count >= parameters.minimumSpanWords,
                      let first = words.first, let last = words.last else { continue }
                spans.append(Span(message: index, clause: clause, text: String(message.text[first.range.lowerBound..<last.range.upperBound])))
            }
        }
        guard !spans.isEmpty else { return ChatAnalysis(messages: analyses, detector: OfflineChatAnalyzer.detector) }
        let vectors: [[Float]]
        let semantic: SemanticCatalog?
        let intents: ExemplarIntentClassifier
        do {
            intents = try await intentClassifier()
            semantic = catalog.catalog.activeItems.isEmpty ? nil : try await semanticCatalog(catalog.catalog)
            // A one-clause message is its own sentence and clause: each distinct text is embedded once.
            let distinct = Array(Set(spans.map(\.text)))
            let embedded = Dictionary(uniqueKeysWithValues: zip(distinct, try await embedder.embed(distinct)))
            vectors = spans.map { embedded[$0.text] ?? [] }
        } catch {
            if let fallback { return await fallback.analyze(messages, catalog: catalog) }
            return ChatAnalysis(messages: analyses, detector: OfflineChatAnalyzer.detector)
        }
        for (span, vector) in zip(spans, vectors) where span.clause == nil {
            addIntent(intents.classify(vector), to: &analyses[span.message])
        }
        if let semantic {
            for index in messages.indices where !tokens[index].isEmpty {
                let clauses = zip(spans, vectors).filter { $0.0.message == index && $0.0.clause != nil }.map { ($0.0.clause!, $0.1) }
                analyses[index].mentions = merge(analyses[index].mentions, semanticMentions(clauses, tokens: tokens[index],
                                                 text: messages[index].text, semantic: semantic, catalog: catalog))
            }
        }
        return ChatAnalysis(messages: analyses, detector: OfflineChatAnalyzer.detector)
    }

    private func addIntent(_ found: DetectedIntent?, to analysis: inout MessageAnalysis) {
        guard let found else { return }
        let detected = DetectedIntent(intent: found.intent, confidence: found.confidence, detector: semanticDetector)
        // A message whose cue rules are sure of an intent keeps theirs alone.
        if analysis.intents.contains(where: { $0.confidence >= parameters.intentCueOverride && $0.intent != detected.intent }) { return }
        if let existing = analysis.intents.firstIndex(where: { $0.intent == detected.intent }) {
            if analysis.intents[existing].confidence < detected.confidence { analysis.intents[existing] = detected }
        } else {
            analysis.intents.append(detected)
            analysis.intents.sort { $0.intent.precedence < $1.intent.precedence }
        }
    }

    /// Items each clause describes, with the clause's negation and hypothetical scope.
    private func semanticMentions(_ clauses: [(Int, [Float])], tokens: [Token], text: String, semantic: SemanticCatalog,
                                  catalog: CatalogIndex) -> [InterestMention] {
        let lexicalItemClauses = Set(catalog.matches(in: tokens).filter { if case .item = $0.phrase.target { true } else { false } }
            .map { tokens[$0.start].clause })
        var found: [InterestTarget: (score: Double, clause: Int, supporting: Bool)] = [:]
        for (clause, vector) in clauses {
            let scores = semantic.scores(vector)
            guard let bestZ = scores.map(\.z).max() else { continue }
            let similarities = scores.map(\.similarity).sorted(by: >)
            for (item, score) in zip(semantic.items, scores) {
                let next = score.similarity >= similarities[0] ? (similarities.count > 1 ? similarities[1] : 0) : similarities[0]
                let strong = score.z >= parameters.itemMinimumZ && score.similarity >= parameters.itemMinimumSimilarity
                    && score.z >= bestZ - parameters.itemMarginZ
                    && (score.similarity - next >= parameters.itemGap
                        // Two items named in one clause ("panels and a battery") are both close.
                        || (score.z >= parameters.itemSharedZ && score.similarity >= parameters.itemSharedSimilarity))
                    && !(parameters.switches.semanticOnlyWhereNoLexicalItem && lexicalItemClauses.contains(clause))
                    && (lexicalItemClauses.isEmpty || score.z >= parameters.itemMinimumZBesideLexical)
                let supporting = score.z >= parameters.supportingZ
                guard strong || supporting else { continue }
                let strength = strong ? strength(z: score.z) : parameters.supportingScore
                if let existing = found[item.target], existing.score >= strength { continue }
                found[item.target] = (strength, clause, !strong)
            }
        }
        let negation = NegationScope(tokens: tokens)
        let rejected = negation.rejectedClauses(mentionClauses: Set(found.values.map(\.clause)).union(lexicalItemClauses))
        return found.map { target, value in
            let hypothetical = negation.hypotheticalClauses.contains(value.clause)
            let words = tokens.filter { $0.clause == value.clause }
            let matched = words.first.flatMap { first in words.last.map { String(text[first.range.lowerBound..<$0.range.upperBound]) } } ?? ""
            return InterestMention(target: target, score: value.score * (hypothetical ? OfflineChatAnalyzer.hypotheticalFactor : 1),
                                   negated: rejected.contains(value.clause), hypothetical: hypothetical, matched: matched,
                                   snippet: String(text.prefix(300)), detector: value.supporting ? "supporting" : semanticDetector)
        }
    }

    private func strength(z: Double) -> Double {
        let span = max(0.001, parameters.itemFullZ - parameters.itemMinimumZ)
        let fraction = min(1, max(0, (z - parameters.itemMinimumZ) / span))
        return parameters.semanticMinimumScore + fraction * (parameters.semanticMaximumScore - parameters.semanticMinimumScore)
    }

    /// One mention per target: lexical and semantic evidence combine (noisy-or); a rejection by
    /// either wins; a supporting semantic signal counts only beside lexical evidence.
    private func merge(_ lexical: [InterestMention], _ semantic: [InterestMention]) -> [InterestMention] {
        var byTarget = Dictionary(lexical.map { ($0.target, $0) }, uniquingKeysWith: { first, _ in first })
        for mention in semantic {
            let supporting = mention.detector == "supporting"
            guard let existing = byTarget[mention.target] else {
                if !supporting { byTarget[mention.target] = mention.with(detector: semanticDetector) }
                continue
            }
            if existing.negated { continue }
            if mention.negated && !supporting { byTarget[mention.target] = mention.with(detector: semanticDetector); continue }
            let combined = 1 - (1 - existing.score) * (1 - mention.score)
            byTarget[mention.target] = InterestMention(target: existing.target, score: combined, negated: false, hypothetical: existing.hypothetical,
                                                       matched: existing.matched, snippet: existing.snippet,
                                                       detector: existing.score >= mention.score ? existing.detector : semanticDetector)
        }
        return byTarget.values.sorted { ($0.score, $0.target.slug) > ($1.score, $1.target.slug) }
    }
}

extension HybridChatAnalyzer {
    /// For tuning (`interest-eval --trace`): each clause of a message with its nearest items
    /// (similarity and z-score) and the message's nearest exemplar intent.
    public func trace(_ text: String, catalog: Catalog, top: Int = 3) async throws -> [String] {
        let semantic = try await semanticCatalog(catalog)
        let intents = try await intentClassifier()
        let tokens = TextNormalizer.tokens(text)
        var spans = [text]
        for (_, words) in Dictionary(grouping: tokens, by: \.clause).sorted(by: { $0.key < $1.key }) {
            if let first = words.first, let last = words.last { spans.append(String(text[first.range.lowerBound..<last.range.upperBound])) }
        }
        let vectors = try await embedder.embed(spans)
        var lines: [String] = []
        for (index, (span, vector)) in zip(spans, vectors).enumerated() {
            let ranked = zip(semantic.items, semantic.scores(vector)).sorted { $0.1.z > $1.1.z }.prefix(top)
            let items = ranked.map { "\($0.0.target.slug) \(String(format: "%.2f/%.1f", $0.1.similarity, $0.1.z))" }.joined(separator: ", ")
            let intent = index == 0 ? " intent=\(intents.classify(vector).map { "\($0.intent.rawValue) \(String(format: "%.2f", $0.confidence))" } ?? "-")" : ""
            lines.append("  [\(span)] \(items)\(intent)")
        }
        return lines
    }
}

/// The exemplar sentences' vectors, computed once by the first analysis that needs them (and
/// again by the next one if the embedder failed).
actor ExemplarVectors {
    nonisolated let exemplars: IntentExemplars
    private let embedder: any SentenceEmbedder
    private var computed: [[Float]]?

    init(exemplars: IntentExemplars, embedder: any SentenceEmbedder) {
        self.exemplars = exemplars
        self.embedder = embedder
    }

    private var regression: IntentRegression?

    func vectors() async throws -> [[Float]] {
        if let computed { return computed }
        let vectors = try await embedder.embed(exemplars.exemplars.map(\.text))
        computed = vectors
        return vectors
    }

    /// The vectors and the regression trained on them (once).
    func model() async throws -> ([[Float]], IntentRegression) {
        let vectors = try await vectors()
        if let regression { return (vectors, regression) }
        let trained = IntentRegression(exemplars: exemplars.exemplars, vectors: vectors)
        regression = trained
        return (vectors, trained)
    }
}
