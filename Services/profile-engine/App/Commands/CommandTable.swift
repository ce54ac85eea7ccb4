import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// How often the engine tries a command (a catalog re-map, an erasure, a profile write) before it
/// finishes the command with its last error: one that cannot succeed must not block those behind it.
enum CommandAttempts {
    static let maximum = 5
}

/// A command table whose rows end `done` or `failed` with an `error`, and count failed tries in
/// `attempts`/`last_error` (sql/0015): the erasure requests and the profile commands. Waiting API
/// requests hear each finish on `commands_finished`.
enum CommandTable: String {
    case erasureRequests = "erasure_requests"
    case profileCommands = "profile_commands"

    /// Tells the API requests waiting on `commands_finished` that command `id` has finished (at commit).
    func notifyFinished(_ id: Int64, on tx: PostgresConnection, logger: Logger) async throws {
        try await tx.query("SELECT pg_notify(\(NotificationChannel.commandsFinished.rawValue), \("\(rawValue):\(id)"))", logger: logger)
    }

    /// After a try of command `id` rolled back: counts the failure where the operator can read it,
    /// and finishes the command as `failed`/`internal` once it has failed `CommandAttempts.maximum` times.
    func recordFailure(_ id: Int64, error: any Error, client: PostgresClient, logger: Logger) async throws {
        let message = describeDatabaseError(error)
        let limit = Int32(CommandAttempts.maximum)
        try await client.transaction(logger: logger) { tx in
            // `rawValue` is one of this enum's fixed table names.
            try await tx.query(
                """
                UPDATE \(unescaped: rawValue) SET attempts = attempts + 1, last_error = \(message),
                    status = CASE WHEN attempts + 1 >= \(limit) THEN 'failed' ELSE status END,
                    error = CASE WHEN attempts + 1 >= \(limit) THEN 'internal' END,
                    completed_at = CASE WHEN attempts + 1 >= \(limit) THEN now() END
                WHERE id = \(id)
                """, logger: logger)
            try await notifyFinished(id, on: tx, logger: logger)
        }
    }
}
