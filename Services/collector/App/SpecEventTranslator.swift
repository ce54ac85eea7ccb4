import Crypto
import Foundation
import ProfileModel
import ServiceKit

/// Translates the spec's own endpoints (`/api/track/page-view`, `/interaction`, `/chat`) into
/// Segment-shaped events, so they share one validation and privacy path with `/v1/*`.
enum SpecEventTranslator {
    static let interactionKinds: Set<String> = ["scroll", "click", "dwell", "form", "custom"]
    static let chatRoles: Set<String> = ["user", "assistant", "system"]
    /// A conversation resent whole is deduplicated by message id; each new message may cost model calls.
    static let maxChatMessages = 100
    static let maxChatText = 16_000

    /// A body holding one event, or several under `events`.
    static func items(_ body: [String: JSONValue]) throws -> [JSONValue] {
        guard let events = body["events"] else { return [.object(body)] }
        guard let list = events.arrayValue else { throw APIError.badRequest("wrong_type", "'events' must be an array", field: "events") }
        return list
    }

    /// `{anonymousId, url, title, referrer, timestamp, messageId, properties}` → a Segment `page` call.
    static func pageView(_ item: JSONValue) -> Result<JSONValue, EventRejection> {
        guard var object = item.objectValue else { return .failure(.wrongType("event", expected: "a JSON object")) }
        guard let urlText = object["url"]?.stringValue else {
            return .failure(object["url"] == nil ? .missing("url") : .wrongType("url", expected: "a string"))
        }
        guard let url = URLComponents(string: urlText), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            return .failure(.invalid("url", "'url' must be an absolute http(s) URL"))
        }
        var properties = object["properties"]?.objectValue ?? [:]
        if object["properties"] != nil && object["properties"]?.objectValue == nil {
            return .failure(.wrongType("properties", expected: "a JSON object"))
        }
        properties["url"] = .string(urlText)
        properties["path"] = .string(url.path.isEmpty ? "/" : url.path)
        if let query = url.query { properties["search"] = .string("?" + query) }
        for key in ["title", "referrer"] {
            if let value = object[key] {
                guard value.stringValue != nil || value.isNull else { return .failure(.wrongType(key, expected: "a string")) }
                properties[key] = value
            }
        }
        object["name"] = object["title"]
        object["properties"] = .object(properties)
        var context = object["context"]?.objectValue ?? [:]
        if context["page"] == nil {
            context["page"] = .object(properties.filter { ["url", "path", "search", "title", "referrer"].contains($0.key) })
        }
        object["context"] = .object(context)
        object.removeValue(forKey: "url")
        object.removeValue(forKey: "title")
        object.removeValue(forKey: "referrer")
        return .success(.object(object))
    }

    /// `{anonymousId, kind: scroll|click|dwell|form|custom, …details}` → an `interaction` event whose
    /// `event` is the kind and whose properties hold the details.
    static func interaction(_ item: JSONValue) -> Result<JSONValue, EventRejection> {
        guard var object = item.objectValue else { return .failure(.wrongType("event", expected: "a JSON object")) }
        guard let kindValue = object["kind"] else { return .failure(.missing("kind")) }
        guard let kind = kindValue.stringValue else { return .failure(.wrongType("kind", expected: "a string")) }
        guard interactionKinds.contains(kind) else {
            return .failure(.invalid("kind", "'kind' must be one of: \(interactionKinds.sorted().joined(separator: ", "))"))
        }
        if object["properties"] != nil && object["properties"]?.objectValue == nil {
            return .failure(.wrongType("properties", expected: "a JSON object"))
        }
        var properties = object["properties"]?.objectValue ?? [:]
        let envelope: Set<String> = ["kind", "properties", "anonymousId", "userId", "messageId", "timestamp", "sentAt", "context", "integrations", "type", "event"]
        for (key, value) in object where !envelope.contains(key) {
            properties[key] = value
            object.removeValue(forKey: key)
        }
        switch kind {
        case "scroll":
            guard let depth = properties["depth"]?.doubleValue, (0...100).contains(depth) else {
                return .failure(.invalid("depth", "a scroll interaction needs 'depth' between 0 and 100 (percent)"))
            }
        case "dwell":
            guard let dwell = properties["dwellMs"]?.doubleValue, dwell >= 0, dwell < 86_400_000 else {
                return .failure(.invalid("dwellMs", "a dwell interaction needs 'dwellMs' between 0 and 86400000"))
            }
        case "custom":
            guard properties["name"]?.stringValue?.isEmpty == false else {
                return .failure(.missing("name", "a custom interaction needs a 'name'"))
            }
        default: break
        }
        object["event"] = .string(kind)
        object["properties"] = .object(properties)
        object.removeValue(forKey: "kind")
        return .success(.object(object))
    }

    /// `{conversationId, anonymousId|userId, messages: [{role, text, timestamp, id}]}` → one `chat`
    /// event per message. A message without an id gets one derived from its content, so a chat
    /// agent that resends a conversation does not store its messages twice.
    static func chat(_ body: [String: JSONValue]) throws -> [Result<JSONValue, EventRejection>] {
        guard let conversationValue = body["conversationId"] else { throw EventRejection.missing("conversationId").apiError }
        guard let conversationID = conversationValue.stringValue, !conversationID.isEmpty, conversationID.count <= 255 else {
            throw EventRejection.wrongType("conversationId", expected: "a non-empty string of at most 255 characters").apiError
        }
        guard let messagesValue = body["messages"] else { throw EventRejection.missing("messages").apiError }
        guard let messages = messagesValue.arrayValue else { throw EventRejection.wrongType("messages", expected: "an array").apiError }
        guard !messages.isEmpty else { throw APIError.badRequest("missing_field", "'messages' is empty", field: "messages") }
        guard messages.count <= maxChatMessages else {
            throw APIError(.contentTooLarge, code: "too_many_events", detail: "at most \(maxChatMessages) messages per request", field: "messages")
        }
        return messages.enumerated().map { index, message in
            guard let object = message.objectValue else { return .failure(.wrongType("messages[\(index)]", expected: "a JSON object")) }
            guard let role = object["role"]?.stringValue, chatRoles.contains(role) else {
                return .failure(.invalid("messages[\(index)].role", "'role' must be one of: assistant, system, user"))
            }
            guard let text = object["text"]?.stringValue, !text.isEmpty else {
                return .failure(.missing("messages[\(index)].text", "each message needs a non-empty 'text'"))
            }
            guard text.count <= maxChatText else {
                return .failure(.invalid("messages[\(index)].text", "a message text is limited to \(maxChatText) characters"))
            }
            var event: [String: JSONValue] = [
                "event": "message",
                "properties": ["conversation_id": .string(conversationID), "role": .string(role), "text": .string(text), "position": .number(Double(index))],
            ]
            for key in ["anonymousId", "userId", "context", "sentAt"] { event[key] = body[key] }
            event["timestamp"] = object["timestamp"]
            let timestamp = object["timestamp"]?.stringValue ?? ""
            event["messageId"] = object["id"] ?? .string(derivedID(conversationID, String(index), role, timestamp, text))
            return .success(.object(event))
        }
    }

    private static func derivedID(_ parts: String...) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{1f}").utf8))
        return "chat-" + digest.prefix(16).hexString
    }
}
