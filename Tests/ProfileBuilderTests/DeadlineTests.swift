import Foundation
import ServiceKit
import Synchronization
import Testing

@Suite("Deadline")
struct DeadlineTests {
    @Test func an_operation_that_finishes_in_time_returns_its_value() async throws {
        let value = try await withDeadline(seconds: 5) { 42 }
        #expect(value == 42)
    }

    @Test func an_operation_error_is_rethrown() async {
        struct Broken: Error {}
        await #expect(throws: Broken.self) {
            try await withDeadline(seconds: 5) { () async throws -> Int in throw Broken() }
        }
    }

    /// What postgres-nio does with a query written to a closed connection: a wait that ignores
    /// cancellation and never ends. The caller must still get its answer at the deadline.
    @Test func a_call_that_never_answers_and_ignores_cancellation_is_abandoned_at_the_deadline() async {
        // The call never answers unless the test resumes it below: getting TimeoutError at all
        // proves the deadline abandoned it.
        let parked = Parked()
        await #expect(throws: TimeoutError.self) {
            try await withDeadline(seconds: 0.2) { () async throws -> Int in
                await withCheckedContinuation { continuation in parked.continuation.withLock { $0 = continuation } }
                return 1
            }
        }
        parked.continuation.withLock { $0?.resume() }  // let the abandoned call end with the test
    }

    private final class Parked: Sendable {
        let continuation = Mutex<CheckedContinuation<Void, Never>?>(nil)
    }
}
