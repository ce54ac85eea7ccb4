import Foundation
import Logging

/// Settings every service shares, read once from the environment at start.
public struct CommonConfig: Sendable {
    public enum LogFormat: String, Sendable, CaseIterable { case json, text }

    public var database: DatabaseURL
    public var bindHost: String
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Folder of the numbered `.sql` migrations.
    public var sqlDirectory: String
    public var profileFieldsFile: String
    public var migrateOnStart: Bool
    /// How long a service waits for Postgres at start before giving up.
    public var startupTimeoutSeconds: Int
    public var databasePoolSize: Int
    public var databaseJIT: DatabaseURL.JIT

    public init(environment env: EnvironmentReader) throws {
        guard let url = env.raw(DatabaseURL.variable) else {
            throw ConfigError(variable: DatabaseURL.variable, message: "is not set (e.g. postgres://postgres@127.0.0.1:5432/profile_builder)")
        }
        database = try DatabaseURL(parsing: url)
        bindHost = env.string("BIND_HOST", default: "127.0.0.1")
        logLevel = try env.oneOf("LOG_LEVEL", default: Logger.Level.info)
        logFormat = try env.oneOf("LOG_FORMAT", default: LogFormat.json)
        sqlDirectory = env.string("SQL_DIR", default: "sql")
        profileFieldsFile = env.string("PROFILE_FIELDS_FILE", default: "config/profile_fields.yaml")
        migrateOnStart = try env.bool("MIGRATE_ON_START", default: false)
        startupTimeoutSeconds = try env.int("STARTUP_TIMEOUT_SECONDS", default: 30, range: 0...3600)
        databasePoolSize = try env.int("DATABASE_POOL_SIZE", default: 10, range: 1...500)
        databaseJIT = try env.oneOf("DATABASE_JIT", default: DatabaseURL.JIT.off)
    }
}
