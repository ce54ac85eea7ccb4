import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import ProfileModel
import ServiceKit

/// `/v1/catalog`: read a site's catalog and import or update it from JSON, YAML or CSV
/// (upsert by slug, with a report of rejected rows; interests affected by changes are re-mapped).
struct CatalogController: Sendable {
    let auth: Authenticator
    let client: PostgresClient
    let importer: CatalogImporter

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/catalog") { request, context in
            _ = try await auth.require(.catalog, request, logger: context.logger)
            guard let site = ProfilesController.query(request)["site"] else {
                throw APIError.badRequest("missing_parameter", "'site' is required", field: "site")
            }
            let rows = try await client.query(
                """
                SELECT jsonb_build_object(
                    'categories', coalesce((SELECT jsonb_agg(jsonb_build_object('slug', c.slug, 'name', c.name, 'description', c.description,
                                                   'keywords', c.keywords, 'url_patterns', c.url_patterns) ORDER BY c.slug)
                                            FROM catalog_categories c WHERE c.site_id = s.id), '[]'),
                    'items', coalesce((SELECT jsonb_agg(jsonb_build_object('slug', i.slug, 'name', i.name, 'kind', i.kind, 'category', c.slug,
                                              'description', i.description, 'keywords', i.keywords, 'synonyms', i.synonyms,
                                              'url_patterns', i.url_patterns, 'active', i.active) ORDER BY i.slug)
                                       FROM catalog_items i LEFT JOIN catalog_categories c ON c.id = i.category_id WHERE i.site_id = s.id), '[]')
                )::text FROM sites s WHERE s.slug = \(site)
                """, logger: context.logger)
            for try await text in rows.decode(String.self) { return ProfilesController.json(text) }
            throw APIError(.notFound, code: "unknown_site", detail: "no site has the slug '\(site.prefix(60))'", field: "site")
        }
        router.post("/v1/catalog/import") { request, context in
            let key = try await auth.require(.catalog, request, logger: context.logger)
            let query = ProfilesController.query(request)
            guard let site = query["site"] else { throw APIError.badRequest("missing_parameter", "'site' is required", field: "site") }
            let format: CatalogFile.Format
            switch (query["format"], request.headers[.contentType]?.lowercased() ?? "") {
            case (let name?, _):
                guard let parsed = CatalogFile.Format(rawValue: name) else {
                    throw APIError.badRequest("invalid_parameter", "'format' must be json, yaml or csv", field: "format")
                }
                format = parsed
            case (nil, let type) where type.hasPrefix("application/json"): format = .json
            case (nil, let type) where type.contains("yaml"): format = .yaml
            case (nil, let type) where type.hasPrefix("text/csv"): format = .csv
            default:
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               detail: "send JSON, YAML (application/yaml) or CSV (text/csv), or name the format with ?format=", field: "Content-Type")
            }
            let buffer = try await request.body.collect(upTo: 5 * 1024 * 1024)
            guard let text = String(bytes: buffer.readableBytesView, encoding: .utf8) else {
                throw APIError.badRequest("invalid_body", "the catalog must be UTF-8 text")
            }
            let dryRun = ["1", "true", "yes"].contains(query["dry_run"]?.lowercased() ?? "")
            let result: CatalogImporter.Result
            do {
                result = try await importer.importCatalog(text: text, format: format, siteSlug: site, dryRun: dryRun, client: client)
            } catch let failure as CatalogImporter.Failure {
                throw APIError(.unprocessableContent, code: "unknown_site", detail: failure.description, field: "site")
            } catch let failure as CatalogFile.ParseError {
                throw APIError(.unprocessableContent, code: "invalid_catalog", detail: failure.description)
            }
            if !dryRun {
                try await client.withConnection { connection in
                    try await AuditLog.record("catalog.import", target: site, key: key, requestID: context.requestID,
                                              details: ["items_created": .number(Double(result.report.itemsCreated.count)),
                                                        "items_updated": .number(Double(result.report.itemsUpdated.count)),
                                                        "rejected": .number(Double(result.report.rejections.count))],
                                              on: connection, logger: context.logger)
                }
            }
            let report = result.report
            return JSONResponse.make([
                "dry_run": .bool(dryRun),
                "categories_created": .array(report.categoriesCreated.map(JSONValue.string)),
                "categories_updated": .array(report.categoriesUpdated.map(JSONValue.string)),
                "items_created": .array(report.itemsCreated.map(JSONValue.string)),
                "items_updated": .array(report.itemsUpdated.map(JSONValue.string)),
                "unchanged": .number(Double(report.unchanged)),
                "rejected": .array(report.rejections.map {
                    ["row": .string($0.row), "slug": $0.slug.map(JSONValue.string) ?? .null, "field": .string($0.field), "reason": .string($0.reason)]
                }),
                "remap_id": result.remapID.map { .number(Double($0)) } ?? .null,
            ])
        }
    }
}
