import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProfileModel
import ServiceKit

/// `/v1/profiles`: read, search, create, update and delete profiles. Creates and updates are
/// commands the engine carries out (`ProfileCommands`); the request waits for the outcome.
struct ProfilesController: Sendable {
    let auth: Authenticator
    let profiles: ProfileRepository
    let commands: ProfileCommands
    let privacy: PrivacyService
    /// How long a create or update waits for the engine (`PROFILE_WRITE_WAIT_SECONDS`).
    let writeWaitSeconds: Double
    /// How long an erasure waits for the engine (`GDPR_WAIT_SECONDS`).
    let gdprWaitSeconds: Double

    static let identityKinds = Set(IdentityKind.allCases.map(\.rawValue))

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/profiles") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let filter = try ProfileFilter(query: Self.query(request), registry: profiles.registry)
            let (documents, next) = try await profiles.search(filter)
            let body = "{\"data\":[" + documents.joined(separator: ",") + "],\"next_cursor\":" + (next.map { "\"\($0)\"" } ?? "null") + "}"
            return Self.json(body)
        }
        router.get("/v1/profiles/lookup") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let query = Self.query(request)
            guard let site = query["site"] else { throw APIError.badRequest("missing_parameter", "'site' is required", field: "site") }
            let given = Self.identityKinds.filter { query[$0] != nil }
            guard given.count == 1, let kind = given.first, let raw = query[kind] else {
                throw APIError.badRequest("missing_parameter", "give exactly one of anonymous_id, user_id, email", field: "email")
            }
            let value = kind == "email" ? raw.trimmingCharacters(in: .whitespaces).lowercased() : raw
            guard let id = try await profiles.lookup(site: site, kind: kind, value: value), let found = try await profiles.get(id) else {
                throw APIError(.notFound, code: "profile_not_found", detail: "no profile has that \(kind) on site '\(site.prefix(60))'", field: kind)
            }
            return Self.profileResponse(found)
        }
        router.get("/v1/profiles/:id") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let found = try await get(try Self.profileID(context))
            if request.headers[.ifNoneMatch] == "\"\(found.version)\"" {
                return Response(status: .notModified, headers: [.eTag: "\"\(found.version)\""])
            }
            return Self.profileResponse(found)
        }
        router.get("/v1/profiles/:id/timeline") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let limit = Int(Self.query(request)["limit"] ?? "") ?? 100
            guard (1...1000).contains(limit) else { throw APIError.badRequest("invalid_parameter", "'limit' must be in 1...1000", field: "limit") }
            guard let document = try await profiles.timeline(try Self.profileID(context), limit: limit) else { throw Self.notFound }
            return Self.json(document)
        }
        router.post("/v1/profiles") { request, context in
            let key = try await auth.require(.profilesWrite, request, logger: context.logger)
            let body = try await Self.body(request, context: context)
            guard let site = body["site"]?.stringValue else { throw APIError.badRequest("missing_field", "'site' (the site slug) is required", field: "site") }
            let fields = try profiles.validate(try Self.fields(body))
            var identities: [(kind: IdentityKind, value: String)] = []
            for (index, item) in (body["identities"]?.arrayValue ?? []).enumerated() {
                guard let kind = item["kind"]?.stringValue.flatMap(IdentityKind.init(rawValue:)), let value = item["value"]?.stringValue, !value.isEmpty else {
                    throw APIError(.unprocessableContent, code: "invalid_identity", detail: "identities[\(index)] needs kind (anonymous_id, user_id, email) and value", field: "identities[\(index)]")
                }
                identities.append((kind, kind == .email ? value.trimmingCharacters(in: .whitespaces).lowercased() : value))
            }
            guard let siteID = try await profiles.siteID(slug: site) else {
                throw APIError(.unprocessableContent, code: "unknown_site", detail: "no site has the slug '\(site.prefix(60))'", field: "site")
            }
            let id = UUID()
            let command = try await commands.create(site: siteID, profile: id, fields: fields, identities: identities, key: key, requestID: context.requestID)
            var response = try await answer(try await commands.outcome(of: command, profile: id, waiting: writeWaitSeconds))
            if response.status == .ok {
                response.status = .created
                response.headers[.location] = "/v1/profiles/\(id.uuidString.lowercased())"
            }
            return response
        }
        router.patch("/v1/profiles/:id") { request, context in
            let key = try await auth.require(.profilesWrite, request, logger: context.logger)
            let id = try Self.profileID(context)
            var ifMatch: Int64?
            if let header = request.headers[.ifMatch] {
                guard let version = Int64(header.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/"))) else {
                    throw APIError.badRequest("invalid_header", "If-Match must be an ETag from a previous read", field: "If-Match")
                }
                ifMatch = version
            }
            let fields = try profiles.validate(try Self.fields(try await Self.body(request, context: context)))
            guard !fields.isEmpty else { throw APIError.badRequest("missing_field", "'fields' must name at least one field", field: "fields") }
            // Answer what can be answered now without the engine; it checks both again.
            guard let target = try await profiles.writeTarget(id) else { throw Self.notFound }
            if let ifMatch, ifMatch != target.version { throw Self.versionMismatch(current: target.version, ifMatch: ifMatch) }
            let command = try await commands.update(site: target.site, profile: target.profile, fields: fields, expectedVersion: ifMatch,
                                                    key: key, requestID: context.requestID)
            return try await answer(try await commands.outcome(of: command, profile: target.profile, waiting: writeWaitSeconds), ifMatch: ifMatch)
        }
        router.get("/v1/profile-commands/:id") { request, context in
            _ = try await auth.require(.profilesWrite, request, logger: context.logger)
            guard let text = context.parameters.get("id"), let command = Int64(text) else {
                throw APIError.badRequest("invalid_parameter", "the command id must be an integer", field: "id")
            }
            guard let document = try await commands.describe(command) else {
                throw APIError(.notFound, code: "command_not_found", detail: "no profile command with that id")
            }
            return Self.json(document)
        }
        router.delete("/v1/profiles/:id") { request, context in
            let key = try await auth.require(.gdpr, request, logger: context.logger)
            let id = try Self.profileID(context)
            guard let requested = try await privacy.request(.erase, profile: id, subjectKind: "profile_id", subjectValue: id.uuidString.lowercased(),
                                                            key: key, requestID: context.requestID) else { throw Self.notFound }
            return try ErasureAnswer.response(try await privacy.outcome(of: requested, waiting: gdprWaitSeconds))
        }
    }

    /// The answer to a profile write, from the engine's outcome of its command.
    private func answer(_ outcome: ProfileCommands.Outcome, ifMatch: Int64? = nil) async throws -> Response {
        switch outcome {
        case .done(let profile):
            return Self.profileResponse(try await get(profile))
        case .profileNotFound:
            throw Self.notFound
        case .versionMismatch(let current):
            throw Self.versionMismatch(current: current, ifMatch: ifMatch ?? 0)
        case .identityTaken(let kind):
            throw APIError(.conflict, code: "identity_taken", detail: "the \(kind) is already linked to another profile", field: "identities")
        case .failed(let error):
            throw APIError(.internalServerError, code: "profile_write_failed", detail: "the engine could not carry out the write (\(error))")
        case .pending(let command, let profile):
            let status = "/v1/profile-commands/\(command)"
            let body: JSONValue = ["command_id": .number(Double(command)), "profile_id": .string(profile.uuidString.lowercased()),
                                   "status": "pending", "status_url": .string(status)]
            return Response(status: .accepted, headers: [.contentType: "application/json", .location: status],
                            body: .init(byteBuffer: ByteBuffer(string: body.jsonText)))
        }
    }

    static func versionMismatch(current: Int64, ifMatch: Int64) -> APIError {
        APIError(.preconditionFailed, code: "version_mismatch",
                 detail: "the profile is at version \(current), not \(ifMatch); read it again and retry", field: "If-Match",
                 headers: [.eTag: "\"\(current)\""])
    }

    private func get(_ id: UUID) async throws -> ProfileRepository.Found {
        guard let found = try await profiles.get(id) else { throw Self.notFound }
        return found
    }

    static let notFound = APIError(.notFound, code: "profile_not_found", detail: "no profile with that id")

    static func profileID(_ context: ServiceRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw APIError.badRequest("invalid_parameter", "the profile id must be a UUID", field: "id")
        }
        return id
    }

    static func query(_ request: Request) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { values[String(name)] = String(value) }
        return values
    }

    static func body(_ request: Request, context: ServiceRequestContext) async throws -> [String: JSONValue] {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", detail: "send JSON with Content-Type: application/json", field: "Content-Type")
        }
        let buffer = try await request.body.collect(upTo: 256 * 1024)
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView)), let object = value.objectValue else {
            throw APIError.badRequest("invalid_json", "the body must be a JSON object")
        }
        guard !value.containsNUL else {
            throw APIError(.unprocessableContent, code: "nul_character", detail: "text containing U+0000 cannot be stored")
        }
        return object
    }

    static func fields(_ body: [String: JSONValue]) throws -> [String: JSONValue] {
        guard let fields = body["fields"] else { return [:] }
        guard let object = fields.objectValue else { throw APIError.badRequest("wrong_type", "'fields' must be a JSON object", field: "fields") }
        return object
    }

    static func profileResponse(_ found: ProfileRepository.Found) -> Response {
        var response = json(found.document)
        response.headers[.eTag] = "\"\(found.version)\""
        return response
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
