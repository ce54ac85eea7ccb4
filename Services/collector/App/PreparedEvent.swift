import Foundation
import Shared

/// An event validated and privacy-filtered, ready to be written: the row of `events` plus its queue shard.
struct PreparedEvent: Sendable {
    var siteID: Int64
    var messageID: String
    var type: String
    var anonymousID: String?
    var userID: String?
    var event: String?
    var name: String?
    var previousID: String?
    var groupID: String?
    var properties: [String: JSONValue]
    var traits: [String: JSONValue]
    var context: [String: JSONValue]
    var integrations: [String: JSONValue]
    var occurredAt: Date
    var sentAt: Date?
    var receivedAt: Date
    var clientIP: String?
    var isBot: Bool
    var consent: JSONValue?

    /// An alias usually names the anonymous id it replaces, so it goes with that visitor's other events.
    var shard: Int16 {
        QueueShards.shard(siteID: siteID, visitor: anonymousID ?? (type == "alias" ? previousID : nil) ?? userID)
    }

    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// The first stored field with a U+0000 anywhere in it (Postgres text and jsonb refuse that character).
    func fieldContainingNUL() -> String? {
        let texts: [(String, String?)] = [("messageId", messageID), ("anonymousId", anonymousID), ("userId", userID),
                                          ("event", event), ("name", name), ("previousId", previousID), ("groupId", groupID)]
        for (field, text) in texts where text.map(Self.hasNUL) == true { return field }
        let objects: [(String, [String: JSONValue])] = [("properties", properties), ("traits", traits), ("context", context),
                                                        ("integrations", integrations)]
        for (field, object) in objects where Self.hasNUL(.object(object)) { return field }
        if let consent, Self.hasNUL(consent) { return "context.consent" }
        return nil
    }

    private static func hasNUL(_ text: String) -> Bool {
        text.utf8.contains(0)
    }

    private static func hasNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): return hasNUL(text)
        case .array(let values): return values.contains(where: hasNUL)
        case .object(let members): return members.contains { hasNUL($0.key) || hasNUL($0.value) }
        case .null, .bool, .number: return false
        }
    }

    /// The row as a JSON object whose keys are the columns read by `jsonb_to_recordset` in EventStore.
    func row(ordinal: Int) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "ord": .number(Double(ordinal)),
            "site_id": .number(Double(siteID)),
            "message_id": .string(messageID),
            "type": .string(type),
            "anonymous_id": text(anonymousID),
            "user_id": text(userID),
            "event": text(event),
            "name": text(name),
            "previous_id": text(previousID),
            "group_id": text(groupID),
            "properties": .object(properties),
            "traits": .object(traits),
            "context": .object(context),
            "integrations": .object(integrations),
            "occurred_at": .string(occurredAt.formatted(Self.timestampStyle)),
            "sent_at": text(sentAt?.formatted(Self.timestampStyle)),
            "received_at": .string(receivedAt.formatted(Self.timestampStyle)),
            "client_ip": text(clientIP),
            "is_bot": .bool(isBot),
            "consent": consent ?? .null,
            "shard": .number(Double(shard)),
        ])
    }
}
