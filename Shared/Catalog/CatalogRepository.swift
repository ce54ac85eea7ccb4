import Foundation
import Logging
import PostgresNIO

/// The only code that reads and writes the catalog tables. Imports upsert by slug, so running
/// the same file twice changes nothing.
public struct CatalogRepository: Sendable {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// What an import did (or, in a dry run, would do).
    public struct ImportReport: Sendable {
        public var categoriesCreated: [String] = []
        public var categoriesUpdated: [String] = []
        public var itemsCreated: [String] = []
        public var itemsUpdated: [String] = []
        public var unchanged = 0
        public var rejections: [CatalogRejection] = []
        /// Targets whose matching changed: their evidence must be re-mapped.
        public var changedTargets: Set<InterestTarget> = []
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

    /// Upserts the file's categories and items into the site's catalog inside `tx`. Rows the
    /// database refuses (e.g. an SKU another item already has) are reported, not fatal.
    public func importFile(_ file: CatalogFile, siteID: Int64, on tx: PostgresConnection) async throws -> ImportReport {
        let existing = try await load(siteID: siteID, on: tx)
        var report = ImportReport(rejections: file.rejections)

        for category in file.categories {
            let before = existing.category(category.slug)
            if let before, before.name == category.name, before.description == category.description,
               before.parentSlug == category.parentSlug, before.keywords == category.keywords, before.urlPatterns == category.urlPatterns {
                report.unchanged += 1
                continue
            }
            try await tx.query(
                """
                INSERT INTO catalog_categories (site_id, slug, name, description, keywords, url_patterns)
                VALUES (\(siteID), \(category.slug), \(category.name), \(category.description), \(category.keywords), \(category.urlPatterns))
                ON CONFLICT (site_id, slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                    keywords = EXCLUDED.keywords, url_patterns = EXCLUDED.url_patterns, updated_at = now()
                """, logger: logger)
            if let before {
                report.categoriesUpdated.append(category.slug)
                if category.matchesDifferently(from: before) { report.changedTargets.insert(.category(category.slug)) }
            } else {
                report.categoriesCreated.append(category.slug)
                report.changedTargets.insert(.category(category.slug))
            }
        }
        // Parents after all categories exist, so a file may list a child before its parent.
        for category in file.categories where existing.category(category.slug)?.parentSlug != category.parentSlug || existing.category(category.slug) == nil {
            try await tx.query(
                """
                UPDATE catalog_categories c SET parent_id = (SELECT p.id FROM catalog_categories p WHERE p.site_id = \(siteID) AND p.slug = \(category.parentSlug)),
                       updated_at = now()
                WHERE c.site_id = \(siteID) AND c.slug = \(category.slug)
                """, logger: logger)
        }

        for item in file.items {
            let before = existing.item(item.slug)
            if let before, before.sku == item.sku, before.kind == item.kind, before.price == item.price, before.currency == item.currency,
               !item.matchesDifferently(from: before) {
                report.unchanged += 1
                continue
            }
            if let sku = item.sku, let owner = existing.items.first(where: { $0.sku == sku && $0.slug != item.slug }) {
                report.rejections.append(CatalogRejection(row: "items", slug: item.slug, field: "sku",
                                                          reason: "sku \"\(sku)\" already belongs to item \"\(owner.slug)\""))
                continue
            }
            try await tx.query(
                """
                INSERT INTO catalog_items (site_id, slug, sku, kind, name, category_id, description, keywords, synonyms, url_patterns,
                                           price, currency, active)
                VALUES (\(siteID), \(item.slug), \(item.sku), \(item.kind.rawValue), \(item.name),
                        (SELECT id FROM catalog_categories WHERE site_id = \(siteID) AND slug = \(item.categorySlug)),
                        \(item.description), \(item.keywords), \(item.synonyms), \(item.urlPatterns), \(item.price)::numeric, \(item.currency), \(item.active))
                ON CONFLICT (site_id, slug) DO UPDATE SET sku = EXCLUDED.sku, kind = EXCLUDED.kind, name = EXCLUDED.name,
                    category_id = EXCLUDED.category_id, description = EXCLUDED.description, keywords = EXCLUDED.keywords,
                    synonyms = EXCLUDED.synonyms, url_patterns = EXCLUDED.url_patterns, price = EXCLUDED.price,
                    currency = EXCLUDED.currency, active = EXCLUDED.active, updated_at = now()
                """, logger: logger)
            if let before {
                report.itemsUpdated.append(item.slug)
                if item.matchesDifferently(from: before) { report.changedTargets.insert(.item(item.slug)) }
            } else {
                report.itemsCreated.append(item.slug)
                report.changedTargets.insert(.item(item.slug))
            }
        }
        return report
    }
}
