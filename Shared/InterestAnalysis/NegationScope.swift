/// Finds rejections ("we don't need X", "X is not for us") and hypotheticals ("if we ever…") and
/// which catalog mentions they reach: the mentions in the same clause, or, for a rejection that
/// names nothing ("…so we don't need those", "not switching"), the nearest earlier clause of the
/// message that names something.
struct NegationScope: Sendable {
    static let negators: Set<String> = ["not", "no", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "wont", "never",
                                        "nor", "neither", "havent", "hasnt", "shouldnt"]
    /// What a negator must reach for the clause to reject something (stems).
    static let interestWords: Set<String> = ["need", "want", "interest", "look", "relevant", "requir", "require", "use", "switch",
                                             "switching", "buy", "care", "consider", "fit", "plan"]
    static let fixedRejections = CueList([("not for us", 1), ("overkill", 1), ("no need", 1), ("stick with", 1), ("pass on", 1),
                                          ("no use for", 1), ("not a fit", 1)])
    static let hypotheticals = CueList([("if", 1), ("maybe", 1), ("might", 1), ("someday", 1), ("eventually", 1), ("perhaps", 1),
                                        ("in the future", 1), ("one day", 1), ("down the road", 1), ("later on", 1)])

    static let indirectQuestionVerbs: Set<String> = Set(["see", "check", "know", "wonder", "wondering", "ask", "tell", "confirm", "whether", "sure"].map(Stemmer.stem))

    static let questionStarts: Set<String> = ["what", "whats", "how", "hows", "which", "when", "whens", "can", "could", "does", "do", "is",
                                              "are", "would", "will", "should", "whos", "who"]

    /// The clauses (by index) that contain a rejection.
    let rejectingClauses: Set<Int>
    let hypotheticalClauses: Set<Int>

    init(tokens: [Token]) {
        var rejecting = Set<Int>()
        for (index, token) in tokens.enumerated() where Self.negators.contains(token.text) {
            let reach = tokens[(index + 1)..<min(tokens.count, index + 5)].filter { $0.clause == token.clause }
            if reach.contains(where: { Self.interestWords.contains($0.stem) }) { rejecting.insert(token.clause) }
        }
        rejecting.formUnion(Self.fixedRejections.hits(in: tokens).map { tokens[$0.start].clause })
        rejectingClauses = rejecting
        // "see if", "check if", "wondering if" ask a question about now, and so does a question with
        // a condition ("what's the rate if we pay monthly"): no possibility is being weighed.
        hypotheticalClauses = Set(Self.hypotheticals.hits(in: tokens).filter { hit in
            guard tokens[hit.start].text == "if", hit.start > 0 else { return true }
            if Self.indirectQuestionVerbs.contains(tokens[hit.start - 1].stem) { return false }
            let clauseStart = tokens[..<hit.start].lastIndex { $0.clause != tokens[hit.start].clause }.map { $0 + 1 } ?? 0
            return !(clauseStart < hit.start && Self.questionStarts.contains(tokens[clauseStart].text))
        }.map { tokens[$0.start].clause })
    }

    var hasRejection: Bool { !rejectingClauses.isEmpty }

    /// The clauses whose mentions are rejected, given the clauses that have mentions.
    func rejectedClauses(mentionClauses: Set<Int>) -> Set<Int> {
        var result = rejectingClauses.intersection(mentionClauses)
        for clause in rejectingClauses where !mentionClauses.contains(clause) {
            if let earlier = mentionClauses.filter({ $0 < clause }).max() { result.insert(earlier) }
        }
        return result
    }
}
