import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Wakes the engines after events are committed, with at most one NOTIFY per interval per
/// collector: a NOTIFY serialises commits server-wide, so one per event would halve throughput.
/// The first request after a quiet period notifies at once; later ones ride on the next tick.
final class QueueNotifier: Service, Sendable {
    private let client: PostgresClient
    private let interval: Duration
    private let logger: Logger
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation
    private let owed = Mutex(false)

    init(client: PostgresClient, intervalMilliseconds: Int, logger: Logger) {
        self.client = client
        self.interval = .milliseconds(intervalMilliseconds)
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Called after each commit; cheap and never blocks.
    func eventsCommitted() {
        let first = owed.withLock { owed in
            defer { owed = true }
            return !owed
        }
        if first { ring.yield() }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in doorbell.cancelOnGracefulShutdown() {
                owed.withLock { $0 = false }
                do {
                    try await client.query("SELECT pg_notify(\(NotificationChannel.eventsQueued.rawValue), '')", logger: logger)
                } catch {
                    // The engines also poll, so a lost wake-up only delays them.
                    logger.databaseFailure(.debug, "notify failed", error: error)
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
            self.ring.finish()
        }
    }
}
