import ProfileModel

/// A conversation's interests and intent, from the analyses of its messages: the latest mention
/// of a target decides whether it is rejected; the positive mentions since combine (noisy-or); the
/// intent is the first by precedence among those its messages show.
public struct ConversationSummary: Sendable {
    /// Combined strength at or above which a mention makes an interest.
    public static let interestThreshold = 0.5

    public let scores: [InterestTarget: Double]
    public let rejected: Set<InterestTarget>
    public let intent: ChatIntent

    public init(_ analysis: ChatAnalysis) {
        var scores: [InterestTarget: Double] = [:]
        var rejected = Set<InterestTarget>()
        var intents: [ChatIntent: Double] = [:]
        for message in analysis.messages {
            for mention in message.mentions {
                if mention.negated {
                    rejected.insert(mention.target)
                    scores[mention.target] = nil
                } else {
                    rejected.remove(mention.target)
                    scores[mention.target] = 1 - (1 - (scores[mention.target] ?? 0)) * (1 - mention.score)
                }
            }
            for detected in message.intents { intents[detected.intent] = max(intents[detected.intent] ?? 0, detected.confidence) }
        }
        self.scores = scores
        self.rejected = rejected
        self.intent = intents.keys.min { $0.precedence < $1.precedence } ?? .generalResearch
    }

    /// Items the visitor is interested in, strongest first.
    public var items: [String] {
        scores.filter { if case .item = $0.key { $0.value >= Self.interestThreshold } else { false } }
            .sorted { ($0.value, $0.key.slug) > ($1.value, $1.key.slug) }.map(\.key.slug)
    }
}
