import Foundation
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Shared

/// One consumer of the event queue. It takes a few free shards at a time (advisory locks), claims
/// their oldest ready events, applies them and deletes their queue rows in one transaction: an event's
/// effect happens exactly once, even if the process dies at any line (the transaction then rolls
/// back and the rows are claimed again). A batch that fails is retried event by event so that a
/// poison event is isolated, backed off and finally dead-lettered without blocking the others.
final class QueueWorker: Service, Sendable {
    private let client: PostgresClient
    private let processor: BatchProcessor
    private let queue: QueueRepository
    private let config: EngineConfig
    private let signal: WakeSignal
    private let logger: Logger
    private let applied: Counter
    private let failed: Counter
    private let deadLettered: Counter
    private let batchLatency: DurationHistogram

    init(client: PostgresClient, processor: BatchProcessor, config: EngineConfig, signal: WakeSignal, metrics: ServiceMetrics, logger: Logger) {
        self.client = client
        self.processor = processor
        self.queue = QueueRepository(logger: logger)
        self.config = config
        self.signal = signal
        self.logger = logger
        applied = metrics.counter("engine_events_applied_total", help: "Events applied to profiles")
        failed = metrics.counter("engine_event_failures_total", help: "Failed attempts to apply an event")
        deadLettered = metrics.counter("engine_events_dead_lettered_total", help: "Events moved to dead_letters")
        batchLatency = metrics.latency("engine_batch_duration_seconds", help: "Time to apply and commit one batch")
    }

    func run() async throws {
        let poll = Duration.milliseconds(config.pollIntervalMilliseconds)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var taken = 0
            do {
                taken = try await withDeadline(seconds: Double(config.batchDeadlineSeconds)) {
                    try await self.processBatch(shards: try await self.queue.shardsWithWork(self.client).shuffled())
                }
            } catch let timeout as TimeoutError {
                // Seen when Postgres went away mid-batch: a query on the broken connection never answered.
                logger.error("batch abandoned: a database call did not finish", metadata: ["after": "\(timeout)"])
            } catch {
                logger.warning("queue worker error", metadata: ["error": "\(describeDatabaseError(error))"])
                try? await Task.sleep(for: .seconds(1))
            }
            if taken == 0 {
                // Idle (or everything left is locked by others or backing off): wait for a wake-up or the poll interval.
                await cancelWhenGracefulShutdown { await self.signal.wait(upTo: poll) }
            }
        }
    }

    /// Applies everything that is ready, then returns how many events it took (used by tests and tools).
    func drainReady() async throws -> Int {
        var total = 0
        while true {
            let taken = try await processBatch(shards: try await queue.shardsWithWork(client).shuffled())
            if taken == 0 { return total }
            total += taken
        }
    }

    /// Locks up to `shardsPerBatch` free shards among `shards` (one worker per shard, so a
    /// visitor's events are applied in order), claims their oldest ready events and applies them.
    /// Returns the number of events taken (0: nothing ready, or every shard busy).
    private func processBatch(shards: [Int16]) async throws -> Int {
        guard !shards.isEmpty else { return 0 }
        let start = ContinuousClock.now
        var retry = 0
        while true {
            do {
                let count = try await client.transaction(logger: logger) { tx -> Int in
                    let locked = try await queue.lockShards(shards, limit: config.shardsPerBatch, on: tx)
                    guard !locked.isEmpty else { return 0 }
                    let items = try await queue.claim(shards: locked, limit: config.batchSize, on: tx)
                    guard !items.isEmpty else { return 0 }
                    _ = try await processor.apply(items, on: tx)
                    try await queue.finish(items.map(\.queueID), on: tx)
                    return items.count
                }
                if count > 0 {
                    applied.increment(by: Int64(count))
                    batchLatency.record(ContinuousClock.now - start)
                }
                return count
            } catch {
                let failure = DatabaseFailure(error)
                // Another worker created the same visitor or locked the same profiles: just run it again.
                if (failure == .duplicate || failure == .retryable) && retry < 10 {
                    retry += 1
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...20) * retry))
                    continue
                }
                if failure == .unavailable { throw error }
                logger.warning("batch failed; applying its events one by one", metadata: ["error": "\(describeDatabaseError(error))"])
                return try await isolateFailures(shards: shards)
            }
        }
    }

    /// Applies the ready events of the shards one transaction each, recording failures per event.
    private func isolateFailures(shards: [Int16]) async throws -> Int {
        let candidates = try await client.transaction(logger: logger) { tx -> [QueuedEvent] in
            let locked = try await queue.lockShards(shards, limit: config.shardsPerBatch, on: tx)
            return try await queue.claim(shards: locked, limit: config.batchSize, on: tx)
        }
        for item in candidates {
            do {
                try await client.transaction(logger: logger) { tx in
                    guard try await queue.lockShards([item.shard], limit: 1, on: tx) == [item.shard] else { return }
                    let claimed = try await queue.claim(shards: [item.shard], limit: 1, onlyQueueID: item.queueID, on: tx)
                    guard !claimed.isEmpty else { return }
                    _ = try await processor.apply(claimed, on: tx)
                    try await queue.finish([item.queueID], on: tx)
                }
                applied.increment()
            } catch {
                let failure = DatabaseFailure(error)
                if failure == .unavailable { throw error }
                // A conflict with another worker is not the event's fault: it stays queued as it is.
                if failure == .duplicate || failure == .retryable { continue }
                failed.increment()
                let dead = try await queue.recordFailure(
                    item, error: describeDatabaseError(error), maxAttempts: config.maxAttempts,
                    delayMilliseconds: config.retryDelayMilliseconds(afterAttempt: item.attempts + 1), client: client)
                if dead {
                    deadLettered.increment()
                    logger.error("event dead-lettered", metadata: ["event_id": "\(item.eventID)", "error": "\(describeDatabaseError(error))"])
                }
            }
        }
        return candidates.count
    }
}
