import Foundation

/// Reads one row of a catalog file (a JSON/YAML object or a CSV record) into a category or an
/// item, checking each field against what the database accepts.
struct CatalogRowReader {
    struct Failure: Error {
        let field: String
        let reason: String
    }

    /// The database's slug rule: `^[a-z0-9][a-z0-9_-]{0,127}$`.
    static func isSlug(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 128 else { return false }
        func plain(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return plain(first) && text.unicodeScalars.allSatisfy { plain($0) || $0 == "-" || $0 == "_" }
    }

    /// Three capital letters (ISO 4217).
    static func isCurrency(_ text: String) -> Bool {
        text.unicodeScalars.count == 3 && text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) }
    }
    static let categoryFields: Set<String> = ["type", "slug", "name", "description", "parent", "keywords", "url_patterns"]
    static let itemFields: Set<String> = ["type", "slug", "name", "kind", "category", "description", "keywords", "synonyms",
                                          "url_patterns", "sku", "price", "currency", "active"]

    let row: [String: Any]

    init(_ row: [String: Any]) {
        self.row = row
    }

    func category() throws -> CatalogCategory {
        try checkFields(Self.categoryFields)
        return CatalogCategory(slug: try slug(), name: try name(), description: try text("description", max: 5000),
                               parentSlug: try optionalSlug("parent"), keywords: try list("keywords"),
                               urlPatterns: try patterns())
    }

    func item() throws -> CatalogItem {
        try checkFields(Self.itemFields)
        let kindText = try text("kind", max: 20) ?? "product"
        guard let kind = CatalogItem.Kind(rawValue: kindText.lowercased()) else {
            throw Failure(field: "kind", reason: "must be product or service, got \"\(kindText)\"")
        }
        let currency = try text("currency", max: 3)
        if let currency, !Self.isCurrency(currency) {
            throw Failure(field: "currency", reason: "must be a three-letter ISO code like USD, got \"\(currency)\"")
        }
        return CatalogItem(slug: try slug(), sku: try text("sku", max: 100), kind: kind, name: try name(),
                           categorySlug: try optionalSlug("category"), description: try text("description", max: 5000),
                           keywords: try list("keywords"), synonyms: try list("synonyms"), urlPatterns: try patterns(),
                           price: try price(), currency: currency, active: try bool("active") ?? true)
    }

    private func checkFields(_ allowed: Set<String>) throws {
        if row["_not_an_object"] != nil { throw Failure(field: "row", reason: "must be an object") }
        if let unknown = row.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw Failure(field: unknown, reason: "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    private func slug() throws -> String {
        guard let slug = try optionalSlug("slug") else { throw Failure(field: "slug", reason: "is required") }
        return slug
    }

    private func optionalSlug(_ field: String) throws -> String? {
        guard let value = try text(field, max: 128) else { return nil }
        guard Self.isSlug(value) else {
            throw Failure(field: field, reason: "\"\(value)\" is not a slug (lowercase letters, digits, - and _; starting with a letter or digit)")
        }
        return value
    }

    private func name() throws -> String {
        guard let name = try text("name", max: 200) else { throw Failure(field: "name", reason: "is required") }
        return name
    }

    private func text(_ field: String, max: Int) throws -> String? {
        guard let value = row[field], !(value is NSNull) else { return nil }
        let text: String
        switch value {
        case let string as String: text = string.trimmingCharacters(in: .whitespacesAndNewlines)
        case let number as NSNumber: text = number.stringValue
        case let number as Int: text = String(number)
        case let number as Double: text = String(number)
        default: throw Failure(field: field, reason: "must be text")
        }
        guard !text.isEmpty else { return nil }
        guard text.count <= max else { throw Failure(field: field, reason: "is longer than \(max) characters") }
        return text
    }

    private func list(_ field: String) throws -> [String] {
        guard let value = row[field], !(value is NSNull) else { return [] }
        let values: [Any]
        if let array = value as? [Any] { values = array } else if let string = value as? String { values = string.split(separator: "|").map(String.init) } else {
            throw Failure(field: field, reason: "must be a list of text")
        }
        var result: [String] = []
        for element in values {
            guard let string = element as? String else { throw Failure(field: field, reason: "must be a list of text") }
            let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.count <= 200 else { throw Failure(field: field, reason: "\"\(trimmed.prefix(40))…\" is longer than 200 characters") }
            if !trimmed.isEmpty, !result.contains(trimmed) { result.append(trimmed) }
        }
        guard result.count <= 200 else { throw Failure(field: field, reason: "has more than 200 entries") }
        return result
    }

    private func patterns() throws -> [String] {
        let patterns = try list("url_patterns")
        if let bad = patterns.first(where: { !$0.hasPrefix("/") && !$0.hasPrefix("*") }) {
            throw Failure(field: "url_patterns", reason: "\"\(bad)\" must be a URL path starting with / (glob, * = any characters)")
        }
        return patterns
    }

    private func price() throws -> Double? {
        guard let value = row["price"], !(value is NSNull) else { return nil }
        let number: Double?
        switch value {
        case let string as String: number = string.isEmpty ? nil : Double(string)
        case let n as NSNumber: number = n.doubleValue
        case let n as Int: number = Double(n)
        case let n as Double: number = n
        default: number = nil
        }
        guard let number, number.isFinite, number >= 0, number < 1e12 else {
            throw Failure(field: "price", reason: "must be a non-negative number, got \"\(value)\"")
        }
        return number
    }

    private func bool(_ field: String) throws -> Bool? {
        guard let value = row[field], !(value is NSNull) else { return nil }
        switch value {
        case let flag as Bool: return flag
        case let string as String:
            switch string.lowercased() {
            case "true", "yes", "1": return true
            case "false", "no", "0": return false
            default: break
            }
        default: break
        }
        throw Failure(field: field, reason: "must be true or false")
    }
}
