import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit

/// `/v1/api-keys`: admins create, list and revoke keys. A new key's token is shown once.
struct APIKeysController: Sendable {
    let auth: Authenticator
    let client: PostgresClient

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/api-keys") { request, context in
            _ = try await auth.require(.admin, request, logger: context.logger)
            return JSONResponse.make(["data": .array(try await APIKeyStore.list(client: client, logger: context.logger))])
        }
        router.post("/v1/api-keys") { request, context in
            let admin = try await auth.require(.admin, request, logger: context.logger)
            let body = try await ProfilesController.body(request, context: context)
            guard let name = body["name"]?.stringValue, !name.isEmpty, name.count <= 200 else {
                throw APIError.badRequest("missing_field", "'name' is required (1-200 characters)", field: "name")
            }
            guard let scopeNames = body["scopes"]?.arrayValue, !scopeNames.isEmpty else {
                throw APIError.badRequest("missing_field", "'scopes' must list at least one scope", field: "scopes")
            }
            var scopes: [APIScope] = []
            for value in scopeNames {
                guard let scope = value.stringValue.flatMap(APIScope.init(rawValue:)) else {
                    throw APIError(.unprocessableContent, code: "invalid_scope",
                                   detail: "unknown scope; use \(APIScope.allCases.map(\.rawValue).joined(separator: ", "))", field: "scopes")
                }
                scopes.append(scope)
            }
            let limit = body["rate_limit_per_minute"]?.intValue ?? 600
            guard (1...1_000_000).contains(limit) else {
                throw APIError(.unprocessableContent, code: "invalid_value", detail: "'rate_limit_per_minute' must be in 1...1000000", field: "rate_limit_per_minute")
            }
            let (key, token) = try await client.transaction(logger: context.logger) { tx in
                let created = try await APIKeyStore.create(name: name, scopes: scopes, rateLimitPerMinute: limit, on: tx, logger: context.logger)
                try await AuditLog.record("api_key.create", target: created.0.prefix, key: admin, requestID: context.requestID, on: tx, logger: context.logger)
                return created
            }
            var response = JSONResponse.make(["id": .number(Double(key.id)), "prefix": .string(key.prefix), "token": .string(token),
                                              "scopes": .array(scopes.map { .string($0.rawValue) })], status: .created)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        router.delete("/v1/api-keys/:prefix") { request, context in
            let admin = try await auth.require(.admin, request, logger: context.logger)
            let prefix = context.parameters.get("prefix") ?? ""
            let revoked = try await client.transaction(logger: context.logger) { tx in
                guard try await APIKeyStore.revoke(prefix: prefix, on: tx, logger: context.logger) else { return false }
                try await AuditLog.record("api_key.revoke", target: prefix, key: admin, requestID: context.requestID, on: tx, logger: context.logger)
                return true
            }
            guard revoked else {
                throw APIError(.notFound, code: "api_key_not_found", detail: "no active key has that prefix", field: "prefix")
            }
            return Response(status: .noContent)
        }
    }
}
