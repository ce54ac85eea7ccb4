/// Analyses chat messages for interests in catalog targets, intents, pain points and volunteered
/// details. Implementations never throw: an analyser that cannot answer falls back or returns
/// empty results, because a batch of events must not fail on analysis.
public protocol ChatAnalyzer: Sendable {
    func analyze(_ messages: [ChatTurn], catalog: CatalogIndex) async -> ChatAnalysis
    /// Several conversations of one site at once, one analysis per conversation in order.
    func analyze(conversations: [[ChatTurn]], catalog: CatalogIndex) async -> [ChatAnalysis]
}

extension ChatAnalyzer {
    /// One conversation after the other; an analyser that gains from batching (one embedding call
    /// for all messages) implements it itself.
    public func analyze(conversations: [[ChatTurn]], catalog: CatalogIndex) async -> [ChatAnalysis] {
        var analyses: [ChatAnalysis] = []
        for conversation in conversations { analyses.append(await analyze(conversation, catalog: catalog)) }
        return analyses
    }
}
