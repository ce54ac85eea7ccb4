import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Hourly rescores every profile (scores decay with time) and re-evaluates its segments, so that
/// decayed scores and time-window conditions (inactive for N days, within N days) stay true to
/// the clock. (The built-in segments are the API's: it syncs them into `segments` at start.)
final class SegmentMaintenance: Service, Sendable {
    private let client: PostgresClient
    private let processor: BatchProcessor
    private let logger: Logger

    init(client: PostgresClient, processor: BatchProcessor, logger: Logger) {
        self.client = client
        self.processor = processor
        self.logger = logger
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
                let scores = try await processor.rescoreAll(client)
                let evaluated = try await SegmentEvaluator(logger: logger).reevaluateAll(client)
                logger.info("hourly re-evaluation", metadata: ["profiles": "\(evaluated)", "scores_changed": "\(scores.changed)"])
            } catch is CancellationError {
                return
            } catch {
                logger.databaseFailure(.warning, "segment maintenance failed", error: error)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
            }
        }
    }
}
