import Foundation

/// One site's catalog: its categories and items, looked up by slug or id.
public struct Catalog: Sendable {
    public let categories: [CatalogCategory]
    public let items: [CatalogItem]
    private let itemIndex: [String: Int]
    private let categoryIndex: [String: Int]

    public init(categories: [CatalogCategory], items: [CatalogItem]) {
        self.categories = categories
        self.items = items
        // Later duplicates are ignored: the importer rejects them before they get here.
        self.itemIndex = Dictionary(items.enumerated().map { ($1.slug, $0) }, uniquingKeysWith: { first, _ in first })
        self.categoryIndex = Dictionary(categories.enumerated().map { ($1.slug, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public static let empty = Catalog(categories: [], items: [])

    public func item(_ slug: String) -> CatalogItem? { itemIndex[slug].map { items[$0] } }
    public func category(_ slug: String) -> CatalogCategory? { categoryIndex[slug].map { categories[$0] } }

    /// The database ids of a target (item id or category id; nil when unknown or not stored).
    public func ids(of target: InterestTarget) -> (item: Int64?, category: Int64?) {
        switch target {
        case .item(let slug): return (item(slug)?.id, nil)
        case .category(let slug): return (nil, category(slug)?.id)
        }
    }

    /// Items that are matched against chat and pages (inactive ones are kept for history only).
    public var activeItems: [CatalogItem] { items.filter(\.active) }
}
