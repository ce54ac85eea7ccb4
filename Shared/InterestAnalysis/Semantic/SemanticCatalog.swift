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

    /// The texts of an item that are embedded: "name: description" first, then each name and
    /// each keyword and synonym.
    static func texts(of item: CatalogItem) -> [String] {
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

    /// Embeds every active item of the catalog and measures each against the background sentences.
    public static func embed(_ catalog: Catalog, with embedder: any SentenceEmbedder, background: [[Float]]) async throws -> SemanticCatalog {
        let active = catalog.activeItems
        let texts = active.map(Self.texts(of:))
        let vectors = try await embedder.embed(texts.flatMap { $0 })
        var items: [Item] = []
        var offset = 0
        for (item, itemTexts) in zip(active, texts) {
            let itemVectors = Array(vectors[offset..<offset + itemTexts.count])
            offset += itemTexts.count
            let scores = background.map { similarity($0, itemVectors) }
            items.append(Item(target: .item(item.slug), texts: itemTexts, vectors: itemVectors,
                              backgroundMean: Vectors.mean(scores), backgroundDeviation: max(0.02, Vectors.standardDeviation(scores))))
        }
        return SemanticCatalog(modelName: embedder.modelName, items: items)
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
