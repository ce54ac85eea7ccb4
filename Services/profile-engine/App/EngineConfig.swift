import Foundation
import ProfileModel
import ServiceKit

/// The engine's settings, read once from the environment at start (documented in README.md).
public struct EngineConfig: Sendable {
    public var port: Int
    /// Concurrent queue workers in this process; each holds one shard at a time.
    public var workers: Int
    /// Events claimed and applied per transaction (short transactions keep vacuum healthy).
    public var batchSize: Int
    /// Shards one batch may take; the rest stay free for other workers and engines.
    public var shardsPerBatch: Int
    /// How often an idle worker looks for work when no notification arrives.
    public var pollIntervalMilliseconds: Int
    /// A failing event is retried this many times (with exponential backoff) before it is dead-lettered.
    public var maxAttempts: Int
    public var retryBaseMilliseconds: Int
    /// A batch still unfinished after this long is abandoned and the worker goes on (a database call
    /// that never answers must not stop the worker for good; see `withDeadline`).
    public var batchDeadlineSeconds: Int
    /// Whether a batch's commit waits for its WAL to reach disk. Off by default: the batch applies
    /// events and deletes their queue rows in one transaction, so a PostgreSQL crash that undoes the
    /// last commits also brings their queue rows back, and the events are applied again (nothing is
    /// lost and nothing is applied twice; readers and webhooks may have seen the undone changes,
    /// at most wal_writer_delay x 3 of them, and see them again). The collector's commits, which
    /// answer clients, stay synchronous whatever this says.
    public var synchronousCommit: Bool
    /// How long a visitor may be inactive before the next page view starts a new session.
    public var sessionTimeoutMinutes: Int
    /// The lead scoring rules and qualification stages.
    public var scoringFile: String
    /// The identity guardrails every site starts from (blocked values, limits, priority, merge cap).
    public var identityRulesFile: String
    /// IANA time zones whose local days the analytics rollups are kept in (others are computed live).
    public var analyticsTimeZones: [String]
    /// How often the rollups of recent days are recomputed, and how many days back that reaches.
    public var analyticsRefreshSeconds: Int
    public var analyticsRefreshDays: Int
    /// How often that refresh includes the session-path and journey rollups, its costliest part
    /// (sql/0011): journey reports of recent days lag by up to this long.
    public var analyticsJourneyRefreshSeconds: Int

    public init(environment env: EnvironmentReader) throws {
        port = try env.port("ENGINE_PORT", default: 8082)
        workers = try env.int("ENGINE_WORKERS", default: 2, range: 1...64)
        batchSize = try env.int("ENGINE_BATCH_SIZE", default: 200, range: 1...5000)
        shardsPerBatch = try env.int("ENGINE_SHARDS_PER_BATCH", default: 16, range: 1...QueueShards.count)
        pollIntervalMilliseconds = try env.int("ENGINE_POLL_INTERVAL_MS", default: 1000, range: 10...3_600_000)
        maxAttempts = try env.int("ENGINE_MAX_ATTEMPTS", default: 8, range: 1...100)
        retryBaseMilliseconds = try env.int("ENGINE_RETRY_BASE_MS", default: 1000, range: 1...3_600_000)
        batchDeadlineSeconds = try env.int("ENGINE_BATCH_DEADLINE_SECONDS", default: 30, range: 1...3600)
        synchronousCommit = try env.bool("ENGINE_SYNCHRONOUS_COMMIT", default: false)
        sessionTimeoutMinutes = try env.int("SESSION_TIMEOUT_MINUTES", default: 30, range: 1...1440)
        scoringFile = env.string("LEAD_SCORING_FILE", default: "config/lead_scoring.yaml")
        identityRulesFile = env.string("IDENTITY_RULES_FILE", default: "config/identity.yaml")
        let zones = env.list("ANALYTICS_TIME_ZONES")
        analyticsTimeZones = zones.isEmpty ? ["UTC"] : zones
        for zone in analyticsTimeZones where TimeZone(identifier: zone) == nil {
            throw ConfigError(variable: "ANALYTICS_TIME_ZONES", message: "'\(zone)' is not an IANA time zone name")
        }
        analyticsRefreshSeconds = try env.int("ANALYTICS_REFRESH_SECONDS", default: 60, range: 5...86_400)
        analyticsRefreshDays = try env.int("ANALYTICS_REFRESH_DAYS", default: 2, range: 1...400)
        analyticsJourneyRefreshSeconds = try env.int("ANALYTICS_JOURNEY_REFRESH_SECONDS", default: 600, range: 5...86_400)
    }

    /// attempt⁴-style growth like River, capped at an hour, with ±20 % jitter so retries spread out.
    public func retryDelayMilliseconds(afterAttempt attempt: Int) -> Int {
        let base = Double(retryBaseMilliseconds) * pow2(min(attempt, 12))
        let capped = min(base, 3_600_000)
        return Int(capped * Double.random(in: 0.8...1.2))
    }

    private func pow2(_ n: Int) -> Double { Double(1 << max(0, n - 1)) }
}
