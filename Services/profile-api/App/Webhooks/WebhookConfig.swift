import ProfileModel
import ServiceKit

/// Webhook delivery settings, read once from the environment at start (documented in README.md).
struct WebhookConfig: Sendable {
    /// Whether this process delivers webhooks (any number of API instances may).
    var workerEnabled: Bool
    /// How often an idle worker looks for due deliveries without being woken: a safety net, since
    /// the outbox trigger NOTIFYs `webhookChannel` and the worker LISTENs (retries that come due
    /// are found by this poll, so it also bounds how late a retry can be).
    var pollSeconds: Double
    /// Deliveries sent at once by one worker.
    var concurrency: Int
    /// Time allowed for a receiver to answer.
    var timeoutSeconds: Double
    /// Attempts before a delivery is dead.
    var maxAttempts: Int
    /// First retry delay; each later one doubles, up to `maxBackoffSeconds`, with jitter.
    var backoffBaseSeconds: Double
    var maxBackoffSeconds: Double

    /// The channel the `profile_changes_enqueue_webhooks` trigger (sql/0004) NOTIFYs when it
    /// enqueued deliveries, and the API NOTIFYs when a subscription is resumed.
    static let channel = NotificationChannel.webhookDeliveries.rawValue

    init(environment env: EnvironmentReader) throws {
        workerEnabled = try env.bool("WEBHOOK_WORKER", default: true)
        pollSeconds = try env.double("WEBHOOK_POLL_SECONDS", default: 5, range: 0.01...3600)
        concurrency = try env.int("WEBHOOK_CONCURRENCY", default: 16, range: 1...256)
        timeoutSeconds = try env.double("WEBHOOK_TIMEOUT_SECONDS", default: 10, range: 0.1...300)
        maxAttempts = try env.int("WEBHOOK_MAX_ATTEMPTS", default: 12, range: 1...100)
        backoffBaseSeconds = try env.double("WEBHOOK_BACKOFF_BASE_SECONDS", default: 10, range: 0.01...86_400)
        maxBackoffSeconds = try env.double("WEBHOOK_MAX_BACKOFF_SECONDS", default: 21_600, range: 0.01...604_800)
    }

    /// Delay before attempt `attempts + 1`: base · 2^(attempts-1), capped, with "equal jitter"
    /// (half fixed, half random) so receivers that failed together are not retried together.
    func backoff(afterAttempts attempts: Int) -> Double {
        let delay = min(maxBackoffSeconds, backoffBaseSeconds * Double(1 << min(max(attempts - 1, 0), 30)))
        return delay / 2 + Double.random(in: 0...(delay / 2))
    }
}
