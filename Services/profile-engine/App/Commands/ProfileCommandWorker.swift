import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import ServiceLifecycle

/// Carries out the profile creations and updates the profile API leaves in `profile_commands`
/// (sql/0015): claims the oldest pending one, applies it and finishes the row in one transaction,
/// so a write takes effect exactly once even when an engine dies in the middle, then NOTIFYs
/// `commands_finished` for the API request waiting on it. Safe to run in every engine process.
final class ProfileCommandWorker: Service, Sendable {
    private let client: PostgresClient
    private let signal: WakeSignal
    private let pollSeconds: Int
    private let logger: Logger

    /// `signal` rings when the API notifies `profile_commands`; the poll catches notifications
    /// sent while the listener was reconnecting.
    init(client: PostgresClient, signal: WakeSignal = WakeSignal(), pollSeconds: Int = 2, logger: Logger) {
        self.client = client
        self.signal = signal
        self.pollSeconds = pollSeconds
        self.logger = logger
    }

    func run() async throws {
        await repeatUntilShutdown(every: pollSeconds, wake: signal, logger: logger, failure: "profile command failed") {
            while try await runNext() != nil {}
        }
    }

    /// Carries out the oldest pending command, if any; returns its id.
    @discardableResult
    func runNext() async throws -> Int64? {
        var claimed: Int64?
        do {
            return try await client.transaction(logger: logger) { tx -> Int64? in
                let rows = try await tx.query(
                    "SELECT \(unescaped: ProfileCommand.columns) FROM profile_commands WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    logger: logger)
                var row: (Int64, Int64, String, UUID, String, String, Int64?, Int64?)?
                for try await found in rows.decode((Int64, Int64, String, UUID, String, String, Int64?, Int64?).self) { row = found }
                guard let row else { return nil }
                claimed = row.0
                let command = try ProfileCommand(row: row)
                switch try await command.apply(on: tx, logger: logger) {
                case .done(let profile, let version):
                    let result: JSONValue = ["profile_id": .string(profile.uuidString.lowercased()), "version": .number(Double(version))]
                    try await tx.query(
                        "UPDATE profile_commands SET status = 'done', completed_at = now(), result = \(result.jsonText)::jsonb WHERE id = \(command.id)",
                        logger: logger)
                case .refused(let refusal, let result):
                    try await tx.query(
                        """
                        UPDATE profile_commands SET status = 'failed', completed_at = now(), error = \(refusal.rawValue),
                               result = \(result?.jsonText)::jsonb
                        WHERE id = \(command.id)
                        """, logger: logger)
                }
                try await CommandTable.profileCommands.notifyFinished(command.id, on: tx, logger: logger)
                logger.info("profile command carried out", metadata: ["profile_command": "\(command.id)", "kind": "\(command.kind.rawValue)"])
                return command.id
            }
        } catch {
            guard let claimed else { throw error }
            // The try rolled back; count it, and finish the command once it has failed too often.
            try await CommandTable.profileCommands.recordFailure(claimed, error: error, client: client, logger: logger)
            throw error
        }
    }
}
