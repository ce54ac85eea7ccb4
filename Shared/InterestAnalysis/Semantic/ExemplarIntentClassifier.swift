/// Intents from the logistic regression trained on the labelled exemplars (IntentRegression):
/// complements the cue rules with the ways of saying things no cue list spells out ("the display
/// blinks", "is that within budget").
struct ExemplarIntentClassifier: Sendable {
    let regression: IntentRegression
    let parameters: HybridParameters

    /// The regression's most probable class, when it is an intent and probable enough.
    func classify(_ vector: [Float]) -> DetectedIntent? {
        let probabilities = regression.probabilities(vector)
        guard let best = probabilities.indices.max(by: { probabilities[$0] < probabilities[$1] }),
              let intent = IntentRegression.classes[best], Double(probabilities[best]) >= parameters.intentMinimumProbability else { return nil }
        return DetectedIntent(intent: intent, confidence: Double(probabilities[best]))
    }
}
