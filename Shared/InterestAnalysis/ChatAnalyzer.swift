/// Analyses chat messages for interests in catalog targets, intents, pain points and volunteered
/// details. Implementations never throw: an analyser that cannot answer falls back or returns
/// empty results, because a batch of events must not fail on analysis.
public protocol ChatAnalyzer: Sendable {
    func analyze(_ messages: [ChatTurn], catalog: CatalogIndex) async -> ChatAnalysis
}
