/// What an API key may do. A key carries a set of scopes; `admin` implies every other.
public enum APIScope: String, Sendable, CaseIterable, Codable {
    case profilesRead = "profiles:read"
    case profilesWrite = "profiles:write"
    case profilesExport = "profiles:export"
    case gdpr
    case admin
    case webhooks
    case catalog
    case reports
}
