import ProfileModel
/// Maps a visited page to catalog targets: by the catalog's URL patterns (the most specific
/// matching pattern of each kind wins), and, for pages no item pattern covers, by item names and
/// phrases in the page title and path ("/blog/why-sales-forecasting-fails").
public struct PageInterestMatcher: Sendable {
    /// A page's match, with the pattern (or "title:…") that made it.
    public struct Match: Sendable, Equatable {
        public let target: InterestTarget
        public let matchedBy: String
        /// 1 for a URL pattern; less for a title/path match, which is less certain.
        public let factor: Double
    }

    public static let titleFactor = 0.6

    let index: CatalogIndex

    public init(index: CatalogIndex) {
        self.index = index
    }

    public func matches(path: String, title: String?) -> [Match] {
        var result: [Match] = []
        func best(_ patterns: [(pattern: URLPattern, target: InterestTarget)]) -> [Match] {
            let hits = patterns.filter { $0.pattern.matches(path: path) }
            guard let top = hits.map(\.pattern.specificity).max() else { return [] }
            var seen = Set<InterestTarget>()
            return hits.filter { $0.pattern.specificity == top && seen.insert($0.target).inserted }
                .map { Match(target: $0.target, matchedBy: $0.pattern.source, factor: 1) }
        }
        result += best(index.itemPatterns)
        result += best(index.categoryPatterns)
        if !result.contains(where: { if case .item = $0.target { true } else { false } }) {
            // Only phrases of more than one word or names: a single common word in a blog title
            // ("reports", "tasks") says too little.
            let words = path.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: " ") + ". " + (title ?? "")
            var seen = Set(result.map(\.target))
            for match in index.matches(in: TextNormalizer.tokens(words))
            where match.phrase.weight >= CatalogIndex.phraseWeight && seen.insert(match.phrase.target).inserted {
                guard case .item = match.phrase.target else { continue }
                result.append(Match(target: match.phrase.target, matchedBy: "title:\(match.phrase.text)", factor: Self.titleFactor))
            }
        }
        return result
    }
}
