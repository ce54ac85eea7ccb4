import Logging
import PostgresNIO

/// Applies migrations in order, each in its own transaction, recorded in `schema_migrations`.
/// A session advisory lock serialises concurrent runners (several instances starting at once):
/// the second waits, then finds nothing left to do.
public struct MigrationRunner: Sendable {
    public let migrations: [Migration]
    public let logger: Logger

    /// Arbitrary constant shared by every runner of this project.
    static let advisoryLockKey: Int64 = 0x5072_6f66_696c_6542  // "ProfileB"

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    public struct EditedMigration: Error, CustomStringConvertible {
        public let version: Int
        public var description: String {
            "migration \(version) differs from the one applied to this database; migrations are forward-only: add a new file instead of editing an applied one"
        }
    }

    /// Applies what is missing and returns the versions it applied.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> [Int] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await applyPending(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                return applied
            } catch {
                // The lock belongs to this session; release it before the connection returns to the pool.
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    private func applyPending(on connection: PostgresConnection) async throws -> [Int] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var recorded: [Int: String] = [:]
        for try await (version, checksum) in try await connection.query(
            "SELECT version, checksum FROM schema_migrations", logger: logger
        ).decode((Int, String).self) {
            recorded[version] = checksum
        }
        var applied: [Int] = []
        for migration in migrations {
            if let checksum = recorded[migration.version] {
                guard checksum == migration.checksum else { throw EditedMigration(version: migration.version) }
                continue
            }
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            try await connection.transaction(logger: logger) { tx in
                // The file holds many statements; the extended protocol takes one per query, so a
                // temporary plpgsql function EXECUTEs the whole text with the file bound as a parameter.
                try await tx.query(
                    "CREATE OR REPLACE FUNCTION pg_temp.pb_exec_migration(sql text) RETURNS void LANGUAGE plpgsql AS $f$ BEGIN EXECUTE sql; END $f$",
                    logger: logger)
                try await tx.query("SELECT pg_temp.pb_exec_migration(\(migration.sql))", logger: logger)
                try await tx.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                    logger: logger)
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// The highest applied version, or 0 for an empty database.
    public static func currentVersion(_ client: PostgresClient, logger: Logger) async throws -> Int {
        // Two statements: Postgres resolves table names at plan time, even in an untaken CASE branch.
        for try await exists in try await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger).decode(Bool.self) {
            guard exists else { return 0 }
        }
        for try await version in try await client.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger).decode(Int.self) {
            return version
        }
        return 0
    }
}
