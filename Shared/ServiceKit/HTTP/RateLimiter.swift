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
    /// Two generations of buckets: a key is looked up in the current one, then in the previous
    /// one (and moved over). When the current one is full, it becomes the previous one and the
    /// oldest generation is dropped whole: O(1) per call however many addresses an attacker uses,
    /// and at most `maxTrackedKeys` buckets. A dropped bucket was unused for a whole generation
    /// and starts full again, which a key that is limited right now never is (it is in use).
    private struct Generations {
        var current: [String: Bucket] = [:]
        var previous: [String: Bucket] = [:]
    }
    private let generations = Mutex(Generations())
    private let generationSize: Int

    public init(limit: RateLimit, maxTrackedKeys: Int = 100_000) {
        self.limit = limit
        self.generationSize = max(1, maxTrackedKeys / 2)
    }

    /// Buckets held now (for tests and metrics).
    public var trackedKeys: Int { generations.withLock { $0.current.count + $0.previous.count } }

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
        generations.withLock { g in
            var bucket = g.current[key] ?? g.previous.removeValue(forKey: key) ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = Double((now - bucket.updated).components.attoseconds) / 1e18 + Double((now - bucket.updated).components.seconds)
            bucket.tokens = min(limit.burst, bucket.tokens + elapsed * limit.perSecond)
            bucket.updated = now
            var answer: Int?
            if bucket.tokens >= cost {
                if consume { bucket.tokens -= cost }
            } else {
                answer = max(1, Int(((cost - bucket.tokens) / limit.perSecond).rounded(.up)))
            }
            if g.current[key] == nil && g.current.count >= generationSize {
                g.previous = g.current
                g.current = [:]
            }
            g.current[key] = bucket
            return answer
        }
    }
}
