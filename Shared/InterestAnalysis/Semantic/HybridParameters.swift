/// The thresholds of the hybrid analyser. Calibrated on the development sets
/// (Tests/interest-eval/dev) and the demo set, never on the held-out sets; `interest-eval
/// --param name=value` overrides one for experiments.
public struct HybridParameters: Sendable {
    /// A span names an item semantically when the item stands this many background deviations
    /// above ordinary chat…
    public var itemMinimumZ = 4.0
    /// …its similarity is at least this…
    public var itemMinimumSimilarity = 0.35
    /// …and it is within this many deviations of the best item for the span.
    public var itemMarginZ = 1.0
    /// …and its similarity exceeds the next item's by this much: a span close to many items
    /// ("a bike for saturday" in a bike shop) names none of them.
    public var itemGap = 0.08
    /// In a message where the lexical matcher found an item, a semantic-only mention of another
    /// needs this z-score (visitors who name one product rarely describe a second one unnamed).
    public var itemMinimumZBesideLexical = 6.0
    /// Without that gap, an item still counts when it is this clearly described on its own.
    public var itemSharedZ = 7.0
    public var itemSharedSimilarity = 0.5
    /// The z-score at which a semantic mention reaches `semanticMaximumScore`.
    public var itemFullZ = 7.0
    /// Strength of a semantic mention at `itemMinimumZ` and at `itemFullZ`.
    public var semanticMinimumScore = 0.5
    public var semanticMaximumScore = 0.8
    /// A weaker semantic signal that only adds to lexical evidence for the same item.
    public var supportingZ = 2.5
    public var supportingScore = 0.3
    /// Spans shorter than this many words that are not stop words are not matched semantically.
    public var minimumSpanWords = 2

    /// The probability the exemplar regression needs for an intent.
    public var intentMinimumProbability = 0.4
    /// A message with a cue-rule intent this confident gets no other intent from the exemplars.
    public var intentCueOverride = 0.8
    public var switches = Switches()

    public init() {}

    public enum OverrideError: Error, CustomStringConvertible {
        case malformed(String)
        public var description: String {
            switch self {
            case .malformed(let text): "expected name=number with a known name, got \(text)"
            }
        }
    }

    /// Applies "name=value" (for `interest-eval --param`).
    public mutating func set(_ assignment: String) throws {
        let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Double(parts[1]) else { throw OverrideError.malformed(assignment) }
        switch parts[0] {
        case "itemMinimumZ": itemMinimumZ = value
        case "itemMinimumSimilarity": itemMinimumSimilarity = value
        case "itemMarginZ": itemMarginZ = value
        case "itemFullZ": itemFullZ = value
        case "itemGap": itemGap = value
        case "itemSharedZ": itemSharedZ = value
        case "itemSharedSimilarity": itemSharedSimilarity = value
        case "semanticMinimumScore": semanticMinimumScore = value
        case "semanticMaximumScore": semanticMaximumScore = value
        case "supportingZ": supportingZ = value
        case "supportingScore": supportingScore = value
        case "minimumSpanWords": minimumSpanWords = Int(value)
        case "sentenceIntents": switches.sentenceIntents = value != 0
        case "intentMinimumProbability": intentMinimumProbability = value
        case "intentCueOverride": intentCueOverride = value
        case "semanticOnlyWhereNoLexicalItem": switches.semanticOnlyWhereNoLexicalItem = value != 0
        case "itemMinimumZBesideLexical": itemMinimumZBesideLexical = value
        default: throw OverrideError.malformed(assignment)
        }
    }
}

extension HybridParameters {
    /// Switches, as numbers so `--param` can set them (0 off, anything else on).
    public struct Switches: Sendable {
        /// No semantic-only mention in a clause where the lexical matcher found another item.
        public var semanticOnlyWhereNoLexicalItem = true
        /// Each sentence of a message with several also gets an intent.
        public var sentenceIntents = true
    }
}
