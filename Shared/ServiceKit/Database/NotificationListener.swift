import Logging
import PostgresNIO
import ServiceLifecycle

/// Holds a dedicated connection that LISTENs on one channel and rings a `WakeSignal` for each
/// notification (LISTEN does not work through a pooled or PgBouncer transaction connection).
/// After a lost connection it reconnects, LISTENs again, and rings once, since notifications
/// sent meanwhile are gone. The engine listens for queued events, the API for webhook deliveries.
public final class NotificationListener: Service, Sendable {
    private let database: DatabaseURL
    private let channel: String
    private let signal: WakeSignal
    private let logger: Logger

    public init(database: DatabaseURL, channel: String, signal: WakeSignal, logger: Logger) {
        self.database = database
        self.channel = channel
        self.signal = signal
        self.logger = logger
    }

    public func run() async throws {
        var attempt = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.listenOnce()
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isShuttingDownGracefully { return }
                // Back off only while connecting keeps failing quickly.
                attempt = ContinuousClock.now - started > .seconds(10) ? 1 : attempt + 1
                logger.databaseFailure(.warning, "notification listener lost its connection; reconnecting", error: error, metadata: ["channel": "\(channel)"])
            }
            signal.ring()
            try? await Task.sleep(for: .milliseconds(min(5000, 100 * (1 << min(attempt, 6)))))
        }
    }

    private func listenOnce() async throws {
        let connection = try await PostgresConnection.connect(configuration: try database.connectionConfiguration(), id: 0, logger: logger)
        do {
            // On cancellation (graceful shutdown) close the connection ourselves: waiting for
            // postgres-nio to end the LISTEN on a cancelled task sometimes never returned, and the
            // service, and the process's shutdown with it, hung idle.
            try await withTaskCancellationHandler {
                try await connection.listen(on: channel) { notifications in
                    signal.ring()
                    for try await _ in notifications {
                        signal.ring()
                    }
                }
            } onCancel: {
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
            }
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
