import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
@testable import EngineApp
@testable import ProfileAPIApp
import ServiceKit

/// Runs the real profile API against a test database, with keys created through the real key store.
struct APIHarness {
    let db: TestDatabase

    func key(_ scopes: [APIScope], rateLimit: Int = 100_000) async throws -> String {
        try await db.client.transaction(logger: TestDatabase.logger) { tx in
            try await APIKeyStore.create(name: "test", scopes: scopes, rateLimitPerMinute: rateLimit, on: tx, logger: TestDatabase.logger).1
        }
    }

    /// `environment` adds to (or overrides) the settings every test API runs with.
    func run(environment extra: [String: String] = [:], _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let environment = try db.serviceEnvironment(ProfileAPIService.name, [
            "OPENAPI_FILE": RepositoryPaths.root.appendingPathComponent("docs/openapi.json").path, "API_KEY_CACHE_SECONDS": "0",
            "DASHBOARD_ASSETS_DIR": RepositoryPaths.root.appendingPathComponent("web/dashboard").path,
            // Receivers in tests listen on loopback, which the SSRF rules refuse by default.
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        ].merging(extra) { $1 })
        try await ProfileAPIService.buildApplication(environment).test(.live) { client in try await body(client) }
    }
}

struct APIAnswer {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ path: String, token: String?, json: Any? = nil, headers extra: HTTPFields = [:]) async throws -> APIAnswer {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        }
        return try await execute(uri: path, method: method, headers: headers, body: buffer) { response in
            APIAnswer(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }
}

extension APIHarness {
    /// Runs `body` beside the engine's command workers (erasures, profile writes), as a deployed
    /// engine would carry out the commands the API writes.
    func withEngineCommandWorkers(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let erasures = ErasureWorker(client: db.client, pollSeconds: 1, logger: TestDatabase.logger)
        let profileCommands = ProfileCommandWorker(client: db.client, pollSeconds: 1, logger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await erasures.run() }
            group.addTask { try await profileCommands.run() }
            try await body()
            group.cancelAll()
        }
    }
}
