import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// `/v1/segments`: named, rule-based segments. Definitions are checked before they are stored;
/// the engine evaluates them as profiles change and re-evaluates all of them hourly.
struct SegmentsController: Sendable {
    let auth: Authenticator
    let client: PostgresClient

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/segments") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let rows = try await client.query(
                """
                SELECT coalesce(jsonb_agg(jsonb_build_object('slug', s.slug, 'site', si.slug, 'name', s.name, 'description', s.description,
                           'definition', s.definition, 'builtin', s.builtin, 'active', s.active,
                           'members', (SELECT count(*) FROM segment_memberships m WHERE m.segment_id = s.id AND m.left_at IS NULL),
                           'failure', (SELECT jsonb_build_object('error', f.error, 'failed_at', f.failed_at) FROM segment_failures f
                                       WHERE f.segment_id = s.id AND f.definition_updated_at >= s.updated_at))
                           ORDER BY s.slug), '[]')::text
                FROM segments s LEFT JOIN sites si ON si.id = s.site_id
                """, logger: context.logger)
            var list = "[]"
            for try await text in rows.decode(String.self) { list = text }
            return ProfilesController.json("{\"data\":\(list)}")
        }
        router.post("/v1/segments") { request, context in
            let key = try await auth.require(.profilesWrite, request, logger: context.logger)
            let body = try await ProfilesController.body(request, context: context)
            guard let site = body["site"]?.stringValue else { throw APIError.badRequest("missing_field", "'site' (slug) is required", field: "site") }
            guard let slug = body["slug"]?.stringValue, slug.range(of: "^[a-z0-9][a-z0-9_-]{0,62}$", options: .regularExpression) != nil else {
                throw APIError(.unprocessableContent, code: "invalid_value", detail: "'slug' must be lower-case letters, digits, - or _ (1-63)", field: "slug")
            }
            guard let name = body["name"]?.stringValue, !name.isEmpty, name.count <= 200 else {
                throw APIError.badRequest("missing_field", "'name' is required (1-200 characters)", field: "name")
            }
            guard let definition = body["definition"] else { throw APIError.badRequest("missing_field", "'definition' is required", field: "definition") }
            do {
                try await SegmentPatternCheck.check(try SegmentRule(json: definition), client: client, logger: context.logger)
            } catch let error as SegmentRule.Invalid {
                throw APIError(.unprocessableContent, code: "invalid_definition", detail: error.message, field: error.path)
            }
            let created: Bool = try await client.transaction(logger: context.logger) { tx in
                let rows = try await tx.query(
                    """
                    INSERT INTO segments (site_id, slug, name, description, definition)
                    SELECT id, \(slug), \(name), \(body["description"]?.stringValue), \(definition.jsonText)::jsonb FROM sites WHERE slug = \(site)
                    ON CONFLICT (site_id, slug) DO NOTHING RETURNING id
                    """, logger: context.logger)
                var inserted = false
                for try await _ in rows { inserted = true }
                guard inserted else { return false }
                try await AuditLog.record("segment.create", target: slug, key: key, requestID: context.requestID, on: tx, logger: context.logger)
                return true
            }
            guard created else {
                throw APIError(.conflict, code: "segment_exists_or_unknown_site", detail: "the site is unknown or already has a segment '\(slug)'", field: "slug")
            }
            return JSONResponse.make(["slug": .string(slug), "site": .string(site), "name": .string(name), "definition": definition], status: .created)
        }
        router.delete("/v1/segments/:slug") { request, context in
            let key = try await auth.require(.profilesWrite, request, logger: context.logger)
            let slug = context.parameters.get("slug") ?? ""
            // Slugs are unique per site only: without the site, one call would delete every site's segment of that name.
            guard let site = request.uri.queryParameters.get("site"), !site.isEmpty else {
                throw APIError.badRequest("missing_parameter", "'site' (the segment's site slug) is required", field: "site")
            }
            let deleted: Bool = try await client.transaction(logger: context.logger) { tx in
                let rows = try await tx.query(
                    """
                    DELETE FROM segments WHERE slug = \(slug) AND NOT builtin AND site_id = (SELECT id FROM sites WHERE slug = \(site))
                    RETURNING id
                    """, logger: context.logger)
                var found = false
                for try await _ in rows { found = true }
                if found { try await AuditLog.record("segment.delete", target: slug, key: key, requestID: context.requestID, on: tx, logger: context.logger) }
                return found
            }
            guard deleted else { throw APIError(.notFound, code: "segment_not_found", detail: "site '\(site.prefix(60))' has no custom segment '\(slug.prefix(60))' (built-in ones live in config/segments.yaml)", field: "slug") }
            return Response(status: .noContent)
        }
    }
}
