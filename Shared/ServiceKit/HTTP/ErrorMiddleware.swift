import Hummingbird
import Logging
import PostgresNIO

/// Turns every error into a JSON problem response, so no endpoint answers with an empty or HTML body,
/// and logs unexpected ones with the request id.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            do {
                return try await next(request, context)
            } catch let transaction as PostgresTransactionError {
                // An API error thrown inside a transaction arrives wrapped in the transaction's error.
                throw transaction.closureError ?? transaction
            }
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let apiError = APIError(
                error.status, code: Self.code(for: error.status),
                detail: error.body ?? Self.detail(for: error.status, request: request), headers: error.headers)
            return try apiError.response(from: request, context: context)
        } catch {
            context.logger.databaseFailure(.error, "unhandled error", error: error, metadata: [
                "path": "\(request.uri.path)", "request_id": "\(context.requestID)",
            ])
            let apiError: APIError
            switch DatabaseFailure(error) {
            case .unavailable, .timedOut:
                apiError = APIError.unavailable("the database is unavailable; retry later")
            case .invalidData:
                // Validation should have caught it; the database refusing a value is still the input's fault.
                apiError = APIError(.unprocessableContent, code: "invalid_data", detail: "a value in the request cannot be stored: \(describeDatabaseError(error))")
            default:
                apiError = APIError(.internalServerError, code: "internal_error", detail: "unexpected server error; quote the request id when reporting it")
            }
            return try apiError.response(from: request, context: context)
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: return "not_found"
        case .methodNotAllowed: return "method_not_allowed"
        case .contentTooLarge: return "payload_too_large"
        case .unsupportedMediaType: return "unsupported_media_type"
        case .badRequest: return "bad_request"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        default: return "http_\(status.code)"
        }
    }

    static func detail(for status: HTTPResponse.Status, request: Request) -> String {
        switch status {
        case .notFound: return "no route for \(request.method) \(request.uri.path)"
        case .contentTooLarge: return "the request body is larger than this endpoint accepts"
        default: return status.reasonPhrase
        }
    }
}
