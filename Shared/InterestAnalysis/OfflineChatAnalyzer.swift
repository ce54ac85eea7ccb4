import Foundation
import ProfileModel

/// The default analyser: needs no network. Matches catalog phrases (stemmed, typo-tolerant,
/// multi-word first), settles shared phrases and finds described-but-unnamed items with BM25,
/// applies negation and hypothetical scopes, and classifies intents, pain points and entities.
public struct OfflineChatAnalyzer: ChatAnalyzer {
    public static let detector = "keyword"
    /// Strength of an item found by BM25 alone: weak evidence, below what makes an interest by itself.
    static let rankedOnlyScore = 0.4
    /// Factor for mentions said as a possibility.
    static let hypotheticalFactor = 0.7

    private let classifier = IntentClassifier()
    private let entities = EntityExtractor()
    private let pains = PainPointDetector()

    public init() {}

    public func analyze(_ messages: [ChatTurn], catalog: CatalogIndex) async -> ChatAnalysis {
        ChatAnalysis(messages: messages.map { $0.role == .user ? analyze($0.text, catalog: catalog) : .empty }, detector: Self.detector)
    }

    /// Analyses one visitor message.
    public func analyze(_ text: String, catalog: CatalogIndex) -> MessageAnalysis {
        let tokens = TextNormalizer.tokens(text)
        guard !tokens.isEmpty else { return .empty }
        let negation = NegationScope(tokens: tokens)
        let mentions = self.mentions(tokens, text: text, catalog: catalog, negation: negation)
        let intents = classifier.classify(tokens, negation: negation, competitor: catalog.mentionsCompetitor(tokens))
        return MessageAnalysis(mentions: mentions, intents: intents, painPoints: pains.painPoints(in: tokens, text: text),
                               entities: entities.extract(text))
    }

    private func mentions(_ tokens: [Token], text: String, catalog: CatalogIndex, negation: NegationScope) -> [InterestMention] {
        let matches = catalog.matches(in: tokens)
        let queryStems = tokens.filter { !StopWords.all.contains($0.text) }.map { catalog.correctedStem($0) }
        let ranking = catalog.bm25.scores(for: queryStems)
        let topScore = ranking.values.map(\.score).max() ?? 0
        func relevance(_ target: InterestTarget) -> Double {
            topScore > 0 ? (ranking[target]?.score ?? 0) / topScore : 0
        }
        let rejected = negation.rejectedClauses(mentionClauses: Set(matches.map { tokens[$0.start].clause }))

        // A phrase several items share goes to the ones BM25 ranks highest for this message.
        let groups = Dictionary(grouping: matches, by: { "\($0.start):\($0.phrase.stems)" })
        var best: [InterestTarget: InterestMention] = [:]
        for group in groups.values {
            let items = group.filter { if case .item = $0.phrase.target { true } else { false } }
            let topRelevance = items.map { relevance($0.phrase.target) }.max() ?? 0
            for match in group {
                let target = match.phrase.target
                if case .item = target, items.count > 1, relevance(target) < topRelevance { continue }
                let clause = tokens[match.start].clause
                let hypothetical = negation.hypotheticalClauses.contains(clause)
                var score = match.phrase.weight * (0.85 + 0.15 * relevance(target))
                if hypothetical { score *= Self.hypotheticalFactor }
                let mention = InterestMention(target: target, score: score, negated: rejected.contains(clause), hypothetical: hypothetical,
                                              matched: String(text[tokens[match.start].range.lowerBound..<tokens[match.end - 1].range.upperBound]),
                                              snippet: snippet(text, tokens: tokens, clause: clause))
                if let existing = best[target], existing.negated == mention.negated, existing.score >= mention.score { continue }
                if let existing = best[target], existing.negated, !mention.negated { continue }
                best[target] = mention
            }
        }
        // Described but not named: several of the item's rarer words and clearly the best ranked.
        if let (target, top) = ranking.max(by: { $0.value.score < $1.value.score }), best[target] == nil, top.terms >= 3,
           ranking.values.filter({ $0.score > top.score * 0.7 }).count == 1 {
            best[target] = InterestMention(target: target, score: Self.rankedOnlyScore, negated: negation.hasRejection,
                                           matched: "bm25", snippet: String(text.prefix(200)))
        }
        return best.values.sorted { ($0.score, $0.target.slug) > ($1.score, $1.target.slug) }
    }

    private func snippet(_ text: String, tokens: [Token], clause: Int) -> String {
        let sentence = tokens.first { $0.clause == clause }?.sentence ?? 0
        let words = tokens.filter { $0.sentence == sentence }
        guard let first = words.first, let last = words.last else { return String(text.prefix(200)) }
        return String(text[first.range.lowerBound..<last.range.upperBound].prefix(300))
    }
}
