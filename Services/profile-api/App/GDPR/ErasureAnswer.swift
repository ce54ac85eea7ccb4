import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// The HTTP answer to an erasure or anonymisation request: the receipt once the engine has
/// carried it out (200), or the request to poll while it has not (202).
enum ErasureAnswer {
    static func response(_ outcome: PrivacyService.Outcome) throws -> Response {
        switch outcome {
        case .done(let receipt):
            return JSONResponse.make(receipt)
        case .profileNotFound:
            throw ProfilesController.notFound
        case .failed(let error):
            throw APIError(.internalServerError, code: "erasure_failed", detail: "the erasure request failed: \(error.prefix(200))")
        case .pending(let id):
            var response = JSONResponse.make(["request_id": .number(Double(id)), "status": "pending",
                                              "status_url": .string("/v1/gdpr/requests/\(id)")], status: .accepted)
            response.headers[.location] = "/v1/gdpr/requests/\(id)"
            return response
        }
    }
}
