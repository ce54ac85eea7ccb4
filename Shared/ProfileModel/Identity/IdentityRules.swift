import Foundation

/// The guardrails of identity resolution (docs/IDENTITY.md): which identifier values never
/// identify anyone, how many identifiers of a kind one profile may hold, which kind wins when an
/// event names several profiles, how many profiles may merge into one, and whether a claimed
/// email may link anonymous profiles. `config/identity.yaml` holds the defaults of every site;
/// `sites.identity_rules` holds one site's overrides (`Override`, the same keys).
public struct IdentityRules: Sendable, Equatable {
    /// Values compared trimmed and lower-cased; an entry ending in `*` blocks every value it
    /// starts (`noreply@*`).
    public var blockedValues: [String]
    public var limits: [IdentityKind: Int]
    /// Earlier kinds win: the profile an event's highest-priority identifier names survives a merge.
    public var priority: [IdentityKind]
    public var maxMergedProfiles: Int
    public var linkClaimedEmails: Bool

    /// Keys as written in YAML and JSON (`blocked_values`, `limits`, …); every key is optional so
    /// that a site states only what it changes. A site's blocked values are added to the defaults.
    public struct Override: Codable, Sendable, Equatable {
        public var blockedValues: [String]?
        public var limits: [String: Int]?
        public var priority: [String]?
        public var maxMergedProfiles: Int?
        public var linkClaimedEmails: Bool?

        public init(blockedValues: [String]? = nil, limits: [String: Int]? = nil, priority: [String]? = nil,
                    maxMergedProfiles: Int? = nil, linkClaimedEmails: Bool? = nil) {
            self.blockedValues = blockedValues
            self.limits = limits
            self.priority = priority
            self.maxMergedProfiles = maxMergedProfiles
            self.linkClaimedEmails = linkClaimedEmails
        }

        enum CodingKeys: String, CodingKey {
            case blockedValues = "blocked_values", limits, priority
            case maxMergedProfiles = "max_merged_profiles", linkClaimedEmails = "link_claimed_emails"
        }

        /// The first problem of this override, phrased for the one who wrote it (nil: none).
        public func problem() -> (field: String, detail: String)? {
            if let values = blockedValues {
                if values.count > 1000 { return ("blocked_values", "at most 1000 blocked values") }
                if let long = values.first(where: { $0.count > 320 }) {
                    return ("blocked_values", "a blocked value is at most 320 characters ('\(long.prefix(40))…')")
                }
            }
            for (kind, limit) in limits ?? [:] {
                guard IdentityKind(rawValue: kind) != nil else {
                    return ("limits", "'\(kind.prefix(40))' is not an identifier kind (\(IdentityKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard (1...100_000).contains(limit) else { return ("limits.\(kind)", "a limit is between 1 and 100000") }
            }
            if let priority {
                let kinds = priority.compactMap(IdentityKind.init(rawValue:))
                guard kinds.count == priority.count, Set(kinds).count == IdentityKind.allCases.count, kinds.count == IdentityKind.allCases.count else {
                    return ("priority", "list every identifier kind once: \(IdentityKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            if let cap = maxMergedProfiles, !(1...1_000_000).contains(cap) {
                return ("max_merged_profiles", "between 1 and 1000000")
            }
            return nil
        }
    }

    /// The defaults: an override that must state every key.
    public init(defaults: Override) throws {
        if let problem = defaults.problem() { throw IdentityRulesError(field: problem.field, detail: problem.detail) }
        guard let blocked = defaults.blockedValues, let limits = defaults.limits, let priority = defaults.priority,
              let cap = defaults.maxMergedProfiles, let link = defaults.linkClaimedEmails else {
            throw IdentityRulesError(field: "", detail: "the defaults must state blocked_values, limits, priority, max_merged_profiles and link_claimed_emails")
        }
        guard Set(limits.keys) == Set(IdentityKind.allCases.map(\.rawValue)) else {
            throw IdentityRulesError(field: "limits", detail: "the defaults must give a limit for every identifier kind")
        }
        self.blockedValues = blocked.map(Self.normalized)
        self.limits = Dictionary(uniqueKeysWithValues: limits.map { (IdentityKind(rawValue: $0.key)!, $0.value) })
        self.priority = priority.map { IdentityKind(rawValue: $0)! }
        self.maxMergedProfiles = cap
        self.linkClaimedEmails = link
    }

    /// These rules with a site's override applied; an override with a problem is refused.
    public func applying(_ override: Override) throws -> IdentityRules {
        if let problem = override.problem() { throw IdentityRulesError(field: problem.field, detail: problem.detail) }
        var rules = self
        rules.blockedValues += (override.blockedValues ?? []).map(Self.normalized)
        for (kind, limit) in override.limits ?? [:] { rules.limits[IdentityKind(rawValue: kind)!] = limit }
        if let priority = override.priority { rules.priority = priority.map { IdentityKind(rawValue: $0)! } }
        rules.maxMergedProfiles = override.maxMergedProfiles ?? rules.maxMergedProfiles
        rules.linkClaimedEmails = override.linkClaimedEmails ?? rules.linkClaimedEmails
        return rules
    }

    public func isBlocked(_ value: String) -> Bool {
        let text = Self.normalized(value)
        return blockedValues.contains { entry in
            entry.hasSuffix("*") ? text.hasPrefix(entry.dropLast()) : text == entry
        }
    }

    public func limit(_ kind: IdentityKind) -> Int { limits[kind] ?? Int.max }

    /// 0 for the kind that wins first.
    public func rank(_ kind: IdentityKind) -> Int { priority.firstIndex(of: kind) ?? priority.count }

    static func normalized(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}

public struct IdentityRulesError: Error, CustomStringConvertible, Sendable {
    public let field: String
    public let detail: String
    public var description: String { field.isEmpty ? detail : "\(field): \(detail)" }
}
