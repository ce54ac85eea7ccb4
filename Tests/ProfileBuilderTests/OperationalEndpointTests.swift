import CollectorApp
import EngineApp
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ProfileAPIApp
import ServiceKit
import Testing

@Suite("Health, readiness and metrics")
struct OperationalEndpointTests {
    /// Builds each service's real application on a fresh database.
    static func application(_ service: String, _ environment: ServiceEnvironment) throws -> any ApplicationProtocol {
        switch service {
        case CollectorService.name: return try CollectorService.buildApplication(environment)
        case EngineService.name: return try EngineService.buildApplication(environment)
        default: return try ProfileAPIService.buildApplication(environment)
        }
    }

    @Test(arguments: [CollectorService.name, EngineService.name, ProfileAPIService.name])
    func health_ready_and_metrics_answer(service: String) async throws {
        try await TestDatabase.with { db in
            let app = try Self.application(service, db.serviceEnvironment(service))
            try await app.test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("\"service\":\"\(service)\""))
                }
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("\"status\":\"ready\""))
                }
                try await client.execute(uri: "/nowhere", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.contains("http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1"))
                }
            }
        }
    }

    @Test func ready_is_503_when_postgres_is_unreachable() async throws {
        try await TestDatabase.with { db in
            let app = try CollectorService.buildApplication(db.serviceEnvironment(CollectorService.name))
            try await app.test(.live) { client in
                try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
                // Take the database away under the running service.
                try await TemplateStore.shared.admin(db.url) { admin in
                    try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(db.url.database) WITH (FORCE)"), logger: TestDatabase.logger)
                }
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("\"status\":\"unavailable\""))
                }
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func a_service_refuses_to_start_against_an_older_schema() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let environment = try db.serviceEnvironment(CollectorService.name)
            let error = await #expect(throws: SchemaGate.OutdatedSchema.self) {
                try await environment.schemaGate.check(db.client, logger: TestDatabase.logger)
            }
            #expect(error?.description.contains("run `collector migrate`") == true)
        }
    }

    @Test func migrate_on_start_brings_an_empty_database_up_to_date() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let environment = try db.serviceEnvironment(CollectorService.name, ["MIGRATE_ON_START": "true"])
            try await environment.schemaGate.check(db.client, logger: TestDatabase.logger)
            #expect(try await MigrationRunner.currentVersion(db.client, logger: TestDatabase.logger) == environment.expectedSchemaVersion)
        }
    }
}
