import Logging
import PostgresNIO

/// Start-up check: waits for Postgres, optionally migrates, and refuses to run against an older schema.
public struct SchemaGate: Sendable {
    public let runner: MigrationRunner
    public let migrateOnStart: Bool
    public let timeoutSeconds: Int
    public let serviceName: String

    public struct OutdatedSchema: Error, CustomStringConvertible {
        public let found: Int
        public let expected: Int
        public let serviceName: String
        public var description: String {
            "database schema is at version \(found) but this build needs \(expected): run `\(serviceName) migrate` (or set MIGRATE_ON_START=true)"
        }
    }

    public struct Unreachable: Error, CustomStringConvertible {
        public let seconds: Int
        public let underlying: String
        public var description: String { "PostgreSQL was not reachable within \(seconds) s: \(underlying)" }
    }

    public init(runner: MigrationRunner, migrateOnStart: Bool, timeoutSeconds: Int, serviceName: String) {
        self.runner = runner
        self.migrateOnStart = migrateOnStart
        self.timeoutSeconds = timeoutSeconds
        self.serviceName = serviceName
    }

    public func check(_ client: PostgresClient, logger: Logger) async throws {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        var version: Int
        while true {
            do {
                version = try await withTimeout(seconds: 5) {
                    try await MigrationRunner.currentVersion(client, logger: logger)
                }
                break
            } catch {
                if ContinuousClock.now >= deadline {
                    throw Unreachable(seconds: timeoutSeconds, underlying: describeDatabaseError(error))
                }
                logger.databaseFailure(.warning, "waiting for PostgreSQL", error: error)
                try await Task.sleep(for: .seconds(1))
            }
        }
        if version < runner.latestVersion && migrateOnStart {
            try await runner.migrate(client)
            version = try await MigrationRunner.currentVersion(client, logger: logger)
        }
        guard version >= runner.latestVersion else {
            throw OutdatedSchema(found: version, expected: runner.latestVersion, serviceName: serviceName)
        }
    }
}
