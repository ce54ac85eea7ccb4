import Foundation
import HTTPTypes
import NIOCore
@testable import ProfileAPIApp
import ProfileModel
import Testing

@Suite("Catalog API")
struct CatalogAPITests {
    @Test func test_catalog_integration_through_the_api() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk')", logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let admin = try await api.key([.catalog])
            let reader = try await api.key([.profilesRead])
            let yaml = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("config/demo-catalog.yaml"), encoding: .utf8)
            try await api.run { client in
                func post(_ path: String, _ body: String, type: String, token: String) async throws -> APIAnswer {
                    try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: type],
                                             body: ByteBuffer(string: body)) { response in
                        APIAnswer(status: response.status, headers: response.headers, body: Data(buffer: response.body))
                    }
                }
                #expect(try await post("/v1/catalog/import?site=acme", yaml, type: "application/yaml", token: reader).status == .forbidden)
                let dry = try await post("/v1/catalog/import?site=acme&dry_run=true", yaml, type: "application/yaml", token: admin)
                #expect(dry.status == .ok)
                #expect(dry.json["dry_run"] as? Bool == true)
                #expect(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self) == 0)
                let imported = try await post("/v1/catalog/import?site=acme", yaml, type: "application/yaml", token: admin)
                #expect(imported.status == .ok)
                let created = (imported.json["items_created"] as? [String])?.count ?? 0
                #expect(created >= 30)
                // A second file: one good update, one row with a bad slug and one with an unknown category.
                let update = #"{"items": [{"slug": "crm-suite", "name": "CRM Suite", "kind": "product", "category": "crm", "description": "Updated"},"# +
                    #" {"slug": "Bad Slug!", "name": "x", "kind": "product"}, {"slug": "orphan", "name": "Orphan", "kind": "product", "category": "nowhere"}]}"#
                let report = try await post("/v1/catalog/import?site=acme", update, type: "application/json", token: admin)
                #expect(report.status == .ok)
                #expect((report.json["rejected"] as? [[String: Any]])?.count == 2)
                #expect(try await post("/v1/catalog/import?site=nope", update, type: "application/json", token: admin).status == .unprocessableContent)
                #expect(try await post("/v1/catalog/import?site=acme", "{", type: "application/json", token: admin).status == .unprocessableContent)
                #expect(try await post("/v1/catalog/import?site=acme", "x", type: "text/plain", token: admin).status == .unsupportedMediaType)
                let catalog = try await client.call(.get, "/v1/catalog?site=acme", token: admin)
                let second = ((report.json["items_created"] as? [String])?.count ?? 0) + ((report.json["items_updated"] as? [String])?.count ?? 0)
                #expect(second == 1)
                #expect((catalog.json["items"] as? [Any])?.count == created + ((report.json["items_created"] as? [String])?.count ?? 0))
            }
        }
    }
}
