/// Weighted cue phrases (stemmed like messages) and where they occur in a message.
struct CueList: Sendable {
    struct Cue: Sendable {
        let stems: [String]
        let weight: Double
        /// Matched on the words as written, for words whose stem is too broad ("openings" → "open").
        let exact: Bool
    }

    struct Hit: Sendable {
        let cue: Cue
        let start: Int
        let end: Int
    }

    let cues: [Cue]

    /// Cue phrases with weights; a phrase starting with "=" is matched exactly as written.
    init(_ entries: [(String, Double)]) {
        cues = entries.map { phrase, weight in
            phrase.hasPrefix("=") ? Cue(stems: TextNormalizer.tokens(String(phrase.dropFirst())).map(\.text), weight: weight, exact: true)
                : Cue(stems: TextNormalizer.stems(phrase), weight: weight, exact: false)
        }.filter { !$0.stems.isEmpty }
    }

    func hits(in tokens: [Token]) -> [Hit] {
        var hits: [Hit] = []
        for cue in cues where cue.stems.count <= tokens.count {
            let stems = cue.exact ? tokens.map(\.text) : tokens.map(\.stem)
            for start in 0...(stems.count - cue.stems.count) where stems[start] == cue.stems[0] {
                if Array(stems[start..<start + cue.stems.count]) == cue.stems {
                    hits.append(Hit(cue: cue, start: start, end: start + cue.stems.count))
                }
            }
        }
        return hits
    }

    /// The strongest cue's weight, a little more when several different cues agree. With
    /// `unlessNegated`, a cue right after a negator ("not buying", "stop showing me") is ignored.
    func score(in tokens: [Token], unlessNegated: Bool = false) -> Double {
        let weights = hits(in: tokens).filter { !unlessNegated || !Self.isNegated($0, in: tokens) }.map(\.cue.weight).sorted(by: >)
        guard let top = weights.first else { return 0 }
        return min(1, top + 0.1 * Double(weights.count - 1))
    }

    static let negators = NegationScope.negators.union(["stop"])

    static func isNegated(_ hit: Hit, in tokens: [Token]) -> Bool {
        tokens[max(0, hit.start - 2)..<hit.start].contains { negators.contains($0.text) && $0.clause == tokens[hit.start].clause }
    }
}
