/// Finds the problems a visitor describes ("reports take hours in Excel", "our inbox is chaos"):
/// the clauses that carry a pain cue, as written, for sales to read.
struct PainPointDetector: Sendable {
    let cues = CueList([
        ("take hours", 1), ("takes hours", 1), ("take days", 1), ("takes days", 1), ("nightmare", 1), ("chaos", 1), ("too expensive", 1),
        ("expensive", 1), ("spreadsheet", 1), ("excel", 1), ("manual", 1), ("manually", 1), ("terrible", 1), ("hate", 1), ("get lost", 1),
        ("fortune", 1), ("keeps growing", 1), ("struggl", 1), ("frustrat", 1), ("waste", 1), ("painful", 1), ("mess", 1),
        ("too slow", 1), ("hard to", 1), ("difficult", 1), ("overwhelm", 1), ("no visibility", 1), ("error prone", 1),
    ])

    func painPoints(in tokens: [Token], text: String) -> [String] {
        let clauses = Set(cues.hits(in: tokens).map { tokens[$0.start].clause })
        return clauses.sorted().compactMap { clause in
            let words = tokens.filter { $0.clause == clause }
            guard let first = words.first, let last = words.last else { return nil }
            return String(text[first.range.lowerBound..<last.range.upperBound].prefix(200))
        }
    }
}
