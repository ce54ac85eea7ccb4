import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// A fresh, migrated database per test, copied from a template that is migrated once per test run.
/// The server comes from `TEST_DATABASE_URL`; without it the tests fail (they never skip).
struct TestDatabase: Sendable {
    let url: DatabaseURL
    let client: PostgresClient

    static let logger: Logger = {
        var logger = Logger(label: "tests")
        logger.logLevel = .warning
        return logger
    }()

    static func serverURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !text.isEmpty else {
            throw TestSetupError(
                "TEST_DATABASE_URL is not set. Run the tests with `scripts/test` (it starts a throwaway PostgreSQL 15), "
                    + "or start PostgreSQL yourself and export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres")
        }
        return try DatabaseURL(parsing: text, variable: "TEST_DATABASE_URL")
    }

    /// Creates a database, runs `body` with a running client on it, then drops the database.
    static func with<T: Sendable>(migrated: Bool = true, _ body: @Sendable (TestDatabase) async throws -> T) async throws -> T {
        let server = try serverURL()
        let name = "pbtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let template = migrated ? try await TemplateStore.shared.templateName(server: server) : "template0"
        // CREATE DATABASE … TEMPLATE fails while anything else is connected to the template; on a
        // busy server a closing connection can linger, so try again a few times before failing.
        for attempt in 1...5 {
            do {
                try await TemplateStore.shared.admin(server) { admin in
                    try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"), logger: logger)
                }
                break
            } catch {
                if attempt == 5 { throw TestSetupError("CREATE DATABASE \(name) failed: \(String(reflecting: error))") }
                try await Task.sleep(for: .milliseconds(500 * attempt))
            }
        }
        let url = server.with(database: name)
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 8), backgroundLogger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do { return .success(try await body(TestDatabase(url: url, client: client))) } catch let error as PSQLError {
                // PSQLError's description hides the server's message; a failing test should show it.
                return .failure(TestSetupError("PostgreSQL error: \(String(reflecting: error))"))
            } catch { return .failure(error) }
        }
        try? await TemplateStore.shared.admin(server) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
        return try result.get()
    }

    /// Environment variables that point a service at this database.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var values = [
            "DATABASE_URL": "postgres://\(url.username)\(url.password.map { ":\($0)" } ?? "")@\(url.host):\(url.port)/\(url.database)",
            "SQL_DIR": RepositoryPaths.sql,
            "PROFILE_FIELDS_FILE": RepositoryPaths.profileFields,
            "LOG_LEVEL": "warning",
            "STARTUP_TIMEOUT_SECONDS": "5",
            "COLLECTOR_PORT": "0", "API_PORT": "0", "ENGINE_PORT": "0",
            // Many tests run at once against one server: keep each one's pools small.
            "DATABASE_POOL_SIZE": "4",
        ]
        values.merge(extra) { _, new in new }
        return values
    }

    /// The environment of `service`, connecting as the service's own role (sql/0016), as deployed:
    /// a write outside its tables fails the test.
    func serviceEnvironment(_ service: String, _ extra: [String: String] = [:]) throws -> ServiceEnvironment {
        var values = environment(extra)
        if extra["DATABASE_URL"] == nil, let role = ServiceRoles.roleOfService[service] {
            values["DATABASE_URL"] = roleURL(role)
        }
        return try ServiceEnvironment(serviceName: service, reader: EnvironmentReader(values))
    }

    /// This database as `role`; the test server trusts loopback connections, as the embedded one does.
    func roleURL(_ role: String) -> String {
        "postgres://\(role)@\(url.host):\(url.port)/\(url.database)"
    }

    /// Runs a query and decodes one column of the first row.
    func scalar<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? {
        for try await value in try await client.query(query, logger: Self.logger).decode(T.self) { return value }
        return nil
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Creates the migrated template database once per test process and runs admin statements on the
/// server's maintenance database, one at a time (CREATE DATABASE … TEMPLATE needs an idle template).
actor TemplateStore {
    static let shared = TemplateStore()
    private var template: Task<String, any Error>?

    /// Concurrent first callers share one creation (an actor is re-entered at every `await`, so
    /// checking a stored name let several tests create the template at once).
    func templateName(server: DatabaseURL) async throws -> String {
        if let template { return try await template.value }
        let creation = Task { try await self.createTemplate(server: server) }
        template = creation
        return try await creation.value
    }

    private func createTemplate(server: DatabaseURL) async throws -> String {
        let name = "pbtest_template_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await admin(server) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestDatabase.logger)
        }
        let migrations = try Migration.load(directory: RepositoryPaths.sql)
        let client = PostgresClient(configuration: server.with(database: name).clientConfiguration(maximumConnections: 2),
                                    backgroundLogger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await MigrationRunner(migrations: migrations, logger: TestDatabase.logger).migrate(client)
            group.cancelAll()
        }
        // Nobody connects to the template from now on (autovacuum skips it too), so copying it never
        // finds "other users" on it.
        try await admin(server) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false"), logger: TestDatabase.logger)
        }
        return name
    }

    func admin(_ server: DatabaseURL, _ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: server.host, port: server.port, username: server.username, password: server.password,
            database: "postgres", tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestDatabase.logger)
        do {
            try await body(connection)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
