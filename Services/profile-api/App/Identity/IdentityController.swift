import Foundation
import Hummingbird
import ProfileModel
import ServiceKit

/// `/v1/identity-conflicts` (what the merge rules refused) and a site's identity settings:
/// `/v1/sites/{slug}/identity-rules` (guardrail overrides) and `/v1/sites/{slug}/identity-keys`
/// (new server key and identity secret, shown once). Settings are for administrators.
struct IdentityController: Sendable {
    let auth: Authenticator
    let store: IdentityStore

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/identity-conflicts") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let query = ProfilesController.query(request)
            let limit = try JourneysController.int(query, "limit", default: 100, 1...1000)
            if let rule = query["rule"], !IdentityConflictRule.names.contains(rule) {
                throw APIError(.unprocessableContent, code: "invalid_rule",
                               detail: "'rule' must be one of: \(IdentityConflictRule.names.joined(separator: ", "))", field: "rule")
            }
            if let site = query["site"], !(try await store.siteExists(site, logger: context.logger)) {
                throw APIError(.notFound, code: "site_not_found", detail: "no site has that slug", field: "site")
            }
            return JSONResponse.make(["data": try await store.conflicts(site: query["site"], rule: query["rule"], limit: limit, logger: context.logger)])
        }
        router.get("/v1/sites/:slug/identity-rules") { request, context in
            _ = try await auth.require(.admin, request, logger: context.logger)
            let slug = context.parameters.get("slug") ?? ""
            guard let found = try await store.rules(site: slug, logger: context.logger) else { throw Self.siteNotFound }
            return JSONResponse.make([
                "site": .string(slug), "overrides": try JSONValue.parse(found.rules),
                "browser_verification": .bool(found.verifiesBrowsers), "server_key": .bool(found.hasServerKey),
            ])
        }
        router.put("/v1/sites/:slug/identity-rules") { request, context in
            let admin = try await auth.require(.admin, request, logger: context.logger)
            let slug = context.parameters.get("slug") ?? ""
            let body = try await ProfilesController.body(request, context: context)
            let known = ["blocked_values", "limits", "priority", "max_merged_profiles", "link_claimed_emails"]
            if let unknown = body.keys.sorted().first(where: { !known.contains($0) }) {
                throw APIError(.unprocessableContent, code: "unknown_field", detail: "'\(unknown.prefix(60))' is not an identity rule; use \(known.joined(separator: ", "))", field: unknown)
            }
            let override: IdentityRules.Override
            do {
                override = try JSONDecoder().decode(IdentityRules.Override.self, from: Data(JSONValue.object(body).jsonText.utf8))
            } catch {
                throw APIError(.unprocessableContent, code: "invalid_identity_rules",
                               detail: "blocked_values is a list of strings, limits an object of whole numbers, priority a list of kinds, max_merged_profiles a whole number, link_claimed_emails true or false")
            }
            if let problem = override.problem() {
                throw APIError(.unprocessableContent, code: "invalid_identity_rules", detail: problem.detail, field: problem.field)
            }
            let stored = try await store.client.transaction(logger: context.logger) { tx in
                guard try await store.setRules(site: slug, override, on: tx, logger: context.logger) else { return false }
                try await AuditLog.record("site.identity_rules", target: slug, key: admin, requestID: context.requestID,
                                          details: ["keys": .array(body.keys.sorted().map { .string($0) })], on: tx, logger: context.logger)
                return true
            }
            guard stored else { throw Self.siteNotFound }
            return JSONResponse.make(["site": .string(slug), "overrides": .object(body)])
        }
        router.post("/v1/sites/:slug/identity-keys") { request, context in
            let admin = try await auth.require(.admin, request, logger: context.logger)
            let slug = context.parameters.get("slug") ?? ""
            let keys = try await store.client.transaction(logger: context.logger) { tx -> (serverKey: String, identitySecret: String)? in
                guard let keys = try await store.rotateKeys(site: slug, on: tx, logger: context.logger) else { return nil }
                try await AuditLog.record("site.identity_keys", target: slug, key: admin, requestID: context.requestID, on: tx, logger: context.logger)
                return keys
            }
            guard let keys else { throw Self.siteNotFound }
            var response = JSONResponse.make(["site": .string(slug), "server_key": .string(keys.serverKey),
                                              "identity_secret": .string(keys.identitySecret)], status: .created)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    static let siteNotFound = APIError(.notFound, code: "site_not_found", detail: "no site has that slug", field: "slug")
}
