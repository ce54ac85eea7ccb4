/// The `LISTEN`/`NOTIFY` channels the services wake each other with (a notification only says
/// "look again"; payloads, where there are any, are for people reading them).
public enum NotificationChannel: String, Sendable, CaseIterable {
    /// The collector queued events for the engine.
    case eventsQueued = "event_queue"
    /// The outbox trigger queued webhook deliveries for the API's delivery worker.
    case webhookDeliveries = "webhook_deliveries"
    /// The profile API asked for an erasure or anonymisation, which the engine carries out.
    case erasureRequested = "erasure_requests"
    /// The profile API asked for a profile to be created or updated, which the engine carries out.
    case profileCommanded = "profile_commands"
    /// The engine finished a command (payload `<table>:<id>`, e.g. `profile_commands:12`); API
    /// requests waiting for one look again.
    case commandsFinished = "commands_finished"
    /// The engine changed profiles (a profile's id, or empty for many).
    case profileUpdated = "profile_updated"
}
