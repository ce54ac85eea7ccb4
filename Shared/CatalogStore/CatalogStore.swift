import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Reads of the catalog tables. The profile API owns and writes them (its `CatalogStore+Import`);
/// the engine reads them to match chats and pages against the catalog.
public struct CatalogStore: Sendable {
    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Named query `site_by_slug`.
    public func siteID(slug: String, on connection: PostgresConnection) async throws -> Int64? {
        let rows = try await connection.query("SELECT id FROM sites WHERE slug = \(slug)", logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        return nil
    }

    /// Named queries `load_catalog_categories` and `load_catalog_items`.
    public func load(siteID: Int64, on connection: PostgresConnection) async throws -> Catalog {
        var categories: [CatalogCategory] = []
        var slugOfCategory: [Int64: String] = [:]
        let categoryRows = try await connection.query(
            """
            SELECT c.id, c.slug, c.name, c.description, p.slug, c.keywords, c.url_patterns
            FROM catalog_categories c LEFT JOIN catalog_categories p ON p.id = c.parent_id
            WHERE c.site_id = \(siteID) ORDER BY c.id
            """, logger: logger)
        for try await (id, slug, name, description, parent, keywords, patterns) in categoryRows.decode(
            (Int64, String, String, String?, String?, [String], [String]).self) {
            slugOfCategory[id] = slug
            categories.append(CatalogCategory(id: id, slug: slug, name: name, description: description, parentSlug: parent,
                                              keywords: keywords, urlPatterns: patterns))
        }
        var items: [CatalogItem] = []
        let itemRows = try await connection.query(
            """
            SELECT id, slug, sku, kind, name, category_id, description, keywords, synonyms, url_patterns, price::float8, currency, active
            FROM catalog_items WHERE site_id = \(siteID) ORDER BY id
            """, logger: logger)
        for try await (id, slug, sku, kind, name, category, description, keywords, synonyms, patterns, price, currency, active) in itemRows.decode(
            (Int64, String, String?, String, String, Int64?, String?, [String], [String], [String], Double?, String?, Bool).self) {
            items.append(CatalogItem(id: id, slug: slug, sku: sku, kind: CatalogItem.Kind(rawValue: kind) ?? .product, name: name,
                                     categorySlug: category.flatMap { slugOfCategory[$0] }, description: description, keywords: keywords,
                                     synonyms: synonyms, urlPatterns: patterns, price: price, currency: currency, active: active))
        }
        return Catalog(categories: categories, items: items)
    }

    /// The version of a site's catalog: changes whenever a row is added, changed or removed, so
    /// that caches know when to rebuild their index. Named query `catalog_version`.
    public func version(siteID: Int64, on connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query(
            """
            SELECT (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM catalog_categories WHERE site_id = \(siteID))
                   || '/' ||
                   (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM catalog_items WHERE site_id = \(siteID))
            """, logger: logger)
        for try await version in rows.decode(String.self) { return version }
        return ""
    }
}
