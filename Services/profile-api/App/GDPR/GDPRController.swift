import Foundation
import Hummingbird
import ServiceKit

/// `/v1/gdpr/*`: right of access, erasure and anonymisation, addressed by profile id or by any
/// identity of the person (site + anonymous_id, user_id or email).
struct GDPRController: Sendable {
    let auth: Authenticator
    let profiles: ProfileRepository
    let privacy: PrivacyService
    /// How long a request waits for the engine (`GDPR_WAIT_SECONDS`).
    let waitSeconds: Double

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/v1/gdpr/access") { request, context in
            let key = try await auth.require(.gdpr, request, logger: context.logger)
            let (id, _, _) = try await subject(request, context: context)
            guard let archive = try await privacy.archive(profile: id, key: key, requestID: context.requestID) else { throw ProfilesController.notFound }
            return ProfilesController.json(archive)
        }
        router.post("/v1/gdpr/erasure") { request, context in
            let key = try await auth.require(.gdpr, request, logger: context.logger)
            let (id, kind, value) = try await subject(request, context: context)
            guard let requested = try await privacy.request(.erase, profile: id, subjectKind: kind, subjectValue: value, key: key,
                                                            requestID: context.requestID) else { throw ProfilesController.notFound }
            return try ErasureAnswer.response(try await privacy.outcome(of: requested, waiting: waitSeconds))
        }
        router.post("/v1/gdpr/anonymization") { request, context in
            let key = try await auth.require(.gdpr, request, logger: context.logger)
            let (id, kind, value) = try await subject(request, context: context)
            guard let requested = try await privacy.request(.anonymize, profile: id, subjectKind: kind, subjectValue: value, key: key,
                                                            requestID: context.requestID) else { throw ProfilesController.notFound }
            return try ErasureAnswer.response(try await privacy.outcome(of: requested, waiting: waitSeconds))
        }
        router.get("/v1/gdpr/requests/:id") { request, context in
            _ = try await auth.require(.gdpr, request, logger: context.logger)
            guard let id = context.parameters.get("id").flatMap(Int64.init), let state = try await privacy.describe(request: id) else {
                throw APIError(.notFound, code: "erasure_request_not_found", detail: "no erasure request with that id", field: "id")
            }
            return ProfilesController.json(state)
        }
    }

    /// `{"profile_id": …}` or `{"site": …, "email"|"user_id"|"anonymous_id": …}`.
    private func subject(_ request: Request, context: ServiceRequestContext) async throws -> (UUID, String, String) {
        let body = try await ProfilesController.body(request, context: context)
        if let text = body["profile_id"]?.stringValue {
            guard let id = UUID(uuidString: text) else { throw APIError.badRequest("invalid_parameter", "'profile_id' must be a UUID", field: "profile_id") }
            return (id, "profile_id", id.uuidString.lowercased())
        }
        guard let site = body["site"]?.stringValue else {
            throw APIError.badRequest("missing_field", "give 'profile_id', or 'site' with one of email, user_id, anonymous_id", field: "site")
        }
        let given = ProfilesController.identityKinds.filter { body[$0]?.stringValue != nil }
        guard given.count == 1, let kind = given.first, let raw = body[kind]?.stringValue else {
            throw APIError.badRequest("missing_field", "give exactly one of email, user_id, anonymous_id", field: "email")
        }
        let value = kind == "email" ? raw.trimmingCharacters(in: .whitespaces).lowercased() : raw
        guard let id = try await profiles.lookup(site: site, kind: kind, value: value) else {
            throw APIError(.notFound, code: "profile_not_found", detail: "no profile has that \(kind) on site '\(site.prefix(60))'", field: kind)
        }
        return (id, kind, value)
    }
}
