/// A row of a catalog file that was not imported, and why: enough for a person to fix the file.
public struct CatalogRejection: Sendable, Equatable, CustomStringConvertible {
    /// Where the row is: "items[3]", "categories[0]" or "line 7".
    public let row: String
    public let slug: String?
    public let field: String
    public let reason: String

    public init(row: String, slug: String?, field: String, reason: String) {
        self.row = row
        self.slug = slug
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(row)\(slug.map { " (\($0))" } ?? ""): \(field): \(reason)" }
}
