@testable import CatalogStore
import Foundation
import PostgresNIO
@testable import ProfileAPIApp
@testable import ProfileModel
import Testing

/// Catalog files: validation with a report of rejected rows, upsert by slug, dry runs.
@Suite struct CatalogImportTests {
    static let demoPath = RepositoryPaths.root.appendingPathComponent("config/demo-catalog.yaml").path

    static func importer() -> CatalogImporter { CatalogImporter(logger: TestDatabase.logger) }

    static func importDemo(_ db: TestDatabase, site: String = "acme") async throws -> CatalogImporter.Result {
        try await importer().importCatalog(text: String(contentsOfFile: demoPath, encoding: .utf8), format: .yaml, siteSlug: site,
                                           dryRun: false, client: db.client)
    }

    @Test func the_demo_catalog_is_valid() throws {
        let file = try CatalogFile(path: Self.demoPath)
        #expect(file.rejections.isEmpty, "\(file.rejections)")
        #expect(file.categories.count == 8)
        #expect(file.items.count >= 30)
        #expect(file.items.allSatisfy { !$0.keywords.isEmpty && !$0.urlPatterns.isEmpty && $0.description != nil })
    }

    @Test func catalog_import_reports_rejected_rows() throws {
        let csv = """
        type,slug,name,kind,category,parent,keywords,url_patterns,price,currency
        category,tools,Tools,,,,tools|utilities,/tools*,,
        category,orphans,Orphans,,,nowhere,,,,
        item,hammer,Hammer,product,tools,,"hammer|nail gun, pro",/tools/hammer*,19.99,USD
        item,Bad Slug,Bad,product,tools,,,,,
        item,saw,Saw,gadget,tools,,,,,
        item,drill,Drill,product,missing,,,,,
        item,level,Level,product,tools,,,/tools/level*,-3,USD
        item,tape,Tape,product,tools,,,tools/tape,,
        item,hammer,Hammer again,product,tools,,,,,
        item,glue,Glue,service,,,,,5,usd
        item,,No slug,product,,,,,,
        """
        let file = try CatalogFile(text: csv, format: .csv)
        #expect(file.categories.map(\.slug) == ["tools"])
        #expect(file.items.map(\.slug) == ["hammer"])
        #expect(file.items.first?.keywords == ["hammer", "nail gun, pro"])
        #expect(file.items.first?.price == 19.99)
        let reasons = Dictionary(file.rejections.map { ($0.row, "\($0.field): \($0.reason)") }, uniquingKeysWith: { a, _ in a })
        #expect(reasons["line 3"]?.hasPrefix("parent: unknown category") == true)
        #expect(reasons["line 5"]?.hasPrefix("slug:") == true)
        #expect(reasons["line 6"]?.hasPrefix("kind:") == true)
        #expect(reasons["line 7"]?.hasPrefix("category: unknown category") == true)
        #expect(reasons["line 8"]?.hasPrefix("price:") == true)
        #expect(reasons["line 9"]?.hasPrefix("url_patterns:") == true)
        #expect(reasons["line 10"] == "slug: duplicate slug in the file")
        #expect(reasons["line 11"]?.hasPrefix("currency:") == true)
        #expect(reasons["line 12"] == "slug: is required")
        #expect(file.rejections.count == 9)

        let json = #"{"items": [{"slug": "x", "name": "X", "colour": "red"}, "not an object", {"slug": "y", "name": "Y", "keywords": [1]}]}"#
        let fromJSON = try CatalogFile(text: json, format: .json)
        #expect(fromJSON.items.isEmpty)
        #expect(fromJSON.rejections.map(\.row) == ["items[0]", "items[1]", "items[2]"])
        #expect(fromJSON.rejections.first?.field == "colour")
        #expect(throws: CatalogFile.ParseError.self) { try CatalogFile(text: "items: [", format: .yaml) }
        #expect(throws: CatalogFile.ParseError.self) { try CatalogFile(text: "[1, 2]", format: .json) }
    }

    @Test func test_catalog_integration() async throws {
        try await TestDatabase.with { db in
            try await CollectorHarness(db: db).site("acme", writeKey: "wk")
            // A dry run reports and changes nothing.
            let dry = try await Self.importer().importCatalog(text: String(contentsOfFile: Self.demoPath, encoding: .utf8), format: .yaml,
                                                               siteSlug: "acme", dryRun: true, client: db.client)
            #expect(dry.dryRun && dry.report.itemsCreated.count >= 30)
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self) == 0)

            let first = try await Self.importDemo(db)
            #expect(first.report.categoriesCreated.count == 8 && first.report.rejections.isEmpty)
            let items = try #require(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self))
            #expect(items == first.report.itemsCreated.count)
            #expect(try await db.scalar("SELECT c.slug FROM catalog_items i JOIN catalog_categories c ON c.id = i.category_id WHERE i.slug = 'sso'",
                                        as: String.self) == "security")
            // Upsert by slug: the same file again changes nothing; an edited row updates in place.
            let again = try await Self.importDemo(db)
            #expect(again.report.itemsCreated.isEmpty && again.report.itemsUpdated.isEmpty && again.report.changedTargets.isEmpty)
            let edit = #"{"items": [{"slug": "sso", "name": "Single Sign-On", "category": "security", "keywords": ["saml", "sso"], "price": 5, "currency": "EUR"}]}"#
            let updated = try await Self.importer().importCatalog(text: edit, format: .json, siteSlug: "acme", dryRun: false, client: db.client)
            #expect(updated.report.itemsUpdated == ["sso"] && updated.report.changedTargets == [.item("sso")])
            #expect(try await db.scalar("SELECT currency FROM catalog_items WHERE slug = 'sso'", as: String.self) == "EUR")
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self) == items)
            // The repository reads back what was written.
            let catalog = try await db.client.withConnection { try await CatalogStore(logger: TestDatabase.logger).load(siteID: 1, on: $0) }
            #expect(catalog.item("sso")?.keywords == ["saml", "sso"])
            await #expect(throws: CatalogImporter.Failure.self) {
                try await Self.importer().importCatalog(text: edit, format: .json, siteSlug: "nope", dryRun: false, client: db.client)
            }
        }
    }
}
