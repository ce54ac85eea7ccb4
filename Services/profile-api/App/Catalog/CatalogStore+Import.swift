import CatalogStore
import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// The writes of the catalog tables, which only the profile API makes. Imports upsert by slug, so
/// running the same file twice changes nothing.
extension CatalogStore {
    /// What an import did (or, in a dry run, would do).
    struct ImportReport: Sendable {
        var categoriesCreated: [String] = []
        var categoriesUpdated: [String] = []
        var itemsCreated: [String] = []
        var itemsUpdated: [String] = []
        var unchanged = 0
        var rejections: [CatalogRejection] = []
        /// Targets whose matching changed: their evidence must be re-mapped.
        var changedTargets: Set<InterestTarget> = []
    }

    /// Upserts the file's categories and items into the site's catalog inside `tx`. Rows the
    /// database refuses (e.g. an SKU another item already has) are reported, not fatal.
    func importFile(_ file: CatalogFile, siteID: Int64, on tx: PostgresConnection) async throws -> ImportReport {
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

    /// Asks the engine to re-map the evidence of `changed` targets (named command
    /// `request_catalog_remap`); nil when nothing changed.
    func requestRemap(siteID: Int64, changed: Set<InterestTarget>, on tx: PostgresConnection) async throws -> Int64? {
        guard !changed.isEmpty else { return nil }
        let targets = changed.map(\.commandText).sorted()
        let rows = try await tx.query(
            "INSERT INTO catalog_remaps (site_id, targets) VALUES (\(siteID), \(targets)) RETURNING id", logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        return nil
    }
}
