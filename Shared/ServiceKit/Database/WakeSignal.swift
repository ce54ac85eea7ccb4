import Synchronization

/// Wakes idle workers when a `NotificationListener` hears a notification; a worker waits for it
/// or for its poll interval, whichever comes first, so a lost notification only delays work.
public final class WakeSignal: Sendable {
    private struct State {
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var pending = false
        /// Rings so far, for `wait(upTo:after:)`.
        var rings = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            state.rings += 1
            if waiters.isEmpty { state.pending = true }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Rings so far: read it before looking for work, and pass it to `wait(upTo:after:)`.
    public var rings: Int { state.withLock { $0.rings } }

    /// Returns when rung (or if a ring arrived while nobody waited), or after `timeout`.
    public func wait(upTo timeout: Duration) async {
        await wait(upTo: timeout, after: nil)
    }

    /// Returns at once if the signal rang since `rings` was read as `seen`, else as `wait(upTo:)`.
    /// For many waiters that each look for their own answer: a ring another waiter took while
    /// this one was looking is not missed.
    public func wait(upTo timeout: Duration, after seen: Int?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForRing(after: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing(after seen: Int?) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled || (seen.map { $0 != state.rings } ?? false) {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
