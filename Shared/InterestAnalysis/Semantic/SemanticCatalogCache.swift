import ProfileModel

/// The embedded catalogs an analyser has seen, by the texts that were embedded: a catalog whose
/// items change is embedded again, an unchanged one never. Bounded, oldest out first.
actor SemanticCatalogCache {
    private var entries: [String: SemanticCatalog] = [:]
    private var order: [String] = []
    private let capacity: Int

    init(capacity: Int = 64) {
        self.capacity = capacity
    }

    static func key(_ catalog: Catalog) -> String {
        catalog.activeItems.map { "\($0.slug)\u{1}\(SemanticCatalog.texts(of: $0).joined(separator: "\u{1}"))" }.joined(separator: "\u{2}")
    }

    func contains(_ catalog: Catalog) -> Bool { entries[Self.key(catalog)] != nil }

    func catalog(for catalog: Catalog, embed: @Sendable (Catalog) async throws -> SemanticCatalog) async throws -> SemanticCatalog {
        let key = Self.key(catalog)
        if let cached = entries[key] { return cached }
        let embedded = try await embed(catalog)
        if entries[key] == nil {
            entries[key] = embedded
            order.append(key)
            if order.count > capacity { entries[order.removeFirst()] = nil }
        }
        return embedded
    }
}
