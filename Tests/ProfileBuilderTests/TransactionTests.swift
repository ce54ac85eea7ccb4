import Foundation
import PostgresNIO
import ServiceKit
import Testing

/// The transaction helper never reports a commit that the server turned into a rollback.
@Suite struct TransactionTests {
    /// A statement that fails after its row description: PostgreSQL sends the error with the rows,
    /// so a caller that does not read them sees no error from `query`, and COMMIT answers ROLLBACK.
    @Test func a_failure_in_unread_rows_makes_the_transaction_throw_and_keeps_nothing() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE kept (n int)", logger: TestDatabase.logger)
            await #expect(throws: TransactionRolledBack.self) {
                try await db.client.transaction(logger: TestDatabase.logger) { tx in
                    try await tx.query("INSERT INTO kept VALUES (1)", logger: TestDatabase.logger)
                    // Division by zero in the second row: raised while rows stream, never read here.
                    _ = try await tx.query("SELECT 1 / (n - 1) FROM generate_series(0, 1) AS n", logger: TestDatabase.logger)
                }
            }
            #expect(try await db.scalar("SELECT count(*)::int FROM kept", as: Int.self) == 0)
        }
    }

    @Test func a_transaction_whose_statements_succeed_commits() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE kept (n int)", logger: TestDatabase.logger)
            try await db.client.transaction(logger: TestDatabase.logger) { tx in
                try await tx.query("INSERT INTO kept VALUES (1)", logger: TestDatabase.logger)
            }
            #expect(try await db.scalar("SELECT count(*)::int FROM kept", as: Int.self) == 1)
        }
    }
}
