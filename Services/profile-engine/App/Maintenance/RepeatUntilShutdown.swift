import Logging
import ServiceKit
import ServiceLifecycle

/// The loop of the engine's periodic maintenance services: runs `body`, logs a failure as a
/// warning (the next pass tries again), sleeps `seconds`, until graceful shutdown.
func repeatUntilShutdown(every seconds: Int, logger: Logger, failure message: Logger.Message,
                         _ body: () async throws -> Void) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        do {
            try await body()
        } catch {
            logger.warning(message, metadata: ["error": "\(describeDatabaseError(error))"])
        }
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}
