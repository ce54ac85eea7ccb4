import Synchronization

/// Runs `operation` but stops waiting for it after `seconds` (throwing `TimeoutError`), even when it
/// ignores cancellation. postgres-nio (1.33) can leave a query on a connection that broke without
/// an answer forever, and `withTimeout` cannot help there: a task group waits for its children.
/// The abandoned operation is cancelled and left behind; whatever it still holds (a transaction on
/// a live connection) finishes or fails on its own.
public func withDeadline<T: Sendable>(
    seconds: Double,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Outcome<T>()
    return try await withCheckedThrowingContinuation { continuation in
        outcome.arm(continuation)
        let work = Task {
            do {
                outcome.resume(with: .success(try await operation()))
            } catch {
                outcome.resume(with: .failure(error))
            }
        }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            guard !Task.isCancelled else { return }
            work.cancel()
            outcome.resume(with: .failure(TimeoutError(seconds: seconds)))
        }
        outcome.onResume { timer.cancel() }
    }
}

/// Resumes a continuation once, with whichever result comes first.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var cleanup: (@Sendable () -> Void)?
        var done = false
    }

    private let state = Mutex(State())

    func arm(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func onResume(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.done { return true }
            state.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    func resume(with result: Result<T, any Error>) {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard !state.done else { return (nil, nil) }
            state.done = true
            defer { state.continuation = nil; state.cleanup = nil }
            return (state.continuation, state.cleanup)
        }
        taken.0?.resume(with: result)
        taken.1?()
    }
}
