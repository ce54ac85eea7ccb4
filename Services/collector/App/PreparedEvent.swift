import Foundation
import ProfileModel

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
    /// Identifier kinds the site vouched for (`IdentityProof`).
    var verifiedIdentifiers: [IdentityKind] = []
    /// Not a column: the event carried a user hash that did not verify (counted in the metrics).
    var userHashRefused = false

    var shard: Int16 {
        QueueShards.shard(siteID: siteID, visitor: QueueShards.visitorKey(
            type: type, anonymousID: anonymousID, userID: userID, previousID: previousID)?.value)
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

    private static func hasNUL(_ value: JSONValue) -> Bool { value.containsNUL }

    /// Appends the row as a JSON object, without building a dictionary first (the hot path): `ord`,
    /// the columns of `EventRow` in its order, then `shard` (PreparedEventRowTests holds it to that).
    func writeRow(ordinal: Int, to out: inout [UInt8]) {
        var first = true
        func key(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func text(_ name: StaticString, _ value: String?) {
            key(name)
            if let value { JSONValue.write(value, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        func object(_ name: StaticString, _ value: [String: JSONValue]) {
            key(name)
            JSONValue.object(value).write(to: &out)
        }
        key("ord"); out.append(contentsOf: String(ordinal).utf8)
        key("site_id"); out.append(contentsOf: String(siteID).utf8)
        text("message_id", messageID)
        text("type", type)
        text("anonymous_id", anonymousID)
        text("user_id", userID)
        text("event", event)
        text("name", name)
        text("previous_id", previousID)
        text("group_id", groupID)
        object("properties", properties)
        object("traits", traits)
        object("context", context)
        object("integrations", integrations)
        text("occurred_at", occurredAt.formatted(Self.timestampStyle))
        text("sent_at", sentAt?.formatted(Self.timestampStyle))
        text("received_at", receivedAt.formatted(Self.timestampStyle))
        text("client_ip", clientIP)
        key("is_bot"); out.append(contentsOf: (isBot ? "true" : "false").utf8)
        key("consent"); (consent ?? .null).write(to: &out)
        key("verified_identifiers"); JSONValue.array(verifiedIdentifiers.map { .string($0.rawValue) }).write(to: &out)
        key("shard"); out.append(contentsOf: String(shard).utf8)
        out.append(UInt8(ascii: "}"))
    }
}
