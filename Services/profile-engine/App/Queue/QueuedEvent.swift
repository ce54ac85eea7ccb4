import Foundation
import ProfileModel

/// One claimed queue row with its event (nil when the event's partition is already gone).
struct QueuedEvent: Sendable {
    let queueID: Int64
    let attempts: Int
    let shard: Int16
    let eventID: Int64
    let receivedAt: Date
    let siteID: Int64
    let event: StoredEvent?
}

/// The columns of `events` the engine reads.
struct StoredEvent: Sendable {
    let id: Int64
    let siteID: Int64
    let type: String
    let messageID: String
    let anonymousID: String?
    let userID: String?
    let name: String?
    let eventName: String?
    let previousID: String?
    let properties: [String: JSONValue]
    let traits: [String: JSONValue]
    let context: [String: JSONValue]
    let occurredAt: Date
    let isBot: Bool
    /// Identifier kinds the site vouched for (`events.verified_identifiers`); the others are claimed.
    var verifiedIdentifiers: Set<IdentityKind> = []

    /// The key that groups a visitor's device-level activity (sessions): the anonymous id, else the user id.
    var deviceKey: String? { anonymousID ?? userID }

    /// The key the collector shards the event by (`QueueShards.visitorKey`): all events with one
    /// visitor key are applied by one worker at a time, in order.
    var visitor: (source: QueueShards.VisitorKeySource, value: String)? {
        QueueShards.visitorKey(type: type, anonymousID: anonymousID, userID: userID, previousID: previousID)
    }
    var visitorKey: String? { visitor?.value }

    static func decodeObject(_ text: String?) -> [String: JSONValue] {
        guard let text, let value = try? JSONValue.parse(text) else { return [:] }
        return value.objectValue ?? [:]
    }
}
