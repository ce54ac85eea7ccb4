import Logging
import PostgresNIO
import ServiceLifecycle
import Shared

/// Holds a dedicated connection that LISTENs for the collectors' wake-ups (LISTEN does not work
/// through a pooled or PgBouncer transaction connection). After a lost connection it reconnects,
/// LISTENs again, and wakes the workers once, since notifications sent meanwhile are gone.
final class QueueListener: Service, Sendable {
    private let database: DatabaseURL
    private let signal: WakeSignal
    private let logger: Logger

    init(database: DatabaseURL, signal: WakeSignal, logger: Logger) {
        self.database = database
        self.signal = signal
        self.logger = logger
    }

    func run() async throws {
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
                logger.warning("queue listener lost its connection; reconnecting", metadata: ["error": "\(describeDatabaseError(error))"])
            }
            signal.ring()
            try? await Task.sleep(for: .milliseconds(min(5000, 100 * (1 << min(attempt, 6)))))
        }
    }

    private func listenOnce() async throws {
        let configuration = PostgresConnection.Configuration(
            host: database.host, port: database.port, username: database.username, password: database.password,
            database: database.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await connection.listen(on: QueueChannel.eventsQueued) { notifications in
                signal.ring()
                for try await _ in notifications {
                    signal.ring()
                }
            }
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
