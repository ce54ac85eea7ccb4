import Foundation

/// A catalog item or category a message refers to.
public enum InterestTarget: Sendable, Hashable, Codable {
    case item(String)
    case category(String)

    public var slug: String {
        switch self {
        case .item(let slug), .category(let slug): return slug
        }
    }

    /// The target as `catalog_remaps.targets` stores it: `item:<slug>` or `category:<slug>`.
    public var commandText: String {
        switch self {
        case .item(let slug): return "item:" + slug
        case .category(let slug): return "category:" + slug
        }
    }

    /// The inverse of `commandText`; nil for any other text.
    public init?(commandText: String) {
        if commandText.hasPrefix("item:") {
            self = .item(String(commandText.dropFirst(5)))
        } else if commandText.hasPrefix("category:") {
            self = .category(String(commandText.dropFirst(9)))
        } else {
            return nil
        }
    }
}
