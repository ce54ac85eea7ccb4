/// How a field resolves two values from different events (documented in config/profile_fields.yaml).
public enum ConflictRule: String, Sendable, CaseIterable, Codable {
    /// The value with the latest event time wins, whatever order the events arrive in.
    case lastWriteWins = "last_write_wins"
    /// The value with the earliest event time wins (`$set_once`-style), e.g. first touch campaign.
    case firstWriteWins = "first_write_wins"
    /// The value from the most trusted source wins (explicit > chat > inferred); ties by latest time.
    case sourcePriority = "source_priority"
}

/// Where a field value came from, in increasing order of trust for `source_priority`.
public enum FieldSource: String, Sendable, CaseIterable, Codable, Comparable {
    case inferred
    case chat
    case identify
    case api

    public var priority: Int {
        switch self {
        case .inferred: return 0
        case .chat: return 1
        case .identify, .api: return 2  // both are explicit: the visitor or the site said so
        }
    }

    public static func < (lhs: FieldSource, rhs: FieldSource) -> Bool { lhs.priority < rhs.priority }
}
