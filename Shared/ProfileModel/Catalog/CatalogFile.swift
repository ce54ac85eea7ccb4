import Foundation

/// A catalog file (JSON, YAML or CSV) parsed and validated row by row: the valid categories and
/// items, and a rejection for every row that is not. One bad row never stops the others.
public struct CatalogFile: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case json, yaml, csv

        /// The format named by a file's extension.
        public init?(path: String) {
            switch (path as NSString).pathExtension.lowercased() {
            case "json": self = .json
            case "yaml", "yml": self = .yaml
            case "csv": self = .csv
            default: return nil
            }
        }
    }

    public enum ParseError: Error, CustomStringConvertible {
        case unreadable(String)

        public var description: String {
            switch self {
            case .unreadable(let reason): return "the catalog file cannot be read: \(reason)"
            }
        }
    }

    public private(set) var categories: [CatalogCategory] = []
    public private(set) var items: [CatalogItem] = []
    public private(set) var rejections: [CatalogRejection] = []

    /// Parses `text`. `knownCategories` are the slugs already stored for the site, which items
    /// and categories in the file may refer to.
    public init(text: String, format: Format, knownCategories: Set<String> = []) throws {
        let (categoryRows, itemRows) = try Self.rows(text, format: format)
        var seen = Set<String>()
        for (label, row) in categoryRows {
            do {
                let category = try CatalogRowReader(row).category()
                guard seen.insert(category.slug).inserted else { throw CatalogRowReader.Failure(field: "slug", reason: "duplicate slug in the file") }
                categories.append(category)
            } catch let failure as CatalogRowReader.Failure {
                rejections.append(CatalogRejection(row: label, slug: row["slug"] as? String, field: failure.field, reason: failure.reason))
            }
        }
        let categorySlugs = knownCategories.union(categories.map(\.slug))
        // A parent must exist; a category naming a missing parent is refused, not silently re-rooted.
        categories = categories.filter { category in
            guard let parent = category.parentSlug, !categorySlugs.contains(parent) || parent == category.slug else { return true }
            let label = categoryRows.first { $0.1["slug"] as? String == category.slug }?.0 ?? "categories"
            rejections.append(CatalogRejection(row: label, slug: category.slug, field: "parent",
                                               reason: parent == category.slug ? "a category cannot be its own parent" : "unknown category \"\(parent)\""))
            return false
        }
        seen = []
        var skus = Set<String>()
        for (label, row) in itemRows {
            do {
                let item = try CatalogRowReader(row).item()
                guard seen.insert(item.slug).inserted else { throw CatalogRowReader.Failure(field: "slug", reason: "duplicate slug in the file") }
                if let category = item.categorySlug, !categorySlugs.contains(category) {
                    throw CatalogRowReader.Failure(field: "category", reason: "unknown category \"\(category)\"")
                }
                if let sku = item.sku, !skus.insert(sku).inserted { throw CatalogRowReader.Failure(field: "sku", reason: "duplicate sku \"\(sku)\" in the file") }
                items.append(item)
            } catch let failure as CatalogRowReader.Failure {
                rejections.append(CatalogRejection(row: label, slug: row["slug"] as? String, field: failure.field, reason: failure.reason))
            }
        }
    }

    /// Reads and parses a file, taking the format from its extension.
    public init(path: String, knownCategories: Set<String> = []) throws {
        guard let format = Format(path: path) else { throw ParseError.unreadable("\(path): use a .json, .yaml, .yml or .csv file") }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw ParseError.unreadable("\(path): \(error.localizedDescription)") }
        try self.init(text: text, format: format, knownCategories: knownCategories)
    }

    /// The catalog the file describes (without database ids).
    public var catalog: Catalog { Catalog(categories: categories, items: items) }

    // MARK: - Rows

    typealias Row = [String: Any]

    private static func rows(_ text: String, format: Format) throws -> ([(String, Row)], [(String, Row)]) {
        switch format {
        case .csv:
            return try csvRows(text)
        case .json, .yaml:
            let root: Any?
            do {
                if format == .json {
                    root = try JSONSerialization.jsonObject(with: Data(text.utf8))
                } else {
                    root = try UntrustedYAML.load(text)
                }
            } catch let refusal as UntrustedYAML.Refusal {
                throw ParseError.unreadable(refusal.description)
            } catch {
                throw ParseError.unreadable("not valid \(format.rawValue.uppercased()): \(error)")
            }
            guard let object = root as? [String: Any] else { throw ParseError.unreadable("the top level must be an object with categories and items") }
            func section(_ name: String) throws -> [(String, Row)] {
                guard let value = object[name] else { return [] }
                guard let list = value as? [Any] else { throw ParseError.unreadable("\"\(name)\" must be a list") }
                return list.enumerated().map { ("\(name)[\($0.offset)]", ($0.element as? Row) ?? ["_not_an_object": true]) }
            }
            return (try section("categories"), try section("items"))
        }
    }

    /// CSV with a header row; a `type` column says `category` or `item` (default item). List
    /// columns separate values with `|`.
    private static func csvRows(_ text: String) throws -> ([(String, Row)], [(String, Row)]) {
        let records = CSVReader.records(text)
        guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }), header.contains("slug") else {
            throw ParseError.unreadable("the CSV needs a header row with at least slug and name")
        }
        var categories: [(String, Row)] = []
        var items: [(String, Row)] = []
        for record in records.dropFirst() where !record.fields.allSatisfy({ $0.isEmpty }) {
            var row: Row = [:]
            for (index, name) in header.enumerated() where index < record.fields.count {
                let value = record.fields[index].trimmingCharacters(in: .whitespaces)
                guard !value.isEmpty else { continue }
                row[name] = ["keywords", "synonyms", "url_patterns"].contains(name)
                    ? value.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } : value
            }
            let label = "line \(record.line)"
            if (row["type"] as? String)?.lowercased() == "category" { categories.append((label, row)) } else { items.append((label, row)) }
        }
        return (categories, items)
    }
}
