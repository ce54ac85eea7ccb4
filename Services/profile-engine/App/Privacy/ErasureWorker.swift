import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Carries out the GDPR erasure and anonymisation requests that the profile API leaves in
/// `erasure_requests`: claims the oldest pending one and runs `carry_out_erasure_request`
/// (sql/0014), which locks the person's profiles before it reads and sweeps them and finishes
/// the request with its receipt, all in one transaction. Safe to run in every engine process.
final class ErasureWorker: Service, Sendable {
    private let client: PostgresClient
    private let signal: WakeSignal
    private let pollSeconds: Int
    private let logger: Logger

    /// `signal` rings when the API notifies `erasure_requests`; the poll catches notifications
    /// sent while the listener was reconnecting.
    init(client: PostgresClient, signal: WakeSignal = WakeSignal(), pollSeconds: Int = 2, logger: Logger) {
        self.client = client
        self.signal = signal
        self.pollSeconds = pollSeconds
        self.logger = logger
    }

    func run() async throws {
        await repeatUntilShutdown(every: pollSeconds, wake: signal, logger: logger, failure: "erasure request failed") {
            while try await runNext() != nil {}
        }
    }

    /// Carries out the oldest pending request, if any; returns its id.
    @discardableResult
    func runNext() async throws -> Int64? {
        var claimed: Int64?
        do {
            return try await client.transaction(logger: logger) { tx -> Int64? in
                let rows = try await tx.query(
                    "SELECT id FROM erasure_requests WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", logger: logger)
                for try await id in rows.decode(Int64.self) { claimed = id }
                guard let claimed else { return nil }
                // Read the answer: an error raised inside the function arrives with the rows, and an
                // unread one would let the transaction end in a silent rollback.
                let receipt = try await tx.query("SELECT carry_out_erasure_request(\(claimed))::text", logger: logger)
                for try await _ in receipt.decode(String?.self) {}
                try await CommandTable.erasureRequests.notifyFinished(claimed, on: tx, logger: logger)
                logger.info("erasure request carried out", metadata: ["erasure_request": "\(claimed)"])
                return claimed
            }
        } catch {
            guard let claimed else { throw error }
            // The try rolled back; count it, and finish the command once it has failed too often.
            try await CommandTable.erasureRequests.recordFailure(claimed, error: error, client: client, logger: logger)
            throw error
        }
    }
}
