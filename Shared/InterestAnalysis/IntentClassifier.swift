/// Rule-based intent classification: weighted cue phrases per intent (English first, with the
/// commonest phrases of a few other languages), checked per message; a conversation's intent is
/// the first by precedence among the intents its messages show.
struct IntentClassifier: Sendable {
    /// Cues at or above this weight make an intent.
    static let threshold = 0.5

    static let firstPerson: Set<String> = ["we", "i", "us", "our", "were", "well", "wed", "im", "id", "ive", "weve", "lets", "ready", "want", "to"]

    let purchase = CueList([
        ("buy", 0.9), ("buying", 0.9), ("purchase", 0.9), ("order form", 0.9), ("sign the contract", 0.9), ("sign a contract", 0.9),
        ("send a contract", 0.9), ("send the contract", 0.9), ("send us the contract", 0.9), ("sign us up", 0.9), ("sign up", 0.7),
        ("move forward", 0.8), ("going ahead", 0.8), ("go ahead", 0.7), ("lets do it", 0.8), ("upgrade", 0.7), ("paperwork", 0.8),
        ("payment details", 0.8), ("pay by", 0.7), ("enroll", 0.8), ("well take", 0.8), ("we picked", 0.7), ("need to sign", 0.8),
        ("become a customer", 0.9), ("finalize", 0.8), ("close this quarter", 0.7), ("ready to", 0.5), ("budget is approved", 0.7),
        ("budget approved", 0.7), ("approved the budget", 0.7), ("comprar", 0.9), ("kaufen", 0.9), ("acheter", 0.9),
    ])
    let demo = CueList([
        ("demo", 0.9), ("demonstration", 0.9), ("walkthrough", 0.8), ("walk through", 0.8), ("walk us through", 0.9),
        ("show me", 0.8), ("show us", 0.8), ("someone show", 0.8), ("you show", 0.7), ("in action", 0.8), ("trial", 0.7),
        ("set up a call", 0.7), ("book a call", 0.7), ("schedule a call", 0.7), ("on a call", 0.6), ("presentation", 0.6),
        ("demostracion", 0.9), ("vorfuhrung", 0.9),
    ])
    let comparison = CueList([
        ("compare", 0.8), ("comparing", 0.8), ("comparison", 0.8), ("vs", 0.8), ("versus", 0.8), ("difference between", 0.8),
        ("main difference", 0.8), ("different from", 0.8), ("better than", 0.8), ("cheaper than", 0.8), ("instead of", 0.7),
        ("alternative to", 0.8), ("stack up", 0.8), ("over", 0.3), ("different", 0.4), ("better", 0.4), ("cheaper", 0.4),
        ("difference", 0.4), ("as secure as", 0.7), ("as good as", 0.7), ("same", 0.3), ("or your", 0.4),
    ])
    let pricing = CueList([
        ("price", 0.9), ("pricing", 0.9), ("prices", 0.9), ("cost", 0.8), ("how much", 0.8), ("per user", 0.6), ("per seat", 0.6),
        ("per agent", 0.6), ("per month", 0.5), ("=billed", 0.7), ("free tier", 0.7), ("free plan", 0.7), ("discount", 0.7),
        ("discounts", 0.7), ("budget", 0.6), ("day rate", 0.8), ("run per month", 0.7), ("pay", 0.5), ("cheaper", 0.4),
        ("precio", 0.9), ("cuanto cuesta", 0.9), ("cuesta", 0.8), ("kost", 0.8), ("kosten", 0.8), ("wie viel", 0.7), ("prix", 0.9),
        ("combien", 0.8), ("quanto", 0.7), ("preco", 0.9), ("prijs", 0.9), ("expensive", 0.3),
    ])
    let support = CueList([
        ("error", 0.8), ("errors", 0.8), ("bug", 0.8), ("crash", 0.8), ("broken", 0.8), ("stopped working", 0.9), ("not working", 0.9),
        ("isnt working", 0.9), ("doesnt work", 0.9), ("outage", 0.8), ("fail", 0.8), ("stuck", 0.7), ("cant log", 0.9),
        ("cannot log", 0.9), ("charged twice", 0.9), ("issue", 0.6), ("problem", 0.5), ("wrong", 0.6), ("reset", 0.6),
        ("expired", 0.6), ("duplicat", 0.6), ("silent", 0.6), ("spam", 0.6), ("no data", 0.7), ("dont arrive", 0.8),
        ("never arrive", 0.8), ("not showing", 0.8), ("isnt showing", 0.8), ("arent showing", 0.8), ("dont match", 0.7),
        ("doesnt match", 0.7), ("cant be right", 0.7), ("slow", 0.5), ("please advise", 0.5), ("help", 0.3), ("urgently", 0.5),
        ("lost", 0.4), ("fix", 0.5), ("funktioniert nicht", 0.9), ("no funciona", 0.9), ("ne marche pas", 0.9),
    ])
    let job = CueList([
        ("hiring", 0.9), ("job", 0.8), ("jobs", 0.8), ("career", 0.9), ("careers", 0.9), ("position", 0.6), ("apply for", 0.9),
        ("apply", 0.7), ("applied", 0.7), ("cv", 0.9), ("resume", 0.8), ("internship", 0.9), ("internships", 0.9), ("=opening", 0.7),
        ("=openings", 0.7), ("interview", 0.7), ("salary", 0.8), ("graduate program", 0.9), ("werkstudent", 0.9), ("stelle", 0.8),
        ("emploi", 0.9), ("empleo", 0.9), ("trabajo", 0.8), ("vacature", 0.9), ("roles open", 0.8),
    ])
    let notInterested = CueList([
        ("not interested", 0.9), ("no thanks", 0.8), ("no thank you", 0.8), ("not looking", 0.7), ("unsubscribe", 0.9),
        ("dont contact", 0.9), ("not now", 0.7), ("not for us", 0.8), ("not a fit", 0.8), ("wasnt a fit", 0.8),
        ("not what i was looking for", 0.8), ("isnt what i was looking for", 0.8), ("by accident", 0.8), ("nah", 0.7),
        ("not buying", 0.8), ("not switching", 0.8), ("im good", 0.5), ("stick with", 0.6), ("overkill", 0.6), ("stop", 0.5),
        ("not the right person", 0.6), ("no gracias", 0.8), ("kein interesse", 0.9), ("pas interesse", 0.9),
    ])

    func classify(_ tokens: [Token], negation: NegationScope, competitor: Bool) -> [DetectedIntent] {
        var scores: [ChatIntent: Double] = [:]
        // "buy" and friends count when the visitor speaks of themselves ("we want to buy"), not
        // of their own customers ("before people buy").
        let purchaseHits = purchase.hits(in: tokens).filter { !CueList.isNegated($0, in: tokens) }.map { hit -> Double in
            let isVerb = ["buy", "buying", "purchase"].contains(hit.cue.stems.joined(separator: " "))
            guard isVerb else { return hit.cue.weight }
            let before = tokens[max(0, hit.start - 4)..<hit.start].map(\.text)
            return before.contains(where: Self.firstPerson.contains) ? hit.cue.weight : 0.3
        }
        scores[.purchaseIntent] = purchaseHits.max() ?? 0
        scores[.demoRequest] = demo.score(in: tokens, unlessNegated: true)
        let compared = comparison.score(in: tokens, unlessNegated: true)
        scores[.competitorComparison] = competitor ? min(1, compared + 0.4) : (compared >= 0.8 ? 0.6 : 0)
        scores[.pricingInquiry] = pricing.score(in: tokens, unlessNegated: true)
        scores[.supportProblem] = support.score(in: tokens)
        scores[.jobSeeker] = job.score(in: tokens, unlessNegated: true)
        var rejection = notInterested.score(in: tokens)
        if negation.hasRejection { rejection = max(rejection, 0.6) }
        let words = tokens.map(\.text).filter { !["lol", "haha", "ok", "so", "um"].contains($0) }
        if !words.isEmpty, words.allSatisfy({ ["no", "nope", "nah"].contains($0) }) { rejection = max(rejection, 0.8) }
        scores[.notInterested] = rejection
        return scores.filter { $0.value >= Self.threshold }
            .map { DetectedIntent(intent: $0.key, confidence: $0.value) }
            .sorted { $0.intent.precedence < $1.intent.precedence }
    }
}
