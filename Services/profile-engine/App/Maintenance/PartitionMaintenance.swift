import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps weekly `events` partitions created ahead of time (so rows never pile up in the default
/// partition) and prunes the messageId dedupe window. Safe to run in every engine process.
final class PartitionMaintenance: Service, Sendable {
    private let client: PostgresClient
    private let logger: Logger
    /// Dedupe keys older than this are forgotten; a client retrying after that long is a new event.
    static let dedupeWindowDays = 7

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func run() async throws {
        await repeatUntilShutdown(every: 3600, logger: logger, failure: "partition maintenance failed") {
            try await client.query("SELECT count(*) FROM ensure_event_partitions((now() AT TIME ZONE 'UTC')::date, 5)", logger: logger)
            try await client.query(
                "DELETE FROM event_dedupe WHERE received_at < now() - \(Int32(Self.dedupeWindowDays)) * interval '1 day'", logger: logger)
        }
    }
}
