import Foundation

/// A catalog URL pattern: a glob on the URL path where `*` stands for any characters, compared
/// case-insensitively. A pattern without `*` must match the whole path (a trailing `/` is ignored).
public struct URLPattern: Sendable, Hashable {
    public let source: String
    private let parts: [Substring]

    public init(_ source: String) {
        self.source = source
        self.parts = Self.normalize(source).split(separator: "*", omittingEmptySubsequences: false)
    }

    /// Characters before the first `*`: a longer literal prefix is a more specific pattern.
    public var specificity: Int { parts.first?.count ?? 0 }

    public func matches(path: String) -> Bool {
        let path = Self.normalize(path)
        guard parts.count > 1 else { return path == parts.first.map(String.init) }
        var rest = Substring(path)
        guard let first = parts.first, rest.hasPrefix(first) else { return false }
        rest = rest.dropFirst(first.count)
        for (index, part) in parts.enumerated().dropFirst() {
            if index == parts.count - 1 {
                return part.isEmpty || rest.hasSuffix(part)
            }
            guard !part.isEmpty else { continue }
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// Lowercased, without query or fragment, and without a trailing slash (except for "/").
    private static func normalize(_ path: String) -> String {
        var value = path.lowercased()
        if let cut = value.firstIndex(where: { $0 == "?" || $0 == "#" }) { value = String(value[..<cut]) }
        while value.count > 1, value.hasSuffix("/") { value.removeLast() }
        return value
    }
}
