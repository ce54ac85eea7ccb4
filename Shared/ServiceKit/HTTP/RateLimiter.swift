import Synchronization

/// A token-bucket rate: `perSecond` sustained, `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = burst
    }
}

/// In-memory token buckets keyed by write key or client address. Each collector instance limits
/// on its own (documented): behind N collectors the effective limit is up to N times higher.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let limit: RateLimit
    private let buckets = Mutex<[String: Bucket]>([:])
    private static let maxTrackedKeys = 100_000

    public init(limit: RateLimit) {
        self.limit = limit
    }

    /// Takes `cost` tokens; returns nil when allowed, or the seconds to wait before retrying.
    public func take(_ key: String, cost: Double = 1, now: ContinuousClock.Instant = .now) -> Int? {
        update(key, cost: cost, consume: true, now: now)
    }

    /// What `take` would answer, without taking anything: for limits that count only some
    /// outcomes (failed sign-ins), checked before the attempt and taken after it fails.
    public func peek(_ key: String, cost: Double = 1, now: ContinuousClock.Instant = .now) -> Int? {
        update(key, cost: cost, consume: false, now: now)
    }

    private func update(_ key: String, cost: Double, consume: Bool, now: ContinuousClock.Instant) -> Int? {
        buckets.withLock { buckets in
            if buckets.count > Self.maxTrackedKeys { Self.evictFull(&buckets, limit: limit, now: now) }
            var bucket = buckets[key] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = Double((now - bucket.updated).components.attoseconds) / 1e18 + Double((now - bucket.updated).components.seconds)
            bucket.tokens = min(limit.burst, bucket.tokens + elapsed * limit.perSecond)
            bucket.updated = now
            guard bucket.tokens >= cost else {
                buckets[key] = bucket
                return max(1, Int(((cost - bucket.tokens) / limit.perSecond).rounded(.up)))
            }
            if consume { bucket.tokens -= cost }
            buckets[key] = bucket
            return nil
        }
    }

    /// Forgets buckets that have refilled completely: they behave exactly like new ones.
    private static func evictFull(_ buckets: inout [String: Bucket], limit: RateLimit, now: ContinuousClock.Instant) {
        buckets = buckets.filter { _, bucket in
            let elapsed = Double((now - bucket.updated).components.seconds)
            return bucket.tokens + elapsed * limit.perSecond < limit.burst
        }
    }
}
