import Logging
import ServiceKit
import ServiceLifecycle

/// Runs `body` until graceful shutdown, logging (not propagating) its failures, then waits
/// `seconds` — or less, when `wake` rings (a notification that there is work) — before the next
/// run. The loop of every periodic or command-driven engine worker.
func repeatUntilShutdown(every seconds: Int, wake: WakeSignal? = nil, logger: Logger, failure message: Logger.Message,
                         _ body: () async throws -> Void) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        do {
            try await body()
        } catch {
            logger.databaseFailure(.warning, message, error: error)
        }
        if let wake {
            await cancelWhenGracefulShutdown { await wake.wait(upTo: .seconds(seconds)) }
        } else {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
        }
    }
}
