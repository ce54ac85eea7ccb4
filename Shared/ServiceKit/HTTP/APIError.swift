import Foundation
import HTTPTypes
import Hummingbird
import ProfileModel

/// An error answered as RFC 9457 problem details: a stable `type`, the HTTP status, a readable
/// `detail`, the `field` at fault when there is one, and the request id for support. The same
/// code and detail are repeated as `code` and `message`, the members Segment's and RudderStack's
/// SDKs read from an error answer (without them RudderStack's SDK retries even a 4xx).
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public let status: HTTPResponse.Status
    /// Stable machine-readable code, e.g. `invalid_json`; the `type` URI is built from it.
    public let code: String
    public let detail: String
    public let field: String?
    public var headers: HTTPFields
    /// Extra members (e.g. the per-event results of a partially rejected batch).
    public var extra: [String: JSONValue]

    public init(_ status: HTTPResponse.Status, code: String, detail: String, field: String? = nil,
                headers: HTTPFields = [:], extra: [String: JSONValue] = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers
        self.extra = extra
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    public static func badRequest(_ code: String, _ detail: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: code, detail: detail, field: field)
    }

    public static func unavailable(_ detail: String, retryAfter: Int = 5) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(retryAfter)
        return APIError(.serviceUnavailable, code: "database_unavailable", detail: detail, headers: headers)
    }

    public func problem(requestID: String?) -> JSONValue {
        var body: [String: JSONValue] = extra
        body["type"] = .string("urn:profile-builder:error:\(code)")
        body["title"] = .string(status.reasonPhrase)
        body["status"] = .number(Double(status.code))
        body["detail"] = .string(detail)
        body["code"] = .string(code)
        body["message"] = .string(detail)
        if let field { body["field"] = .string(field) }
        if let requestID { body["request_id"] = .string(requestID) }
        return .object(body)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = (context as? ServiceRequestContext)?.requestID
        var response = JSONResponse.make(problem(requestID: requestID), status: status, contentType: "application/problem+json")
        response.headers.append(contentsOf: headers)
        return response
    }
}
