import CollectorApp
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

/// Runs the real collector application on a live socket against a test database.
struct CollectorHarness {
    let db: TestDatabase

    /// Inserts a site and returns its id; columns not given keep their defaults.
    @discardableResult
    func site(_ slug: String, writeKey: String, origins: [String] = ["*"], consent: String = "none",
              honorDNT: Bool = true, botPolicy: String = "flag", ipStorage: String = "truncate") async throws -> Int64 {
        let rows = try await db.client.query(
            """
            INSERT INTO sites (slug, name, write_key, allowed_origins, consent_mode, honor_dnt, bot_policy, ip_storage)
            VALUES (\(slug), \(slug), \(writeKey), \(origins), \(consent), \(honorDNT), \(botPolicy), \(ipStorage)) RETURNING id
            """, logger: TestDatabase.logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw TestSetupError("site not created")
    }

    func run(_ extra: [String: String] = [:], _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let environment = try db.serviceEnvironment(CollectorService.name, extra)
        let app = try CollectorService.buildApplication(environment)
        try await app.test(.live) { client in try await body(client) }
    }

    func count(_ sql: PostgresQuery) async throws -> Int {
        try await db.scalar(sql, as: Int.self) ?? -1
    }
}

struct Posted {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let json: [String: Any]
}

extension TestClientProtocol {
    /// POSTs a body with a write key (HTTP Basic, as Segment SDKs do) and decodes the JSON answer.
    func post(_ path: String, key: String? = nil, body: String, contentType: String? = "application/json",
              headers extra: HTTPFields = [:]) async throws -> Posted {
        try await post(path, key: key, bytes: Array(body.utf8), contentType: contentType, headers: extra)
    }

    func post(_ path: String, key: String? = nil, bytes: [UInt8], contentType: String? = "application/json",
              headers extra: HTTPFields = [:]) async throws -> Posted {
        var headers = extra
        if let key { headers[.authorization] = "Basic " + Data("\(key):".utf8).base64EncodedString() }
        if let contentType { headers[.contentType] = contentType }
        return try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: bytes)) { response in
            let data = Data(buffer: response.body)
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Posted(status: response.status, headers: response.headers, json: json)
        }
    }

    func post(_ path: String, key: String? = nil, json: [String: Any], headers: HTTPFields = [:]) async throws -> Posted {
        let data = try JSONSerialization.data(withJSONObject: json)
        return try await post(path, key: key, body: String(decoding: data, as: UTF8.self), headers: headers)
    }
}
