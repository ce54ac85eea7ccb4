import HTTPTypes
import ProfileModel
import ServiceKit

/// Why one event was refused, answered per event in batches and as the whole response otherwise.
struct EventRejection: Error, Sendable, Equatable {
    let status: HTTPResponse.Status
    let code: String
    let field: String?
    let detail: String

    static func missing(_ field: String, _ detail: String? = nil) -> EventRejection {
        EventRejection(status: .badRequest, code: "missing_field", field: field, detail: detail ?? "'\(field)' is required")
    }

    static func wrongType(_ field: String, expected: String) -> EventRejection {
        EventRejection(status: .badRequest, code: "wrong_type", field: field, detail: "'\(field)' must be \(expected)")
    }

    static func invalid(_ field: String, _ detail: String) -> EventRejection {
        EventRejection(status: .unprocessableContent, code: "invalid_value", field: field, detail: detail)
    }

    var apiError: APIError {
        APIError(status, code: code, detail: detail, field: field)
    }

    func json(index: Int, messageID: String?) -> JSONValue {
        var object: [String: JSONValue] = ["index": .number(Double(index)), "code": .string(code), "detail": .string(detail)]
        if let field { object["field"] = .string(field) }
        if let messageID { object["messageId"] = .string(messageID) }
        return .object(object)
    }
}

/// Why an accepted event was not stored: the site's privacy settings or the visitor's choice.
enum DropReason: String, Sendable, CaseIterable {
    case doNotTrack = "do_not_track"
    case globalPrivacyControl = "global_privacy_control"
    case noConsent = "no_consent"
    case bot
    case optedOut = "opted_out"
    case erased
}
