import Logging
import PostgresNIO
import ServiceLifecycle
import Shared

/// Syncs the built-in segments at start, then re-evaluates every profile hourly so that
/// time-window conditions (inactive for N days, within N days) stay true to the clock.
final class SegmentMaintenance: Service, Sendable {
    private let client: PostgresClient
    private let builtins: BuiltinSegments
    private let logger: Logger

    init(client: PostgresClient, builtins: BuiltinSegments, logger: Logger) {
        self.client = client
        self.builtins = builtins
        self.logger = logger
    }

    func run() async throws {
        var synced = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if !synced {
                    try await builtins.sync(client, logger: logger)
                    synced = true
                }
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
                _ = try await SegmentEvaluator(logger: logger).reevaluateAll(client)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("segment maintenance failed", metadata: ["error": "\(describeDatabaseError(error))"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
            }
        }
    }
}
