import Foundation

/// A category of a site's catalog (`catalog_categories`), identified by its slug within the site.
public struct CatalogCategory: Sendable, Equatable, Codable {
    /// Database id; nil before the category is stored.
    public var id: Int64?
    public var slug: String
    public var name: String
    public var description: String?
    public var parentSlug: String?
    public var keywords: [String]
    public var urlPatterns: [String]

    public init(id: Int64? = nil, slug: String, name: String, description: String? = nil, parentSlug: String? = nil,
                keywords: [String] = [], urlPatterns: [String] = []) {
        self.id = id
        self.slug = slug
        self.name = name
        self.description = description
        self.parentSlug = parentSlug
        self.keywords = keywords
        self.urlPatterns = urlPatterns
    }

    /// Whether an update changes what the category matches (so its evidence must be re-mapped).
    public func matchesDifferently(from other: CatalogCategory) -> Bool {
        name != other.name || keywords != other.keywords || urlPatterns != other.urlPatterns
    }
}
