import ServiceKit

/// The collector's settings, read once from the environment at start (documented in README.md).
public struct CollectorConfig: Sendable {
    public var port: Int
    /// Peers whose `X-Forwarded-For` is believed (the load balancer); everyone else is the client.
    public var trustedProxies: [IPNetwork]
    /// Micro-batching: one transaction takes up to this many events…
    public var batchMaxEvents: Int
    /// …or what arrived within this many milliseconds after the first waiting request.
    public var batchMaxWaitMilliseconds: Int
    /// Transactions in flight at once; more lets a commit overlap the next batch's gathering.
    public var writerConcurrency: Int
    /// A write that takes longer than this answers 503 (the client retries; dedupe keeps it once).
    public var writeTimeoutSeconds: Double
    public var rateLimitPerWriteKey: RateLimit
    public var rateLimitPerClientIP: RateLimit
    /// Chat messages per visitor: each may become model calls in the engine (with an LLM configured).
    public var rateLimitChatPerVisitor: RateLimit
    /// Minimum spacing of wake-up notifications to the engine.
    public var notifyIntervalMilliseconds: Int
    /// Folder holding t.js and the demo site.
    public var webDirectory: String
    public var demoMode: Bool
    /// How long a site looked up by write key is cached.
    public var siteCacheSeconds: Double

    /// Segment's limits.
    public static let maxEventBytes = 32 * 1024
    public static let maxBatchBytes = 500 * 1024

    public init(environment env: EnvironmentReader) throws {
        port = try env.port("COLLECTOR_PORT", default: 8080)
        trustedProxies = try env.list("TRUSTED_PROXIES").map { text in
            guard let network = IPNetwork(cidr: text) else {
                throw ConfigError(variable: "TRUSTED_PROXIES", message: "'\(text)' is not an IP address or CIDR block")
            }
            return network
        }
        batchMaxEvents = try env.int("BATCH_MAX_EVENTS", default: 1000, range: 1...10000)
        batchMaxWaitMilliseconds = try env.int("BATCH_MAX_WAIT_MS", default: 2, range: 0...1000)
        writerConcurrency = try env.int("WRITER_CONCURRENCY", default: 3, range: 1...32)
        writeTimeoutSeconds = try env.double("WRITE_TIMEOUT_SECONDS", default: 5, range: 0.1...120)
        rateLimitPerWriteKey = RateLimit(
            perSecond: try env.double("RATE_LIMIT_KEY_PER_SECOND", default: 2000, range: 0.001...1_000_000),
            burst: try env.double("RATE_LIMIT_KEY_BURST", default: 4000, range: 1...10_000_000))
        rateLimitPerClientIP = RateLimit(
            perSecond: try env.double("RATE_LIMIT_IP_PER_SECOND", default: 50, range: 0.001...1_000_000),
            burst: try env.double("RATE_LIMIT_IP_BURST", default: 200, range: 1...10_000_000))
        rateLimitChatPerVisitor = RateLimit(
            perSecond: try env.double("RATE_LIMIT_CHAT_PER_MINUTE", default: 60, range: 0.001...1_000_000) / 60,
            burst: try env.double("RATE_LIMIT_CHAT_BURST", default: 120, range: 1...10_000_000))
        notifyIntervalMilliseconds = try env.int("NOTIFY_INTERVAL_MS", default: 100, range: 0...10000)
        webDirectory = env.string("WEB_DIR", default: "web")
        demoMode = try env.bool("DEMO_MODE", default: false)
        siteCacheSeconds = try env.double("SITE_CACHE_SECONDS", default: 5, range: 0...3600)
    }
}
