import Logging
import PostgresNIO
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Micro-batches writes across concurrent requests: requests wait here until their events are
/// committed, and the batcher writes whatever has gathered (up to `maxEvents`, or after `maxWait`)
/// in one transaction. Throughput then scales with batch size instead of commits per second, and
/// each request is still answered only after its own events are durable.
final class EventBatcher: Service, Sendable {
    typealias Outcomes = Result<[EventStore.Outcome], any Error>

    private struct Pending {
        let events: [PreparedEvent]
        let continuation: CheckedContinuation<Outcomes, Never>
    }

    private struct State {
        var pending: [Pending] = []
        var pendingEvents = 0
        var closed = false
    }

    private let store: EventStore
    private let notifier: QueueNotifier
    private let maxEvents: Int
    private let maxWait: Duration
    private let concurrency: Int
    private let timeoutSeconds: Double
    private let logger: Logger
    private let state = Mutex(State())
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation
    private let batchSizes: ValueHistogram
    private let commitLatency: DurationHistogram
    private let commitFailures: Counter

    init(store: EventStore, notifier: QueueNotifier, config: CollectorConfig, metrics: ServiceMetrics, logger: Logger) {
        self.store = store
        self.notifier = notifier
        self.maxEvents = config.batchMaxEvents
        self.maxWait = .milliseconds(config.batchMaxWaitMilliseconds)
        self.concurrency = config.writerConcurrency
        self.timeoutSeconds = config.writeTimeoutSeconds
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        batchSizes = metrics.values("collector_batch_events", buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000],
                                    help: "Events written per transaction")
        commitLatency = metrics.latency("collector_commit_duration_seconds", help: "Time to write and commit one batch")
        commitFailures = metrics.counter("collector_commit_failures_total", help: "Batches whose transaction failed")
    }

    /// Suspends until `events` are committed (or the write failed) and returns one outcome per event.
    func submit(_ events: [PreparedEvent]) async -> Outcomes {
        guard !events.isEmpty else { return .success([]) }
        return await withCheckedContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending.append(Pending(events: events, continuation: continuation))
                state.pendingEvents += events.count
                return true
            }
            if accepted {
                ring.yield()
            } else {
                continuation.resume(returning: .failure(APIError.unavailable("the collector is shutting down", retryAfter: 1)))
            }
        }
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            await withGracefulShutdownHandler {
                for await _ in doorbell {
                    if maxWait > .zero, state.withLock({ $0.pendingEvents < maxEvents }) {
                        try? await Task.sleep(for: maxWait)
                    }
                    while let batch = takeBatch() {
                        if inFlight >= concurrency {
                            await group.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        group.addTask { await self.write(batch) }
                    }
                }
            } onGracefulShutdown: {
                // Requests already waiting are still written; new ones are refused with 503.
                self.state.withLock { $0.closed = true }
                self.ring.finish()
            }
            while let batch = takeBatch() {
                group.addTask { await self.write(batch) }
            }
            await group.waitForAll()
        }
    }

    /// Takes whole requests until the batch would exceed `maxEvents` (a single larger request still goes alone).
    private func takeBatch() -> [Pending]? {
        state.withLock { state in
            guard !state.pending.isEmpty else { return nil }
            var count = 0
            var taken = 0
            for request in state.pending {
                if taken > 0 && count + request.events.count > maxEvents { break }
                count += request.events.count
                taken += 1
            }
            let batch = Array(state.pending.prefix(taken))
            state.pending.removeFirst(taken)
            state.pendingEvents -= count
            return batch
        }
    }

    private func write(_ batch: [Pending]) async {
        let events = batch.flatMap(\.events)
        let start = ContinuousClock.now
        let store = self.store
        let logger = self.logger
        do {
            let outcomes = try await withDeadline(seconds: timeoutSeconds) {
                try await store.write(events, logger: logger)
            }
            commitLatency.record(ContinuousClock.now - start)
            batchSizes.record(Double(events.count))
            if outcomes.contains(.stored) { notifier.eventsCommitted() }
            var offset = 0
            for request in batch {
                request.continuation.resume(returning: .success(Array(outcomes[offset..<offset + request.events.count])))
                offset += request.events.count
            }
        } catch {
            commitFailures.increment()
            logger.databaseFailure(.error, "batch write failed", error: error, metadata: ["events": "\(events.count)"])
            for request in batch { request.continuation.resume(returning: .failure(error)) }
        }
    }
}
