import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The engine's queue SQL: finding shards with work, claiming a shard's batch, finishing,
/// retrying and dead-lettering. Each query is named after what it does.
struct QueueRepository: Sendable {
    /// Key space of the per-shard advisory locks (`pg_try_advisory_xact_lock(lockSpace, shard)`).
    static let lockSpace: Int32 = 0x5042

    let logger: Logger

    /// Named query `shards_with_work`: a skip scan over the (shard, id) index, one probe per shard,
    /// instead of scanning a possibly long queue.
    func shardsWithWork(_ client: PostgresClient) async throws -> [Int16] {
        let rows = try await client.query(
            """
            WITH RECURSIVE s AS (
                (SELECT shard FROM event_queue ORDER BY shard LIMIT 1)
                UNION ALL
                SELECT (SELECT q.shard FROM event_queue q WHERE q.shard > s.shard ORDER BY q.shard LIMIT 1)
                FROM s WHERE s.shard IS NOT NULL
            )
            SELECT shard FROM s WHERE shard IS NOT NULL
            """, logger: logger)
        var shards: [Int16] = []
        for try await shard in rows.decode(Int16.self) { shards.append(shard) }
        return shards
    }

    /// Named query `lock_shards`: up to `limit` of `shards` that no other worker holds, locked
    /// until the end of the transaction. Several shards per transaction keep batches full when
    /// events are spread thinly over many visitors.
    func lockShards(_ shards: [Int16], limit: Int, on connection: PostgresConnection) async throws -> [Int16] {
        let rows = try await connection.query(
            """
            SELECT s FROM unnest(\(shards.map(Int32.init))::int[]) AS s
            WHERE pg_try_advisory_xact_lock(\(Self.lockSpace), s) LIMIT \(limit)
            """, logger: logger)
        var locked: [Int16] = []
        for try await shard in rows.decode(Int32.self) { locked.append(Int16(shard)) }
        return locked
    }

    /// The events columns the engine reads (jsonb as text), named as in `EventRow`.
    static let eventColumns = EventRow.selectList(
        ["type", "message_id", "anonymous_id", "user_id", "name", "event", "previous_id", "properties", "traits", "context",
         "occurred_at", "is_bot", "verified_identifiers"], table: "e")

    /// Named query `claim_batch`: the oldest ready rows of the locked shards with their events. The
    /// claimed rows carry their own columns: joining them back to `event_queue` made the planner
    /// hash the whole queue, once per batch, which grew with the backlog.
    func claim(shards: [Int16], limit: Int, onlyQueueID: Int64? = nil, on connection: PostgresConnection) async throws -> [QueuedEvent] {
        let rows = try await connection.query(
            """
            WITH claimed AS MATERIALIZED (
                SELECT id, attempts, shard, event_id, event_received_at, site_id FROM event_queue
                WHERE shard = ANY(\(shards)::smallint[]) AND available_at <= now() AND (\(onlyQueueID)::bigint IS NULL OR id = \(onlyQueueID))
                ORDER BY id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            SELECT q.id AS queue_id, q.attempts, q.shard, q.event_id, q.event_received_at, q.site_id AS queue_site_id,
                   \(unescaped: Self.eventColumns)
            FROM claimed q
            LEFT JOIN events e ON e.id = q.event_id AND e.received_at = q.event_received_at
            ORDER BY q.id
            """, logger: logger)
        var claimed: [QueuedEvent] = []
        for try await row in rows {
            // By name: the events columns come from `EventRow`, the one description of the row.
            let columns = row.makeRandomAccess()
            let (queueID, attempts, shard) = try (columns["queue_id"].decode(Int64.self), columns["attempts"].decode(Int.self),
                                                  columns["shard"].decode(Int16.self))
            let (eventID, receivedAt, siteID) = try (columns["event_id"].decode(Int64.self), columns["event_received_at"].decode(Date.self),
                                                     columns["queue_site_id"].decode(Int64.self))
            func text(_ name: String) throws -> String? { try columns[name].decode(String?.self) }
            let (type, messageID, anonymousID, userID) = try (text("type"), text("message_id"), text("anonymous_id"), text("user_id"))
            let (name, eventName, previousID) = try (text("name"), text("event"), text("previous_id"))
            let (properties, traits, context) = try (text("properties"), text("traits"), text("context"))
            let (occurredAt, isBot) = try (columns["occurred_at"].decode(Date?.self), columns["is_bot"].decode(Bool?.self))
            var stored: StoredEvent?
            if let type, let occurredAt {
                stored = StoredEvent(
                    id: eventID, siteID: siteID, type: type, messageID: messageID ?? "", anonymousID: anonymousID, userID: userID, name: name,
                    eventName: eventName, previousID: previousID,
                    properties: StoredEvent.decodeObject(properties), traits: StoredEvent.decodeObject(traits),
                    context: StoredEvent.decodeObject(context), occurredAt: occurredAt, isBot: isBot ?? false,
                    verifiedIdentifiers: Set(try columns["verified_identifiers"].decode([String]?.self)?.compactMap(IdentityKind.init(rawValue:)) ?? []))
            }
            claimed.append(QueuedEvent(queueID: queueID, attempts: attempts, shard: shard, eventID: eventID,
                                       receivedAt: receivedAt, siteID: siteID, event: stored))
        }
        return claimed
    }

    /// Named query `finish_queue_rows`: the work is done in the same transaction, so it happens once.
    func finish(_ queueIDs: [Int64], on connection: PostgresConnection) async throws {
        try await connection.query("DELETE FROM event_queue WHERE id = ANY(\(queueIDs))", logger: logger)
    }

    /// Named query `retry_or_dead_letter`: backs a failed row off, or moves it to `dead_letters`
    /// once it has used its attempts, so one poison event never blocks the others.
    func recordFailure(_ item: QueuedEvent, error: String, maxAttempts: Int, delayMilliseconds: Int, client: PostgresClient) async throws -> Bool {
        let attempts = item.attempts + 1
        let message = String(error.prefix(2000))
        if attempts >= maxAttempts {
            try await client.transaction(logger: logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO dead_letters (event_id, event_received_at, site_id, shard, attempts, last_error)
                    VALUES (\(item.eventID), \(item.receivedAt), \(item.siteID), \(item.shard), \(attempts), \(message))
                    """, logger: logger)
                try await tx.query("DELETE FROM event_queue WHERE id = \(item.queueID)", logger: logger)
            }
            return true
        }
        try await client.query(
            """
            UPDATE event_queue SET attempts = \(attempts), last_error = \(message),
                   available_at = now() + make_interval(secs => \(Double(delayMilliseconds) / 1000))
            WHERE id = \(item.queueID)
            """, logger: logger)
        return false
    }

    /// Named query `replay_dead_letters`: puts dead letters back on the queue with fresh attempts.
    static func replay(ids: [Int64]?, client: PostgresClient, logger: Logger) async throws -> Int {
        try await client.transaction(logger: logger) { tx in
            let rows = try await tx.query(
                """
                WITH moved AS (
                    DELETE FROM dead_letters WHERE \(ids)::bigint[] IS NULL OR id = ANY(\(ids)::bigint[])
                    RETURNING event_id, event_received_at, site_id, shard
                )
                INSERT INTO event_queue (event_id, event_received_at, site_id, shard)
                SELECT event_id, event_received_at, site_id, shard FROM moved
                RETURNING id
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }
}
