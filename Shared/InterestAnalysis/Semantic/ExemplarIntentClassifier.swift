/// Intents by the nearest labelled exemplars in embedding space: the `neighbours` most similar
/// exemplars vote, weighted by similarity, and an intent wins a message when its share of the vote
/// is large enough and its nearest exemplar is close enough. Complements the cue rules with the
/// ways of saying things no cue list spells out ("the display blinks", "is that within budget").
struct ExemplarIntentClassifier: Sendable {
    let exemplars: [IntentExemplars.Exemplar]
    let vectors: [[Float]]
    let regression: IntentRegression
    let parameters: HybridParameters

    func classify(_ vector: [Float], clause: Bool = false) -> DetectedIntent? {
        parameters.switches.intentRegression ? regress(vector) : vote(vector, clause: clause)
    }

    /// The regression's most probable class, when it is an intent and probable enough.
    func regress(_ vector: [Float]) -> DetectedIntent? {
        let probabilities = regression.probabilities(vector)
        guard let best = probabilities.indices.max(by: { probabilities[$0] < probabilities[$1] }),
              let intent = IntentRegression.classes[best], Double(probabilities[best]) >= parameters.intentMinimumProbability else { return nil }
        return DetectedIntent(intent: intent, confidence: Double(probabilities[best]))
    }

    /// - Parameter clause: a clause of a longer message, which must come closer to an exemplar.
    func vote(_ vector: [Float], clause: Bool = false) -> DetectedIntent? {
        let minimum = parameters.intentMinimumSimilarity + (clause ? parameters.intentClauseExtraSimilarity : 0)
        let ranked = zip(exemplars, vectors).map { ($0.intent, Vectors.cosine(vector, $1)) }
            .sorted { $0.1 > $1.1 }.prefix(parameters.intentNeighbours)
        guard let nearest = ranked.first, nearest.1 >= minimum else { return nil }
        var votes: [ChatIntent?: Double] = [:]
        for (intent, similarity) in ranked { votes[intent, default: 0] += similarity }
        let total = votes.values.reduce(0, +)
        guard let (winner, weight) = votes.max(by: { $0.value < $1.value }), let intent = winner, total > 0 else { return nil }
        let share = weight / total
        guard share >= parameters.intentMinimumShare else { return nil }
        // The nearest exemplar of the winning intent must itself be close: a vote of distant ones is no evidence.
        guard let closest = ranked.first(where: { $0.0 == intent })?.1, closest >= minimum else { return nil }
        return DetectedIntent(intent: intent, confidence: share)
    }
}
