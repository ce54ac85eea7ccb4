import Foundation
import ProfileModel

/// A catalog prepared for matching: the stemmed phrases of every active item and category, a
/// BM25 index of the items' texts, the vocabulary for typo correction and the URL patterns.
/// Built once per catalog version and shared by every analysis of that site.
public struct CatalogIndex: Sendable {
    /// A phrase that names a target, with how strongly a mention of it indicates interest.
    struct Phrase: Sendable {
        let stems: [String]
        let target: InterestTarget
        let weight: Double
        let text: String
    }

    /// A phrase found in a token sequence.
    struct Match: Sendable {
        let phrase: Phrase
        let start: Int
        let end: Int
    }

    public let catalog: Catalog
    let phrasesByFirstStem: [String: [Phrase]]
    let vocabularyByInitial: [Character: [String]]
    let vocabulary: Set<String>
    let bm25: BM25Index
    /// Competitor product names from synonyms such as "zendesk alternative".
    let competitorStems: Set<[String]>
    let itemPatterns: [(pattern: URLPattern, target: InterestTarget)]
    let categoryPatterns: [(pattern: URLPattern, target: InterestTarget)]

    /// How strongly each kind of phrase indicates interest: a product's own name or a synonym is
    /// unambiguous; a multi-word keyword nearly so; a single keyword is often a common word.
    static let nameWeight = 1.0
    static let phraseWeight = 0.9
    static let wordWeight = 0.75
    static let headWeight = 0.6

    public init(catalog: Catalog) {
        self.catalog = catalog
        var phrases: [Phrase] = []
        var competitors = Set<[String]>()
        func add(_ text: String, _ target: InterestTarget, name: Bool) {
            let stems = TextNormalizer.stems(text)
            guard !stems.isEmpty, !stems.allSatisfy({ StopWords.all.contains($0) }) else { return }
            if stems.count >= 2, stems.last == "alternative" { competitors.insert(Array(stems.dropLast())) }
            let weight = name ? Self.nameWeight : (stems.count > 1 ? Self.phraseWeight : Self.wordWeight)
            phrases.append(Phrase(stems: stems, target: target, weight: weight, text: text))
        }
        for item in catalog.activeItems {
            let target = InterestTarget.item(item.slug)
            for name in Self.names(item.name) { add(name, target, name: true) }
            item.synonyms.forEach { add($0, target, name: true) }
            item.keywords.forEach { add($0, target, name: false) }
        }
        for category in catalog.categories {
            let target = InterestTarget.category(category.slug)
            add(category.name, target, name: false)
            category.keywords.forEach { add($0, target, name: false) }
        }
        // The head word of an item's multi-word names and keywords ("locks" for "bike locks") is
        // weaker evidence for it, when it is also a word of the item's name (so "software" of a
        // "crm software" synonym is not) and no other item or category has that word as a head or
        // a phrase of its own ("bike" in a bike shop names nothing in particular).
        let whole = Set(phrases.map(\.stems))
        var heads: [String: Set<InterestTarget>] = [:]
        let nameStems = Dictionary(catalog.activeItems.map { item in
            (InterestTarget.item(item.slug), Set(Self.names(item.name).flatMap(TextNormalizer.stems)))
        }, uniquingKeysWith: { first, _ in first })
        for phrase in phrases where phrase.stems.count > 1 {
            guard let head = phrase.stems.last, head.count >= 3, nameStems[phrase.target]?.contains(head) == true, !StopWords.all.contains(head), head.allSatisfy(\.isLetter) else { continue }
            heads[head, default: []].insert(phrase.target)
        }
        // Categories may share it: "locks" in a "Helmets, Locks & Clothing" category still names the locks item.
        let wordsOfOthers = Dictionary(grouping: phrases.filter { if case .item = $0.target { true } else { false } }, by: \.target)
            .mapValues { Set($0.flatMap(\.stems)) }
        for (head, targets) in heads.sorted(by: { $0.key < $1.key }) where targets.count == 1 && !whole.contains([head]) {
            guard let target = targets.first, case .item = target,
                  !wordsOfOthers.contains(where: { $0.key != target && $0.value.contains(head) }) else { continue }
            phrases.append(Phrase(stems: [head], target: target, weight: Self.headWeight, text: head))
        }
        // A phrase shared by several items says less about each of them (BM25 then picks).
        let sharing = Dictionary(grouping: phrases.filter { if case .item = $0.target { true } else { false } }, by: \.stems)
            .mapValues { Set($0.map(\.target)).count }
        phrases = phrases.map { phrase in
            guard case .item = phrase.target, let n = sharing[phrase.stems], n > 1 else { return phrase }
            return Phrase(stems: phrase.stems, target: phrase.target, weight: phrase.weight * 0.8, text: phrase.text)
        }
        self.phrasesByFirstStem = Dictionary(grouping: phrases, by: { $0.stems[0] })
        let vocabulary = Set(phrases.flatMap(\.stems)).filter { $0.count >= 4 && $0.allSatisfy(\.isLetter) }
        self.vocabulary = vocabulary
        self.vocabularyByInitial = Dictionary(grouping: vocabulary, by: { $0.first ?? " " })
        self.competitorStems = competitors
        self.bm25 = BM25Index(documents: catalog.activeItems.map { item in
            (InterestTarget.item(item.slug),
             ([item.name, item.description ?? ""] + item.keywords + item.synonyms).joined(separator: " "))
        })
        self.itemPatterns = catalog.activeItems.flatMap { item in item.urlPatterns.map { (URLPattern($0), InterestTarget.item(item.slug)) } }
        self.categoryPatterns = catalog.categories.flatMap { category in category.urlPatterns.map { (URLPattern($0), InterestTarget.category(category.slug)) } }
    }

    /// "Journeys (Marketing Automation)" is known both as "Journeys" and "Marketing Automation".
    static func names(_ name: String) -> [String] {
        guard let open = name.firstIndex(of: "("), let close = name.lastIndex(of: ")"), open < close else { return [name] }
        let outer = (String(name[..<open]) + String(name[name.index(after: close)...])).trimmingCharacters(in: .whitespaces)
        let inner = String(name[name.index(after: open)..<close])
        return [outer, inner].filter { !$0.isEmpty }
    }

    /// The stem to look up for a token: itself when known, else the one vocabulary word a single
    /// typo away (only for longer words, so "form" never turns into "from").
    func correctedStem(_ token: Token) -> String {
        let stem = token.stem
        guard stem.count >= 5, !vocabulary.contains(stem), !StopWords.all.contains(token.text),
              let initial = stem.first, let candidates = vocabularyByInitial[initial] else { return stem }
        let close = candidates.filter { EditDistance.withinOne(stem, $0) }
        return close.count == 1 ? close[0] : stem
    }

    /// Longest phrase matches, left to right, without overlaps among items and, separately, among
    /// categories (so "marketing automation" is both an item and the marketing category). Two
    /// adjacent words also match a one-word phrase written as one ("help desk" → "helpdesk").
    func matches(in tokens: [Token]) -> [Match] {
        let stems = tokens.map(correctedStem)
        return matches(tokens, stems: stems, items: true) + matches(tokens, stems: stems, items: false)
    }

    private func matches(_ tokens: [Token], stems: [String], items: Bool) -> [Match] {
        func wanted(_ phrase: Phrase) -> Bool {
            if case .item = phrase.target { return items }
            return !items
        }
        var result: [Match] = []
        var index = 0
        while index < stems.count {
            var best: [Match] = []
            var bestLength = 0
            for phrase in phrasesByFirstStem[stems[index]] ?? [] where wanted(phrase) {
                let length = phrase.stems.count
                guard index + length <= stems.count, Array(stems[index..<index + length]) == phrase.stems,
                      tokens[index..<index + length].allSatisfy({ $0.clause == tokens[index].clause }) else { continue }
                if length > bestLength {
                    best = [Match(phrase: phrase, start: index, end: index + length)]
                    bestLength = length
                } else if length == bestLength {
                    best.append(Match(phrase: phrase, start: index, end: index + length))
                }
            }
            if best.isEmpty, index + 1 < stems.count, tokens[index].clause == tokens[index + 1].clause {
                let joined = Stemmer.stem(tokens[index].text + tokens[index + 1].text)
                for phrase in phrasesByFirstStem[joined] ?? [] where phrase.stems.count == 1 && wanted(phrase) {
                    best.append(Match(phrase: phrase, start: index, end: index + 2))
                    bestLength = 2
                }
            }
            result += best
            index += max(bestLength, 1)
        }
        return result
    }

    /// Whether the tokens name a competitor (from the catalog's "X alternative" synonyms or the
    /// built-in list of well-known vendors).
    func mentionsCompetitor(_ tokens: [Token]) -> Bool {
        let texts = tokens.map(\.text), stems = tokens.map(\.stem)
        return (Array(competitorStems) + CompetitorNames.all).contains { name in
            guard !name.isEmpty, name.count <= texts.count else { return false }
            return (0...(texts.count - name.count)).contains { start in
                let range = start..<start + name.count
                return Array(texts[range]) == name || Array(stems[range]) == name
            }
        }
    }
}
