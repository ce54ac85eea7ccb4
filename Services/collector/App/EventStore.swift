import Crypto
import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Writes batches of events: dedupe rows, events and their queue rows in one statement, so that
/// an event is either stored with its work item or not at all.
struct EventStore: Sendable {
    enum Outcome: String, Sendable {
        case stored, duplicate
        case optedOut = "opted_out"
        case erased
    }

    let client: PostgresClient

    /// Named query `insert_event_batch`. `$1` is a JSON array of rows (`PreparedEvent.writeRow`:
    /// the columns of `EventRow` between `ord` and `shard`);
    /// one bind parameter for the whole batch. Opted-out and erased visitors are screened here,
    /// next to the data, so every collector instance agrees at once. A prepared statement: each
    /// connection parses and plans it once, instead of once per batch.
    struct InsertEventBatch: PostgresPreparedStatement {
        static let sql = """
            WITH input AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(ord int, \(EventRow.recordDefinition), shard smallint)
            ), screened AS (
                SELECT i.*,
                    EXISTS (SELECT 1 FROM opt_outs o WHERE o.site_id = i.site_id AND o.anonymous_id = i.anonymous_id) AS opted_out,
                    EXISTS (SELECT 1 FROM erasure_tombstones e WHERE e.site_id = i.site_id AND e.identity_hash IN (
                        erasure_tombstone_hash('anonymous_id', i.anonymous_id), erasure_tombstone_hash('user_id', i.user_id))) AS erased
                FROM input i
            ), fresh AS (
                INSERT INTO event_dedupe (site_id, message_id, event_id, received_at)
                SELECT site_id, message_id, nextval('events_id_seq'), received_at FROM screened
                WHERE NOT opted_out AND NOT erased
                ORDER BY ord
                ON CONFLICT DO NOTHING
                RETURNING site_id, message_id, event_id
            ), stored AS (
                INSERT INTO events (id, \(EventRow.columnList()))
                SELECT f.event_id, \(EventRow.columnList(prefix: "s."))
                FROM fresh f JOIN screened s USING (site_id, message_id)
                RETURNING id
            ), queued AS (
                INSERT INTO event_queue (event_id, event_received_at, site_id, shard)
                SELECT f.event_id, s.received_at, s.site_id, s.shard
                FROM fresh f JOIN screened s USING (site_id, message_id)
                ORDER BY f.event_id
                RETURNING id
            )
            SELECT s.ord,
                   CASE WHEN f.event_id IS NOT NULL THEN 'stored'
                        WHEN s.opted_out THEN 'opted_out'
                        WHEN s.erased THEN 'erased'
                        ELSE 'duplicate' END
            FROM screened s LEFT JOIN fresh f USING (site_id, message_id)
            """
        typealias Row = (Int, String)
        let rows: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(rows)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Writes `events` and returns each one's outcome, in order. A messageId repeated within the
    /// batch (several requests can share one) is written once; the later copies are duplicates.
    func write(_ events: [PreparedEvent], logger: Logger) async throws -> [Outcome] {
        guard !events.isEmpty else { return [] }
        struct Key: Hashable { let site: Int64; let message: String }
        var seen = Set<Key>()
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(events.count * 512)
        var written = 0
        for (ordinal, event) in events.enumerated() where seen.insert(Key(site: event.siteID, message: event.messageID)).inserted {
            if written > 0 { bytes.append(UInt8(ascii: ",")) }
            event.writeRow(ordinal: ordinal, to: &bytes)
            written += 1
        }
        bytes.append(UInt8(ascii: "]"))
        let json = String(decoding: bytes, as: UTF8.self)
        // An explicit transaction, so that returning means committed (see `PostgresClient.transaction`).
        return try await client.transaction(logger: logger) { connection in
            var outcomes = [Outcome](repeating: .duplicate, count: events.count)
            for try await (ordinal, outcome) in try await connection.execute(InsertEventBatch(rows: json), logger: logger) {
                outcomes[ordinal] = Outcome(rawValue: outcome) ?? .duplicate
            }
            return outcomes
        }
    }

    /// Named query `record_opt_out` / `remove_opt_out`: the visitor's choice persists across devices' retries.
    /// Records an opt-out and returns the token that may lift it, or nil when the visitor was
    /// already opted out (the first caller holds the token; a second opt-out must not replace it,
    /// or anyone could lock the visitor out of opting in again).
    func optOut(siteID: Int64, anonymousID: String, logger: Logger) async throws -> String? {
        let token = "oi_" + (0..<24).map { _ in UInt8.random(in: 0...255) }.hexString
        let hash = Array(SHA256.hash(data: Data(token.utf8))).hexString
        return try await client.transaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO opt_outs (site_id, anonymous_id, opt_in_token_hash) VALUES (\(siteID), \(anonymousID), \(hash))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger)
            for try await _ in rows.decode(Int.self) { return token }
            return nil
        }
    }

    /// Lifts an opt-out for the holder of its token, or for the site's servers. Returns false when
    /// neither is given (the opt-out stays). A visitor who is not opted out is opted in already.
    func optIn(siteID: Int64, anonymousID: String, token: String?, serverKey: Bool, logger: Logger) async throws -> Bool {
        let hash = token.map { Array(SHA256.hash(data: Data($0.utf8))).hexString }
        return try await client.transaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                WITH target AS (SELECT 1 FROM opt_outs WHERE site_id = \(siteID) AND anonymous_id = \(anonymousID)),
                lifted AS (
                    DELETE FROM opt_outs o WHERE o.site_id = \(siteID) AND o.anonymous_id = \(anonymousID)
                      AND (\(serverKey) OR o.opt_in_token_hash = \(hash))
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM target)::int, (SELECT count(*) FROM lifted)::int
                """, logger: logger)
            for try await (existing, lifted) in rows.decode((Int, Int).self) { return existing == 0 || lifted > 0 }
            return false
        }
    }
}
