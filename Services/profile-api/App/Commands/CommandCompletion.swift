import Logging
import ProfileModel
import ServiceKit

/// Lets an API request wait for the engine to finish a command it wrote (an erasure, a profile
/// write): the engine NOTIFYs `commands_finished` when it finishes one, a `NotificationListener`
/// rings `signal`, and each waiting request reads its own command's row again.
struct CommandCompletion: Sendable {
    let signal: WakeSignal

    /// The listener that rings `signal`; the API runs it as one of its services.
    static func listener(database: DatabaseURL, signal: WakeSignal, logger: Logger) -> NotificationListener {
        NotificationListener(database: database, channel: NotificationChannel.commandsFinished.rawValue, signal: signal, logger: logger)
    }

    /// Calls `finished` until it answers, or `seconds` have passed (then nil). It looks again on
    /// every notification, and at least every second: a notification sent while the listener was
    /// reconnecting is lost, and one for another command also wakes this request.
    func wait<Answer: Sendable>(upTo seconds: Double, _ finished: () async throws -> Answer?) async throws -> Answer? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            let seen = signal.rings
            if let answer = try await finished() { return answer }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            await signal.wait(upTo: min(left, .seconds(1)), after: seen)
        }
    }
}
