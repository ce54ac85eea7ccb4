import Foundation
import ProfileModel
import TextEmbedding

/// A catalog's items as sentence vectors, for matching what visitors describe rather than name:
/// each item's names, its description and each keyword or synonym are embedded separately. Each
/// item also carries how similar ordinary chat is to it (its background), because items whose
/// texts are generic ("Support", "Plans") come close to every message and a single absolute
/// threshold would favour them.
public struct SemanticCatalog: Sendable {
    public struct Item: Sendable {
        public let target: InterestTarget
        public let texts: [String]
        let vectors: [[Float]]
        /// Mean and standard deviation of `similarity` over the background sentences.
        let backgroundMean: Double
        let backgroundDeviation: Double
    }

    public let modelName: String
    public let items: [Item]
    /// Slugs of the items this value embedded itself (the others came from `known`).
    public let embedded: Set<String>

    /// The texts of an item that are embedded: "name: description" first, then each name and
    /// each keyword and synonym.
    public static func texts(of item: CatalogItem) -> [String] {
        var texts: [String] = []
        if let description = item.description, !description.isEmpty { texts.append("\(item.name): \(description)") }
        texts += CatalogIndex.names(item.name) + item.keywords + item.synonyms
        var seen = Set<String>()
        return texts.filter { seen.insert($0.lowercased()).inserted }
    }

    /// How close a span is to an item: its nearest text, helped a little by the second nearest,
    /// since one keyword alone ("europe") is a thinner description than two that agree.
    static func similarity(_ vector: [Float], _ itemVectors: [[Float]]) -> Double {
        var best = -1.0, second = -1.0
        for itemVector in itemVectors {
            let score = Vectors.cosine(vector, itemVector)
            if score > best { (best, second) = (score, best) } else if score > second { second = score }
        }
        return second < 0 ? best : 0.8 * best + 0.2 * second
    }

    /// Embeds every active item of the catalog (except those `known` already holds vectors of,
    /// by slug, for exactly their current `texts(of:)`) and measures each against the background.
    public static func embed(_ catalog: Catalog, with embedder: any SentenceEmbedder, background: [[Float]],
                             known: [String: [[Float]]] = [:]) async throws -> SemanticCatalog {
        let active = catalog.activeItems
        let texts = active.map(Self.texts(of:))
        let missing = zip(active, texts).filter { item, texts in known[item.slug]?.count != texts.count }
        let embedded = try await embedder.embed(missing.flatMap(\.1))
        var fresh: [String: [[Float]]] = [:]
        var offset = 0
        for (item, itemTexts) in missing {
            fresh[item.slug] = Array(embedded[offset..<offset + itemTexts.count])
            offset += itemTexts.count
        }
        var items: [Item] = []
        for (item, itemTexts) in zip(active, texts) {
            guard let itemVectors = fresh[item.slug] ?? known[item.slug] else { continue }
            let scores = background.map { similarity($0, itemVectors) }
            items.append(Item(target: .item(item.slug), texts: itemTexts, vectors: itemVectors,
                              backgroundMean: Vectors.mean(scores), backgroundDeviation: max(0.02, Vectors.standardDeviation(scores))))
        }
        return SemanticCatalog(modelName: embedder.modelName, items: items, embedded: Set(fresh.keys))
    }

    /// The vectors of one item, by slug (for storing them).
    public func vectors(of slug: String) -> [[Float]]? {
        items.first { $0.target == .item(slug) }?.vectors
    }

    /// For one span: each item's raw similarity and how many background deviations it stands above
    /// the item's background (its z-score), in the order of `items`.
    func scores(_ vector: [Float]) -> [(similarity: Double, z: Double)] {
        items.map { item in
            let similarity = Self.similarity(vector, item.vectors)
            return (similarity, (similarity - item.backgroundMean) / item.backgroundDeviation)
        }
    }
}
