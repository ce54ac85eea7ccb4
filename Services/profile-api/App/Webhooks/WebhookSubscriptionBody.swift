import Foundation
import ProfileModel
import ServiceKit

/// The members of a webhook subscription body, validated the same way when a subscription is
/// created (POST) and changed (PATCH). Each accessor returns nil when the member is absent.
struct WebhookSubscriptionBody {
    static let members: Set<String> = ["name", "site", "url", "secret", "rotate_secret", "event_kinds", "filter", "active"]
    let body: [String: JSONValue]

    init(_ body: [String: JSONValue]) throws {
        for name in body.keys where !Self.members.contains(name) {
            throw Self.invalid(String(name.prefix(60)), "unknown member; a subscription has \(Self.members.sorted().joined(separator: ", "))")
        }
        self.body = body
    }

    static func invalid(_ field: String, _ detail: String) -> APIError {
        APIError(.unprocessableContent, code: "invalid_value", detail: detail, field: field)
    }

    /// A text member that may be null (returned as `.some(nil)`: "clear it").
    func nullableText(_ name: String, max: Int) throws -> String?? {
        guard let value = body[name] else { return nil }
        if value.isNull { return .some(nil) }
        guard let text = value.stringValue, (1...max).contains(text.count) else {
            throw Self.invalid(name, "'\(name)' must be a string of 1-\(max) characters, or null")
        }
        return .some(text)
    }

    /// The URL's form only; where it points is checked by `OutboundPolicy.validate`.
    func url() throws -> String? {
        guard let value = body["url"] else { return nil }
        guard let url = value.stringValue, url.count <= 2000, let parsed = URL(string: url),
              ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
            throw Self.invalid("url", "'url' must be an http(s) URL of at most 2000 characters")
        }
        return url
    }

    func eventKinds() throws -> [String]? {
        guard let value = body["event_kinds"] else { return nil }
        if value.isNull { return [] }
        guard let items = value.arrayValue else { throw Self.invalid("event_kinds", "'event_kinds' must be an array") }
        var kinds: [String] = []
        for (index, item) in items.enumerated() {
            guard let kind = item.stringValue, WebhooksController.eventKinds.contains(kind) else {
                throw Self.invalid("event_kinds[\(index)]", "event kinds are \(WebhooksController.eventKinds.joined(separator: ", "))")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds
    }

    /// Checked here (and again by the table's CHECK) because the outbox trigger evaluates the
    /// filter inside every profile change's transaction.
    func filter() throws -> JSONValue? {
        guard let value = body["filter"] else { return nil }
        let filter = value.isNull ? [:] : value
        guard let members = filter.objectValue else { throw Self.invalid("filter", "'filter' must be an object") }
        for (name, value) in members {
            switch name {
            case "stage", "changed_fields":
                guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                    throw Self.invalid("filter.\(name)", "'filter.\(name)' must be an array of strings")
                }
            case "fields":
                guard value.objectValue != nil else { throw Self.invalid("filter.fields", "'filter.fields' must be an object of field values") }
            case "min_lead_score":
                guard value.doubleValue != nil else { throw Self.invalid("filter.min_lead_score", "'filter.min_lead_score' must be a number") }
            default:
                throw Self.invalid("filter.\(name.prefix(60))", "filters are stage, fields, min_lead_score and changed_fields")
            }
        }
        return filter
    }

    /// A secret given by the caller, or a generated one when `rotate_secret` is true.
    func secret() throws -> String? {
        if let rotate = body["rotate_secret"], !rotate.isNull {
            guard rotate.boolValue != nil else { throw Self.invalid("rotate_secret", "'rotate_secret' must be a boolean") }
            if rotate.boolValue == true {
                guard body["secret"] == nil else { throw Self.invalid("rotate_secret", "give either 'secret' or 'rotate_secret', not both") }
                return Self.generatedSecret()
            }
        }
        guard let value = body["secret"] else { return nil }
        guard let secret = value.stringValue, (16...200).contains(secret.count) else {
            throw Self.invalid("secret", "'secret' must be a string of 16-200 characters")
        }
        return secret
    }

    func active() throws -> Bool? {
        guard let value = body["active"] else { return nil }
        guard let active = value.boolValue else { throw Self.invalid("active", "'active' must be a boolean (false pauses the subscription)") }
        return active
    }

    static func generatedSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return "whsec_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
