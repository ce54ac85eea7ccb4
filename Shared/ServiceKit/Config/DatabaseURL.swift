import Foundation
import PostgresNIO

/// `DATABASE_URL` parsed into what `PostgresClient` needs:
/// `postgres://user:password@host:port/db?sslmode=verify-full&sslrootcert=/path/ca.pem`.
public struct DatabaseURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: DatabaseTLS

    public static let variable = "DATABASE_URL"

    public init(host: String, port: Int, username: String, password: String?, database: String,
                tls: DatabaseTLS = DatabaseTLS(mode: .prefer)) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    public init(parsing text: String, variable: String = DatabaseURL.variable) throws {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw ConfigError(variable: variable, message: "must look like postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ConfigError(variable: variable, message: "has no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ConfigError(variable: variable, message: "has no user name")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw ConfigError(variable: variable, message: "has no database name (the path after the host)")
        }
        func parameter(_ name: String) -> String? { components.queryItems?.first(where: { $0.name == name })?.value }
        let tls = try DatabaseTLS(sslmode: parameter("sslmode"), sslrootcert: parameter("sslrootcert"), variable: variable)
        self.init(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database.removingPercentEncoding ?? database,
            tls: tls
        )
    }

    /// The same server with another database, used by the test harness to create per-test databases.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// A URL string without the password, safe for logs.
    public var redacted: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    /// Whether the services' sessions may use PostgreSQL's JIT compiler (`DATABASE_JIT`).
    public enum JIT: String, Sendable, CaseIterable {
        /// `jit = off` in every session (sent at connect): the services run short statements whose
        /// cost the planner often overestimates past `jit_above_cost`, and compiling them took
        /// longer than running them (83 of 160 ms in an engine batch statement, see docs/BENCHMARKS.md).
        case off
        /// The server's setting. For poolers that refuse unknown startup parameters.
        case server
    }

    public func clientConfiguration(maximumConnections: Int, jit: JIT = .off) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: tls.client
        )
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(3)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(15))
        if jit == .off { configuration.options.additionalStartupParameters = [("jit", "off")] }
        return configuration
    }

    /// For a single connection outside the pool (LISTEN), with the same TLS.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: try tls.connection())
    }
}
