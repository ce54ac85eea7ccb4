/// The `LISTEN`/`NOTIFY` channels the services wake each other with (payloads are empty: a
/// notification only says "look again").
public enum NotificationChannel: String, Sendable, CaseIterable {
    /// The collector queued events for the engine.
    case eventsQueued = "event_queue"
    /// The outbox trigger queued webhook deliveries for the API's delivery worker.
    case webhookDeliveries = "webhook_deliveries"
    /// The profile API asked for an erasure or anonymisation, which the engine carries out.
    case erasureRequested = "erasure_requests"
    /// The engine changed profiles (a profile's id, or empty for many).
    case profileUpdated = "profile_updated"
}
