import Foundation

/// A product or service of a site's catalog (`catalog_items`), identified by its slug within the site.
public struct CatalogItem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case product
        case service
    }

    /// Database id; nil before the item is stored.
    public var id: Int64?
    public var slug: String
    public var sku: String?
    public var kind: Kind
    public var name: String
    public var categorySlug: String?
    public var description: String?
    public var keywords: [String]
    public var synonyms: [String]
    public var urlPatterns: [String]
    public var price: Double?
    public var currency: String?
    public var active: Bool

    public init(id: Int64? = nil, slug: String, sku: String? = nil, kind: Kind = .product, name: String, categorySlug: String? = nil,
                description: String? = nil, keywords: [String] = [], synonyms: [String] = [], urlPatterns: [String] = [],
                price: Double? = nil, currency: String? = nil, active: Bool = true) {
        self.id = id
        self.slug = slug
        self.sku = sku
        self.kind = kind
        self.name = name
        self.categorySlug = categorySlug
        self.description = description
        self.keywords = keywords
        self.synonyms = synonyms
        self.urlPatterns = urlPatterns
        self.price = price
        self.currency = currency
        self.active = active
    }

    /// Whether an update changes what the item matches (so its evidence must be re-mapped).
    public func matchesDifferently(from other: CatalogItem) -> Bool {
        name != other.name || description != other.description || keywords != other.keywords || synonyms != other.synonyms
            || urlPatterns != other.urlPatterns || active != other.active || categorySlug != other.categorySlug
    }
}
