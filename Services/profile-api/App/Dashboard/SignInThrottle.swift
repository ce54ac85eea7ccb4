import NIOCore
import ServiceKit

/// Limits failed dashboard sign-ins, per client address and in all (an attacker spreading guesses
/// over many addresses still meets the second limit). Only failures are counted: a user who signs
/// in at the first try never gets closer to a limit. Per process, like the other rate limits.
struct SignInThrottle: Sendable {
    private let perAddress: RateLimiter
    private let overall: RateLimiter

    /// `failures` at once per address (then one more per `refillSeconds`); ten times as many in all.
    init(failures: Int, refillSeconds: Int) {
        perAddress = RateLimiter(limit: RateLimit(perSecond: 1 / Double(refillSeconds), burst: Double(failures)))
        overall = RateLimiter(limit: RateLimit(perSecond: 10 / Double(refillSeconds), burst: Double(failures * 10)))
    }

    /// Seconds until this address may try again, or nil if it may now.
    func retryAfter(_ address: SocketAddress?) -> Int? {
        let waits = [perAddress.peek(Self.key(address)), overall.peek("all")].compactMap { $0 }
        return waits.max()
    }

    func recordFailure(_ address: SocketAddress?) {
        _ = perAddress.take(Self.key(address))
        _ = overall.take("all")
    }

    private static func key(_ address: SocketAddress?) -> String { address?.ipAddress ?? "unknown" }
}
