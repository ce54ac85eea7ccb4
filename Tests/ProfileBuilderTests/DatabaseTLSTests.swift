import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Testing

/// DATABASE_URL's sslmode and sslrootcert mean what they mean to libpq, checked against a real
/// server with a certificate from a CA made for the test (issue #23 item 10: verify-full used to
/// turn TLS off).
@Suite struct DatabaseTLSTests {
    static let sessionUsesTLS: PostgresQuery = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

    /// Whether the session DATABASE_URL `text` opens through the services' pool is encrypted.
    static func pooledSessionUsesTLS(_ text: String) async throws -> Bool? {
        let url = try DatabaseURL(parsing: text)
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 1), backgroundLogger: TestDatabase.logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            for try await ssl in try await client.query(sessionUsesTLS, logger: TestDatabase.logger).decode(Bool.self) { return ssl }
            return nil
        }
    }

    /// Connects once as the LISTEN connection does; fails the way the pool's connections fail,
    /// without the pool's retrying.
    static func connect(_ text: String) async throws {
        let url = try DatabaseURL(parsing: text)
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: TestDatabase.logger)
        try await connection.close()
    }

    @Test func verify_full_with_the_servers_ca_connects_over_tls() async throws {
        try await TLSTestServer.with { server in
            let text = server.url(host: "localhost", "sslmode=verify-full&sslrootcert=\(server.caFile)")
            #expect(try await Self.pooledSessionUsesTLS(text) == true)
            try await Self.connect(text)
        }
    }

    @Test func verify_full_with_another_ca_is_refused() async throws {
        try await TLSTestServer.with { server in
            let error = await #expect(throws: (any Error).self) {
                try await Self.connect(server.url(host: "localhost", "sslmode=verify-full&sslrootcert=\(server.otherCAFile)"))
            }
            #expect(String(reflecting: error).contains("CERTIFICATE_VERIFY_FAILED"), "\(String(reflecting: error))")
        }
    }

    /// The certificate names `localhost`; 127.0.0.1 is another host to verify-full, and the same
    /// server to verify-ca, which checks only who signed the certificate.
    @Test func verify_full_to_a_host_the_certificate_does_not_name_is_refused_and_verify_ca_accepts_it() async throws {
        try await TLSTestServer.with { server in
            let error = await #expect(throws: (any Error).self) {
                try await Self.connect(server.url(host: "127.0.0.1", "sslmode=verify-full&sslrootcert=\(server.caFile)"))
            }
            #expect(String(reflecting: error).contains("failedToValidateHostname"), "\(String(reflecting: error))")
            let verifyCA = try await Self.pooledSessionUsesTLS(server.url(host: "127.0.0.1", "sslmode=verify-ca&sslrootcert=\(server.caFile)"))
            #expect(verifyCA == true)
            await #expect(throws: (any Error).self) {
                try await Self.connect(server.url(host: "127.0.0.1", "sslmode=verify-ca&sslrootcert=\(server.otherCAFile)"))
            }
        }
    }

    @Test func require_connects_over_tls_without_a_root_certificate() async throws {
        try await TLSTestServer.with { server in
            let required = try await Self.pooledSessionUsesTLS(server.url(host: "127.0.0.1", "sslmode=require"))
            #expect(required == true)
            // With sslrootcert, require checks the chain as libpq does when it finds a root file.
            await #expect(throws: (any Error).self) {
                try await Self.connect(server.url(host: "127.0.0.1", "sslmode=require&sslrootcert=\(server.otherCAFile)"))
            }
        }
    }

    @Test func disable_connects_without_tls_and_prefer_uses_it_when_offered() async throws {
        try await TLSTestServer.with { server in
            let disabled = try await Self.pooledSessionUsesTLS(server.url(host: "127.0.0.1", "sslmode=disable"))
            #expect(disabled == false)
            let preferred = try await Self.pooledSessionUsesTLS(server.url(host: "127.0.0.1", "sslmode=prefer"))
            #expect(preferred == true)
            let allowed = try await Self.pooledSessionUsesTLS(server.url(host: "127.0.0.1", "sslmode=allow"))
            #expect(allowed == true)
        }
    }

    /// The test server has TLS off: libpq's default, prefer, falls back to a plain session.
    @Test func without_sslmode_a_server_without_tls_is_reached_in_plain() async throws {
        let server = try TestDatabase.serverURL()
        let text = "postgres://\(server.username)@\(server.host):\(server.port)/\(server.database)"
        #expect(try DatabaseURL(parsing: text).tls == DatabaseTLS(mode: .prefer))
        #expect(try await Self.pooledSessionUsesTLS(text) == false)
    }

    @Test(arguments: [
        ("sslmode=verify_full", "sslmode=verify_full is not one of disable, allow, prefer, require, verify-ca, verify-full"),
        ("sslmode=on", "sslmode=on is not one of"),
        ("sslmode=verify-full", "sslmode=verify-full needs sslrootcert="),
        ("sslmode=verify-ca", "sslmode=verify-ca needs sslrootcert="),
        ("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert=/nonexistent/ca.pem cannot be read"),
        ("sslmode=require&sslrootcert=system", "sslrootcert=system needs sslmode=verify-full"),
    ])
    func an_sslmode_that_cannot_be_honoured_is_refused_with_its_value(query: String, message: String) throws {
        let error = try #require(throws: ConfigError.self) { try DatabaseURL(parsing: "postgres://app@db.local/profiles?\(query)") }
        #expect(error.variable == "DATABASE_URL")
        #expect(error.message.hasPrefix(message), "\(error)")
    }
}
