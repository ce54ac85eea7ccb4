import Foundation
import Logging
import PostgresNIO
import Prometheus
import ServiceKit
import ServiceLifecycle

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
    private let deferredEvents: Counter
    private let batchLatency: DurationHistogram
    private let metrics: ServiceMetrics

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
        deferredEvents = metrics.counter("engine_events_deferred_total", help: "Events left for a later batch because another worker held their identity or profile")
        batchLatency = metrics.latency("engine_batch_duration_seconds", help: "Time to apply and commit one batch")
        self.metrics = metrics
    }

    func run() async throws {
        let poll = Duration.milliseconds(config.pollIntervalMilliseconds)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var taken = BatchResult()
            do {
                taken = try await withDeadline(seconds: Double(config.batchDeadlineSeconds)) {
                    try await self.processBatch(shards: try await self.queue.shardsWithWork(self.client).shuffled())
                }
            } catch let timeout as TimeoutError {
                // Seen when Postgres went away mid-batch: a query on the broken connection never answered.
                logger.error("batch abandoned: a database call did not finish", metadata: ["after": "\(timeout)"])
            } catch {
                logger.databaseFailure(.warning, "queue worker error", error: error)
                try? await Task.sleep(for: .seconds(1))
            }
            if taken.done == 0 && taken.deferred > 0 {
                // Only events another worker holds are left: it commits within a batch, so look again soon.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 5...20)))
            } else if taken.done == 0 {
                // Idle (or everything left is locked by others or backing off): wait for a wake-up or the poll interval.
                await cancelWhenGracefulShutdown { await self.signal.wait(upTo: poll) }
            }
        }
    }

    /// What one batch took off the ready queue (applied, or failed and backed off), and what it left there for later.
    struct BatchResult: Sendable {
        var done = 0
        var deferred = 0
        var identityConflicts: [IdentityConflict.Rule: Int] = [:]
    }

    /// Applies everything that is ready, then returns how many events it took (used by tests and tools).
    func drainReady() async throws -> Int {
        var total = 0
        while true {
            let taken = try await processBatch(shards: try await queue.shardsWithWork(client).shuffled())
            total += taken.done
            if taken.done == 0 && taken.deferred == 0 { return total }
            if taken.done == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// Locks up to `shardsPerBatch` free shards among `shards` (one worker per shard, so a
    /// visitor's events are applied in order), claims their oldest ready events and applies them.
    /// Returns the number of events taken (0: nothing ready, or every shard busy) and deferred.
    private func processBatch(shards: [Int16]) async throws -> BatchResult {
        guard !shards.isEmpty else { return BatchResult() }
        let start = ContinuousClock.now
        var retry = 0
        while true {
            do {
                let taken = try await client.transaction(logger: logger) { tx -> BatchResult in
                    if !config.synchronousCommit {
                        // Safe for exactly-once: see EngineConfig.synchronousCommit.
                        try await tx.query("SET LOCAL synchronous_commit = off", logger: logger)
                    }
                    let locked = try await queue.lockShards(shards, limit: config.shardsPerBatch, on: tx)
                    guard !locked.isEmpty else { return BatchResult() }
                    let items = try await queue.claim(shards: locked, limit: config.batchSize, on: tx)
                    guard !items.isEmpty else { return BatchResult() }
                    let outcome = try await processor.apply(items, on: tx)
                    let done = items.filter { !outcome.deferred.contains($0.eventID) }
                    if !done.isEmpty { try await queue.finish(done.map(\.queueID), on: tx) }
                    return BatchResult(done: done.count, deferred: items.count - done.count, identityConflicts: outcome.identityConflicts)
                }
                for (rule, count) in taken.identityConflicts {
                    metrics.counter("engine_identity_conflicts_total", labels: [("rule", rule.rawValue)],
                                    help: "Merges and links the identity rules refused, by rule").increment(by: Int64(count))
                }
                if taken.done > 0 {
                    applied.increment(by: Int64(taken.done))
                    batchLatency.record(ContinuousClock.now - start)
                }
                deferredEvents.increment(by: Int64(taken.deferred))
                return taken
            } catch {
                let failure = DatabaseFailure(error)
                // Another worker created the same visitor or locked the same profiles: just run it again.
                if (failure == .duplicate || failure == .retryable) && retry < 10 {
                    retry += 1
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...20) * retry))
                    continue
                }
                if failure == .unavailable { throw error }
                logger.databaseFailure(.warning, "batch failed; applying its events one by one", error: error)
                return try await isolateFailures(shards: shards)
            }
        }
    }

    /// Applies the ready events of the shards one transaction each, recording failures per event.
    private func isolateFailures(shards: [Int16]) async throws -> BatchResult {
        let candidates = try await client.transaction(logger: logger) { tx -> [QueuedEvent] in
            let locked = try await queue.lockShards(shards, limit: config.shardsPerBatch, on: tx)
            return try await queue.claim(shards: locked, limit: config.batchSize, on: tx)
        }
        var taken = BatchResult()
        // A deferred event holds back the rest of its visitor's events in this pass, to keep their order.
        var heldVisitors = Set<String>()
        for item in candidates {
            if let visitor = item.event?.visitorKey, heldVisitors.contains(visitor) {
                taken.deferred += 1
                continue
            }
            do {
                let done = try await client.transaction(logger: logger) { tx -> Bool in
                    guard try await queue.lockShards([item.shard], limit: 1, on: tx) == [item.shard] else { return false }
                    let claimed = try await queue.claim(shards: [item.shard], limit: 1, onlyQueueID: item.queueID, on: tx)
                    guard !claimed.isEmpty else { return false }
                    guard try await processor.apply(claimed, on: tx).deferred.isEmpty else { return false }
                    try await queue.finish([item.queueID], on: tx)
                    return true
                }
                if done {
                    applied.increment()
                    taken.done += 1
                } else {
                    taken.deferred += 1
                    if let visitor = item.event?.visitorKey { heldVisitors.insert(visitor) }
                }
            } catch {
                let failure = DatabaseFailure(error)
                if failure == .unavailable { throw error }
                // A conflict with another worker is not the event's fault: it stays queued as it is.
                if failure == .duplicate || failure == .retryable { continue }
                failed.increment()
                taken.done += 1
                let dead = try await queue.recordFailure(
                    item, error: describeDatabaseError(error), maxAttempts: config.maxAttempts,
                    delayMilliseconds: config.retryDelayMilliseconds(afterAttempt: item.attempts + 1), client: client)
                if dead {
                    deadLettered.increment()
                    logger.databaseFailure(.error, "event dead-lettered", error: error, metadata: ["event_id": "\(item.eventID)"])
                }
            }
        }
        return taken
    }
}
