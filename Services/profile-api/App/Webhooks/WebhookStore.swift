import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The SQL of webhook subscriptions and of the delivery outbox (filled by the
/// `profile_changes_enqueue_webhooks` trigger in the transaction of each profile change).
struct WebhookStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    struct NewSubscription: Sendable {
        var name: String?
        var site: String?
        var url: String
        var secret: String
        var eventKinds: [String]
        var filter: JSONValue
        var active: Bool
    }

    /// A PATCH: nil members stay as they are; `name` and `site` may be set to null (`.some(nil)`).
    struct Changes: Sendable {
        var name: String??
        var site: String??
        var url: String?
        var secret: String?
        var eventKinds: [String]?
        var filter: JSONValue?
        var active: Bool?

        /// The members this change sets, for the audit log (never their values: the secret is one).
        var changedMembers: [String] {
            [("name", name != nil), ("site", site != nil), ("url", url != nil), ("secret", secret != nil),
             ("event_kinds", eventKinds != nil), ("filter", filter != nil), ("active", active != nil)].filter(\.1).map(\.0)
        }
    }

    enum UpdateOutcome: Sendable {
        case notFound, unknownSite, updated(String)
    }

    /// A delivery taken by a worker.
    struct Claimed: Sendable {
        let id: Int64
        let eventKind: String
        let payload: String
        let attempts: Int
        let url: String
        let secret: String
    }

    /// Named fragment `webhook_subscription_document` over aliases `w` and `s` (sites, left joined).
    static let document = """
        jsonb_build_object('id', w.id, 'name', w.name, 'site', s.slug, 'url', w.url, 'event_kinds', to_jsonb(w.event_kinds),
            'filter', w.filter, 'active', w.active, 'consecutive_failures', w.consecutive_failures,
            'created_at', w.created_at, 'updated_at', w.updated_at)
        """

    /// Named query `insert_webhook_subscription`; nil if the site is unknown.
    func create(_ new: NewSubscription, key: APIKey, requestID: String) async throws -> String? {
        try await client.transaction(logger: logger) { tx in
            let rows = try await tx.query(
                """
                WITH site AS (SELECT id, slug FROM sites WHERE slug = \(new.site)),
                inserted AS (
                    INSERT INTO webhook_subscriptions (site_id, name, url, secret, event_kinds, filter, active, created_by)
                    SELECT (SELECT id FROM site), \(new.name), \(new.url), \(new.secret), \(new.eventKinds), \(new.filter.jsonText)::jsonb, \(new.active), \(key.id)
                    WHERE \(new.site)::text IS NULL OR EXISTS (SELECT 1 FROM site)
                    RETURNING *
                )
                SELECT w.id, \(unescaped: Self.document)::text FROM inserted w LEFT JOIN site s ON s.id = w.site_id
                """, logger: logger)
            for try await (id, document) in rows.decode((Int64, String).self) {
                try await AuditLog.record("webhook.create", target: String(id), key: key, requestID: requestID,
                                          details: ["url": .string(new.url)], on: tx, logger: logger)
                return document
            }
            return nil
        }
    }

    /// Named query `list_webhook_subscriptions`.
    func list() async throws -> String {
        let rows = try await client.query(
            """
            SELECT coalesce(jsonb_agg(\(unescaped: Self.document) ORDER BY w.id), '[]')::text
            FROM webhook_subscriptions w LEFT JOIN sites s ON s.id = w.site_id
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return "[]"
    }

    /// Named query `get_webhook_subscription`.
    func get(_ id: Int64) async throws -> String? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.document)::text FROM webhook_subscriptions w LEFT JOIN sites s ON s.id = w.site_id WHERE w.id = \(id)",
            logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return nil
    }

    /// Named query `update_webhook_subscription`: applies a PATCH, audits it, and on resume wakes
    /// the delivery workers (the deliveries held while paused are due at once).
    func update(_ id: Int64, _ changes: Changes, key: APIKey, requestID: String) async throws -> UpdateOutcome {
        try await client.transaction(logger: logger) { tx in
            var wasActive: Bool?
            for try await active in try await tx.query("SELECT active FROM webhook_subscriptions WHERE id = \(id) FOR UPDATE", logger: logger)
                .decode(Bool.self) { wasActive = active }
            guard let wasActive else { return .notFound }
            var siteID: Int64?
            if let slug = changes.site ?? nil {
                for try await found in try await tx.query("SELECT id FROM sites WHERE slug = \(slug)", logger: logger).decode(Int64.self) { siteID = found }
                guard siteID != nil else { return .unknownSite }
            }
            let rows = try await tx.query(
                """
                WITH updated AS (
                    UPDATE webhook_subscriptions SET
                        name = CASE WHEN \(changes.name != nil) THEN \(changes.name ?? nil) ELSE name END,
                        site_id = CASE WHEN \(changes.site != nil) THEN \(siteID) ELSE site_id END,
                        url = coalesce(\(changes.url), url),
                        secret = coalesce(\(changes.secret), secret),
                        event_kinds = coalesce(\(changes.eventKinds)::text[], event_kinds),
                        filter = coalesce(\(changes.filter?.jsonText)::jsonb, filter),
                        active = coalesce(\(changes.active), active),
                        consecutive_failures = CASE WHEN \(changes.active == true) AND NOT active THEN 0 ELSE consecutive_failures END,
                        updated_at = now()
                    WHERE id = \(id)
                    RETURNING *
                )
                SELECT \(unescaped: Self.document)::text FROM updated w LEFT JOIN sites s ON s.id = w.site_id
                """, logger: logger)
            var document = "{}"
            for try await text in rows.decode(String.self) { document = text }
            var details: [String: JSONValue] = ["changed": .array(changes.changedMembers.map(JSONValue.string))]
            if let url = changes.url { details["url"] = .string(url) }
            if let active = changes.active, active != wasActive { details["active"] = .bool(active) }
            let action = switch (changes.active, wasActive) {
            case (false?, true): "webhook.pause"
            case (true?, false): "webhook.resume"
            default: "webhook.update"
            }
            try await AuditLog.record(action, target: String(id), key: key, requestID: requestID, details: .object(details), on: tx, logger: logger)
            if changes.active == true && !wasActive {
                try await tx.query("SELECT pg_notify(\(WebhookConfig.channel), '')", logger: logger)
            }
            return .updated(document)
        }
    }

    /// Named query `delete_webhook_subscription` (its deliveries cascade).
    func delete(_ id: Int64, key: APIKey, requestID: String) async throws -> Bool {
        try await client.transaction(logger: logger) { tx in
            var deleted = false
            for try await _ in try await tx.query("DELETE FROM webhook_subscriptions WHERE id = \(id) RETURNING id", logger: logger).decode(Int64.self) {
                deleted = true
            }
            if deleted { try await AuditLog.record("webhook.delete", target: String(id), key: key, requestID: requestID, on: tx, logger: logger) }
            return deleted
        }
    }

    /// Named query `list_webhook_deliveries`: the delivery log of one subscription, newest first.
    func deliveries(subscription: Int64, status: String?, limit: Int) async throws -> String {
        let rows = try await client.query(
            """
            SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'profile_change_id', d.profile_change_id, 'profile_id', d.profile_id,
                       'event_kind', d.event_kind, 'status', d.status, 'attempts', d.attempts, 'next_attempt_at', d.next_attempt_at,
                       'last_status_code', d.last_status_code, 'last_error', d.last_error, 'created_at', d.created_at,
                       'delivered_at', d.delivered_at, 'payload', d.payload) ORDER BY d.id DESC), '[]')::text
            FROM (SELECT * FROM webhook_deliveries WHERE subscription_id = \(subscription) AND (\(status)::text IS NULL OR status = \(status))
                  ORDER BY id DESC LIMIT \(limit)) d
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return "[]"
    }

    /// Named query `redeliver_webhook`: puts a delivery back in the outbox to be sent now, with a
    /// fresh attempt budget. Nil if there is no such delivery; false if it is already queued.
    func redeliver(subscription: Int64, delivery: Int64, key: APIKey, requestID: String) async throws -> Bool? {
        try await client.transaction(logger: logger) { tx in
            var found: String?
            for try await status in try await tx.query(
                "SELECT status FROM webhook_deliveries WHERE id = \(delivery) AND subscription_id = \(subscription) FOR UPDATE",
                logger: logger).decode(String.self) { found = status }
            guard let found else { return nil }
            guard found == "delivered" || found == "dead" else { return false }
            try await tx.query(
                """
                UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, delivered_at = NULL
                WHERE id = \(delivery)
                """, logger: logger)
            try await AuditLog.record("webhook.redeliver", target: String(delivery), key: key, requestID: requestID,
                                      details: ["subscription": .number(Double(subscription))], on: tx, logger: logger)
            return true
        }
    }

    /// Named query `claim_webhook_deliveries`. Takes due deliveries with SKIP LOCKED, and only the
    /// oldest undelivered change of each (subscription, profile): a later change of the same
    /// profile waits until the earlier one is delivered or dead, which keeps per-profile order.
    /// The claim is a lease (next_attempt_at moves past the send timeout), so the HTTP call runs
    /// outside any transaction and a crashed worker's deliveries become due again.
    func claim(limit: Int, leaseSeconds: Double) async throws -> [Claimed] {
        let rows = try await client.query(
            """
            WITH due AS MATERIALIZED (
                SELECT d.id FROM webhook_deliveries d
                JOIN webhook_subscriptions w ON w.id = d.subscription_id AND w.active
                WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                                  WHERE e.subscription_id = d.subscription_id AND e.profile_id = d.profile_id
                                    AND e.status IN ('pending', 'failed') AND e.profile_change_id < d.profile_change_id)
                ORDER BY d.next_attempt_at
                LIMIT \(limit) FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => \(leaseSeconds))
            FROM due, webhook_subscriptions w
            WHERE d.id = due.id AND w.id = d.subscription_id
            RETURNING d.id, d.event_kind, d.payload::text, d.attempts, w.url, w.secret
            """, logger: logger)
        var claimed: [Claimed] = []
        for try await (id, kind, payload, attempts, url, secret) in rows.decode((Int64, String, String, Int, String, String).self) {
            claimed.append(Claimed(id: id, eventKind: kind, payload: payload, attempts: attempts, url: url, secret: secret))
        }
        return claimed
    }

    /// Named query `finish_webhook_delivery`: delivered, failed (retry after `retryIn` seconds) or
    /// dead (`retryIn` nil), and the subscription's failure streak.
    func finish(_ delivery: Claimed, statusCode: Int?, error: String?, retryIn: Double?) async throws {
        let status = error == nil ? "delivered" : (retryIn == nil ? "dead" : "failed")
        try await client.query(
            """
            WITH d AS (
                UPDATE webhook_deliveries SET status = \(status), last_status_code = \(statusCode), last_error = \(error),
                       next_attempt_at = now() + make_interval(secs => \(retryIn ?? 0)),
                       delivered_at = CASE WHEN \(status) = 'delivered' THEN now() END
                WHERE id = \(delivery.id)
                RETURNING subscription_id
            )
            UPDATE webhook_subscriptions SET consecutive_failures = CASE WHEN \(status) = 'delivered' THEN 0 ELSE consecutive_failures + 1 END
            WHERE id = (SELECT subscription_id FROM d)
            """, logger: logger)
    }
}
