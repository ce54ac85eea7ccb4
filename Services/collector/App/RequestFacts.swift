import Foundation
import ProfileModel

/// What the collector knows about one HTTP request, shared by every event in it.
struct RequestFacts: Sendable {
    let site: Site
    /// The request came with the site's server key: its identifiers are verified, and it may set `context.ip`.
    let serverKey: Bool
    let receivedAt: Date
    let clientIP: [UInt8]?
    let userAgent: String?
    let doNotTrack: Bool
    let globalPrivacyControl: Bool
}

/// Values a Segment batch gives once for all of its events.
struct BatchDefaults: Sendable {
    var context: [String: JSONValue] = [:]
    var integrations: [String: JSONValue] = [:]
    var sentAt: Date?
}

