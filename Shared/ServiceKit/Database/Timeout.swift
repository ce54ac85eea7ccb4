/// Thrown by `withTimeout` when the operation did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible, Sendable {
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s" }
}

/// Runs `operation`, cancelling it after `seconds` and waiting for it to end. For database calls use
/// `withDeadline`, which does not wait: a postgres-nio query can ignore cancellation for good.
public func withTimeout<T: Sendable>(
    seconds: Double,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimeoutError(seconds: seconds)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimeoutError(seconds: seconds) }
        return result
    }
}
