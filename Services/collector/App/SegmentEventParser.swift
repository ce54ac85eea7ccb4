import Foundation
import ProfileModel
import ServiceKit

/// The outcome for one event of a request.
enum ParsedEvent: Sendable {
    case accepted(PreparedEvent)
    case dropped(DropReason, messageID: String)
    case rejected(EventRejection, messageID: String?)
}

/// Validates one Segment-shaped event object and applies the site's privacy rules to it.
/// The spec's own endpoints translate their bodies into this shape first, so every event goes
/// through the same checks.
struct SegmentEventParser: Sendable {
    let facts: RequestFacts

    static let segmentTypes: Set<String> = ["track", "page", "screen", "identify", "alias", "group"]
    static let maxIDLength = 255
    static let maxNameLength = 256
    /// Crawlers that announce themselves; browsers driven by tests (HeadlessChrome) are not bots.
    static let botPattern = try! NSRegularExpression(
        pattern: "(bot\\b|bot/|crawler|spider|slurp|facebookexternalhit|bingpreview|headlesschrome-bot)", options: [.caseInsensitive])

    func parse(_ value: JSONValue, forcedType: String? = nil, defaults: BatchDefaults = BatchDefaults()) -> ParsedEvent {
        guard let object = value.objectValue else {
            return .rejected(EventRejection(status: .badRequest, code: "wrong_type", field: nil, detail: "each event must be a JSON object"), messageID: nil)
        }
        let messageID: String
        switch optionalString(object, "messageId", max: Self.maxIDLength) {
        case .failure(let rejection): return .rejected(rejection, messageID: nil)
        case .success(let id): messageID = id ?? UUID().uuidString.lowercased()
        }
        do {
            let event = try prepare(object, messageID: messageID, forcedType: forcedType, defaults: defaults)
            // Postgres text and jsonb cannot hold U+0000: refuse this event alone, or its whole
            // micro-batch (other clients' requests included) would fail to commit.
            if let field = event.fieldContainingNUL() {
                return .rejected(EventRejection(status: .badRequest, code: "invalid_character", field: field,
                                                detail: "'\(field)' contains the character U+0000 (NUL), which cannot be stored"),
                                 messageID: messageID)
            }
            if let reason = dropReason(for: event) { return .dropped(reason, messageID: messageID) }
            return .accepted(applyPrivacy(event))
        } catch let rejection as EventRejection {
            return .rejected(rejection, messageID: messageID)
        } catch {
            return .rejected(.invalid("event", "\(error)"), messageID: messageID)
        }
    }

    private func prepare(_ object: [String: JSONValue], messageID: String, forcedType: String?, defaults: BatchDefaults) throws -> PreparedEvent {
        let type: String
        if let forcedType {
            type = forcedType
        } else {
            guard let given = object["type"] else { throw EventRejection.missing("type") }
            guard let text = given.stringValue else { throw EventRejection.wrongType("type", expected: "a string") }
            guard Self.segmentTypes.contains(text) else {
                throw EventRejection.invalid("type", "'\(text.prefix(40))' is not one of: \(Self.segmentTypes.sorted().joined(separator: ", "))")
            }
            type = text
        }
        let anonymousID = try identifier(object, "anonymousId")
        let userID = try identifier(object, "userId")
        guard anonymousID != nil || userID != nil else {
            throw EventRejection.missing("anonymousId", "either 'anonymousId' or 'userId' is required")
        }
        let event = try optionalString(object, "event", max: Self.maxNameLength).get()
        let name = try optionalString(object, "name", max: Self.maxNameLength).get()
        let previousID = try identifier(object, "previousId")
        let groupID = try identifier(object, "groupId")
        switch type {
        case "track", "interaction":
            guard let event, !event.isEmpty else { throw EventRejection.missing("event", "a \(type) call needs a non-empty 'event' name") }
        case "alias":
            guard previousID != nil else { throw EventRejection.missing("previousId", "an alias call needs 'previousId'") }
            guard userID != nil else { throw EventRejection.missing("userId", "an alias call needs 'userId'") }
        case "group":
            guard groupID != nil else { throw EventRejection.missing("groupId", "a group call needs 'groupId'") }
        default: break
        }
        var context = defaults.context.merging(try objectField(object, "context")) { _, event in event }
        let integrations = defaults.integrations.merging(try objectField(object, "integrations")) { _, event in event }
        let sentAt = try timestamp(object, "sentAt") ?? defaults.sentAt
        let clientTime = try timestamp(object, "timestamp") ?? timestamp(object, "originalTimestamp")
        let occurredAt = try correctedTime(clientTime, sentAt: sentAt)

        // The raw IP never reaches the database: it is replaced by the truncated address column.
        // Only the site's servers may say whose address it was; a browser's claim is ignored.
        let contextIP = context.removeValue(forKey: "ip")?.stringValue.flatMap(IPNetwork.parse).flatMap { facts.serverKey ? $0 : nil }
        if context["userAgent"] == nil, let agent = facts.userAgent { context["userAgent"] = .string(agent) }
        let consent = context["consent"].flatMap { $0.objectValue != nil ? $0 : nil }
        // RudderStack's SDKs send identify traits in context.traits, not at the top level.
        var traits = try objectField(object, "traits")
        if type == "identify", traits.isEmpty, let contextTraits = context["traits"]?.objectValue {
            traits = contextTraits
        }
        let userAgent = context["userAgent"]?.stringValue ?? ""
        let isBot = Self.botPattern.firstMatch(in: userAgent, range: NSRange(userAgent.startIndex..., in: userAgent)) != nil
        let userHash = try optionalString(object, IdentityProof.field, max: 128).get()
        let email = type == "identify" ? traits["email"]?.stringValue?.trimmingCharacters(in: .whitespaces) : nil
        let proof = IdentityProof.outcome(serverKey: facts.serverKey, identitySecret: facts.site.identitySecret, userHash: userHash,
                                          anonymousID: anonymousID, userID: userID, email: email)

        var prepared = PreparedEvent(
            siteID: facts.site.id, messageID: messageID, type: type, anonymousID: anonymousID, userID: userID,
            event: event, name: name, previousID: previousID, groupID: groupID,
            properties: try objectField(object, "properties"), traits: traits,
            context: context, integrations: integrations, occurredAt: occurredAt, sentAt: sentAt,
            receivedAt: facts.receivedAt,
            clientIP: (contextIP ?? facts.clientIP).map(IPNetwork.truncated),
            isBot: isBot, consent: consent)
        switch proof {
        case .claimed: break
        case .verified(let kinds): prepared.verifiedIdentifiers = kinds
        case .forged: prepared.userHashRefused = true
        }
        return prepared
    }

    private func dropReason(for event: PreparedEvent) -> DropReason? {
        let site = facts.site
        if site.honorDNT && facts.doNotTrack { return .doNotTrack }
        if site.honorGPC && facts.globalPrivacyControl { return .globalPrivacyControl }
        if site.consentMode == .require && !hasAnalyticsConsent(event) { return .noConsent }
        if site.botPolicy == .drop && event.isBot { return .bot }
        return nil
    }

    /// Site settings that keep the event but remove what identifies the visitor.
    private func applyPrivacy(_ event: PreparedEvent) -> PreparedEvent {
        var event = event
        if facts.site.ipStorage == .none { event.clientIP = nil }
        if facts.site.consentMode == .strip && !hasAnalyticsConsent(event) {
            event.anonymousID = nil
            event.userID = nil
            event.previousID = nil
            event.verifiedIdentifiers = []
            event.traits = [:]
            event.clientIP = nil
            event.context.removeValue(forKey: "traits")
            event.context.removeValue(forKey: "userAgent")
        }
        return event
    }

    private func hasAnalyticsConsent(_ event: PreparedEvent) -> Bool {
        event.consent?["analytics"]?.boolValue == true
    }

    /// Segment's clock-skew correction: the client's clock is off by (sentAt − receivedAt), so the
    /// event time is timestamp + (receivedAt − sentAt). Future times are clamped to receivedAt.
    private func correctedTime(_ clientTime: Date?, sentAt: Date?) throws -> Date {
        guard var time = clientTime else { return facts.receivedAt }
        if let sentAt { time += facts.receivedAt.timeIntervalSince(sentAt) }
        if time > facts.receivedAt { time = facts.receivedAt }
        guard time > Date(timeIntervalSince1970: 946_684_800) else {  // 2000-01-01
            throw EventRejection.invalid("timestamp", "timestamp is before the year 2000")
        }
        return time
    }

    // MARK: field readers

    private func optionalString(_ object: [String: JSONValue], _ field: String, max: Int) -> Result<String?, EventRejection> {
        switch object[field] {
        case nil, .null?: return .success(nil)
        case .string(let text)?:
            guard text.count <= max else { return .failure(.invalid(field, "'\(field)' is longer than \(max) characters")) }
            return .success(text)
        default: return .failure(.wrongType(field, expected: "a string"))
        }
    }

    /// Ids may be strings or whole numbers (some SDKs send numeric user ids); empty means absent.
    private func identifier(_ object: [String: JSONValue], _ field: String) throws -> String? {
        switch object[field] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard text.count <= Self.maxIDLength else { throw EventRejection.invalid(field, "'\(field)' is longer than \(Self.maxIDLength) characters") }
            return text.isEmpty ? nil : text
        case .number(let number)? where number == number.rounded() && abs(number) < 1e15:
            return String(Int64(number))
        default: throw EventRejection.wrongType(field, expected: "a string")
        }
    }

    private func objectField(_ object: [String: JSONValue], _ field: String) throws -> [String: JSONValue] {
        switch object[field] {
        case nil, .null?: return [:]
        case .object(let value)?: return value
        default: throw EventRejection.wrongType(field, expected: "a JSON object")
        }
    }

    private func timestamp(_ object: [String: JSONValue], _ field: String) throws -> Date? {
        switch object[field] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard let date = Self.parseTimestamp(text) else {
                throw EventRejection.invalid(field, "'\(text.prefix(40))' is not an ISO-8601 timestamp")
            }
            return date
        default: throw EventRejection.wrongType(field, expected: "an ISO-8601 string")
        }
    }

    static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
