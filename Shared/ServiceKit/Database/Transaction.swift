import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` in one transaction on a pooled connection and rethrows the body's own error.
    /// Use it instead of postgres-nio's `withTransaction`, which hangs forever when the connection
    /// breaks mid-transaction (see `PostgresConnection.transaction`).
    ///
    /// Use it too for any single write whose success is acknowledged to someone. A lone statement
    /// runs in an implicit transaction that PostgreSQL commits only at the protocol's Sync, after it
    /// has sent the statement's rows and CommandComplete; postgres-nio (1.33) finishes the query on
    /// CommandComplete. A commit that then fails (a deferred constraint, or the server killed while
    /// flushing the commit) still looked like success. An explicit COMMIT answers only once the
    /// transaction is durable. It costs two round trips more.
    public func transaction<Result>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await withConnection(isolation: isolation) { connection in
            try await connection.transaction(logger: logger, isolation: isolation, body)
        }
    }
}

extension PostgresConnection {
    /// BEGIN, `body`, COMMIT; ROLLBACK if `body` throws — but only while the connection is alive.
    /// postgres-nio (1.33) never completes a query written to a closed connection, so the ROLLBACK
    /// its own `withTransaction` sends after a connection loss waited forever: after a Postgres
    /// restart every engine worker hung in it. The server rolls back the transaction of a session
    /// that is gone by itself.
    public func transaction<Result>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await query("BEGIN;", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            if !isClosed && !DatabaseFailure.isConnectionLoss(error) {
                _ = try? await query("ROLLBACK;", logger: logger)
            }
            throw error
        }
        // An error raised by a statement whose rows `body` never read reaches postgres-nio only
        // with those rows, so `body` may return normally from a transaction the server has
        // aborted; COMMIT then answers ROLLBACK, not an error. Read the answer's command tag.
        let commit = try await query("COMMIT;", []).get()
        guard commit.metadata.command == "COMMIT" else { throw TransactionRolledBack(command: commit.metadata.command) }
        return value
    }
}

/// COMMIT answered something else (ROLLBACK): a statement inside the transaction failed unseen,
/// and nothing of it was kept.
public struct TransactionRolledBack: Error, CustomStringConvertible {
    public let command: String

    public var description: String {
        "the transaction was rolled back at COMMIT (the server answered \(command)): a statement in it failed"
    }
}
