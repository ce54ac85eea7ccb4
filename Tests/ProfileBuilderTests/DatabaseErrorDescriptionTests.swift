@testable import EngineApp
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ServiceKit
import Testing

/// PostgreSQL's DETAIL quotes row values ("Key (email)=(ann@example.com) already exists.",
/// "Failing row contains (…)"): described errors, stored errors and answers name the constraint and
/// SQLSTATE an operator acts on, never the values (issue #23 item 9).
@Suite struct DatabaseErrorDescriptionTests {
    /// Runs `sql` and returns the server's error; the test fails if the statement succeeds.
    static func serverError(_ db: TestDatabase, _ sql: PostgresQuery) async throws -> PSQLError {
        do {
            try await db.client.query(sql, logger: TestDatabase.logger)
        } catch let error as PSQLError {
            return error
        }
        throw TestSetupError("the statement was expected to fail: \(sql.sql)")
    }

    @Test func a_unique_violation_is_described_by_its_constraint_without_the_duplicate_value() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("CREATE TABLE people (email text CONSTRAINT people_email_key UNIQUE)", logger: TestDatabase.logger)
            try await db.client.query("INSERT INTO people VALUES (\("ann@example.com"))", logger: TestDatabase.logger)
            let error = try await Self.serverError(db, "INSERT INTO people VALUES (\("ann@example.com"))")
            // The server did quote the value: this is what must not travel further.
            #expect(databaseErrorDetail(error) == "Key (email)=(ann@example.com) already exists.")
            let described = describeDatabaseError(error)
            #expect(described == #"duplicate key value violates unique constraint "people_email_key" [SQLSTATE 23505]"#)
        }
    }

    @Test func a_check_violation_is_described_by_its_constraint_without_the_failing_row() async throws {
        try await TestDatabase.with { db in
            try await db.client.query(
                "CREATE TABLE people (email text CONSTRAINT people_email_domain CHECK (email NOT LIKE '%@example.com'))",
                logger: TestDatabase.logger)
            let error = try await Self.serverError(db, "INSERT INTO people VALUES (\("ann@example.com"))")
            #expect(databaseErrorDetail(error) == "Failing row contains (ann@example.com).")
            // Inside a transaction the failure arrives wrapped, and is described the same way.
            let wrapped: any Error
            do {
                _ = try await db.client.transaction(logger: TestDatabase.logger) { tx in
                    try await tx.query("INSERT INTO people VALUES (\("ann@example.com"))", logger: TestDatabase.logger)
                }
                throw TestSetupError("the insert was expected to fail")
            } catch { wrapped = error }
            for described in [describeDatabaseError(error), describeDatabaseError(wrapped)] {
                #expect(described == #"new row for relation "people" violates check constraint "people_email_domain" [SQLSTATE 23514]"#)
            }
        }
    }

    /// The engine's path to `dead_letters.last_error`: a chat message the table refuses, whose text
    /// the server quotes in "Failing row contains (…)".
    @Test func a_dead_lettered_event_keeps_the_constraint_and_not_the_failing_row() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk')", logger: TestDatabase.logger)
            try await db.client.query(
                """
                WITH e AS (
                    INSERT INTO events (site_id, message_id, type, anonymous_id, event, properties, occurred_at, received_at)
                    SELECT id, 'poison', 'chat', 'victim', 'message',
                           '{"conversation_id":"c","role":"robot","text":"ann@example.com asked about pricing"}', now(), now() FROM sites
                    RETURNING id, received_at, site_id
                )
                INSERT INTO event_queue (event_id, event_received_at, site_id, shard) SELECT id, received_at, site_id, 0 FROM e
                """, logger: TestDatabase.logger)
            let engine = try EngineHarness(db: db, ["ENGINE_MAX_ATTEMPTS": "1"])
            try await engine.drain()
            let stored = try #require(try await db.scalar("SELECT last_error FROM dead_letters", as: String.self))
            #expect(!stored.contains("ann@example.com"), "\(stored)")
            #expect(stored.contains(#"violates check constraint "chat_messages_role_check""#), "\(stored)")
            #expect(stored.hasSuffix("[SQLSTATE 23514]"), "\(stored)")
        }
    }

    /// A value PostgreSQL refuses (class 22) is the client's fault and answered 422 with the
    /// server's message, still without the DETAIL that quotes it.
    @Test func an_answer_about_a_refused_value_does_not_quote_the_detail() async throws {
        try await TestDatabase.with { db in
            let environment = try db.serviceEnvironment("profile-api")
            let router = environment.makeRouter(client: db.client)
            router.post("/refused") { _, _ -> Response in
                // PostgreSQL answers: invalid input syntax for type json, DETAIL: Token "annsecret" is invalid.
                // The error arrives with the rows, so they are read.
                for try await _ in try await db.client.query("SELECT \("annsecret")::jsonb", logger: TestDatabase.logger) {}
                return Response(status: .ok)
            }
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/refused", method: .post) { response in
                    let body = String(buffer: response.body)
                    #expect(response.status == .unprocessableContent)
                    #expect(body.contains("invalid input syntax for type json [SQLSTATE 22P02]"), "\(body)")
                    #expect(!body.contains("annsecret"), "\(body)")
                }
            }
        }
    }
}
