import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Keeps `segment_memberships` current: for the given profiles, evaluates every active segment
/// and records who entered and who left (with the time), plus a change-log row each.
struct SegmentEvaluator: Sendable {
    let logger: Logger

    struct Segment: Sendable {
        let id: Int64
        let siteID: Int64?
        let slug: String
        let rule: SegmentRule
        /// When the definition last changed: a failure recorded for an older one no longer holds.
        var updatedAt = Date.distantPast
    }

    /// Named query `active_segments`; definitions that no longer parse are skipped with a warning,
    /// and so are those set aside after PostgreSQL could not run them (`segment_failures`).
    func activeSegments(on connection: PostgresConnection) async throws -> [Segment] {
        let rows = try await connection.query(
            """
            SELECT s.id, s.site_id, s.slug, s.definition::text, s.updated_at FROM segments s
            WHERE s.active AND NOT EXISTS (SELECT 1 FROM segment_failures f WHERE f.segment_id = s.id AND f.definition_updated_at >= s.updated_at)
            ORDER BY s.id
            """, logger: logger)
        var segments: [Segment] = []
        for try await (id, site, slug, definition, updatedAt) in rows.decode((Int64, Int64?, String, String, Date).self) {
            guard let json = try? JSONValue.parse(definition), let rule = try? SegmentRule(json: json) else {
                logger.warning("segment definition does not parse; skipped", metadata: ["segment": "\(slug)"])
                continue
            }
            segments.append(Segment(id: id, siteID: site, slug: slug, rule: rule, updatedAt: updatedAt))
        }
        return segments
    }

    /// Evaluates the segments under a savepoint. When PostgreSQL refuses to run them, each is
    /// evaluated alone; one that still fails is set aside (`segment_failures`, logged) and the
    /// batch goes on with the others: one bad definition must not stop every event.
    /// Returns the profiles whose memberships changed.
    @discardableResult
    func evaluate(_ profiles: [UUID], segments: [Segment], on tx: PostgresConnection) async throws -> Set<UUID> {
        guard !profiles.isEmpty, !segments.isEmpty else { return [] }
        do {
            return try await underSavepoint(tx) { try await evaluateTogether(profiles, segments: segments, on: tx) }
        } catch let error where Self.isRuleFailure(error) {
            var changed = Set<UUID>()
            for segment in segments {
                do {
                    changed.formUnion(try await underSavepoint(tx) { try await evaluateTogether(profiles, segments: [segment], on: tx) })
                } catch let failure where Self.isRuleFailure(failure) {
                    try await setAside(segment, failure: failure, on: tx)
                }
            }
            return changed
        }
    }

    /// A server error the rule itself caused (its data or its SQL), not a lost connection, a
    /// timeout or a conflict with another transaction, which the whole batch retries.
    static func isRuleFailure(_ error: any Error) -> Bool {
        guard let psql = error as? PSQLError, psql.serverInfo?[.sqlState] != nil else { return false }
        return [.invalidData, .constraintViolation, .other].contains(DatabaseFailure(error))
    }

    private func underSavepoint<T>(_ tx: PostgresConnection, _ body: () async throws -> T) async throws -> T {
        try await tx.query("SAVEPOINT segment_evaluation", logger: logger)
        do {
            let value = try await body()
            try await tx.query("RELEASE SAVEPOINT segment_evaluation", logger: logger)
            return value
        } catch {
            if Self.isRuleFailure(error) { try await tx.query("ROLLBACK TO SAVEPOINT segment_evaluation", logger: logger) }
            throw error
        }
    }

    /// Named query `set_aside_segment`: the SQLSTATE and PostgreSQL's message, never its DETAIL
    /// (which can quote row values).
    private func setAside(_ segment: Segment, failure: any Error, on tx: PostgresConnection) async throws {
        let info = (failure as? PSQLError)?.serverInfo
        let error = String("\(info?[.sqlState] ?? "?????"): \(info?[.message] ?? "failed")".prefix(500))
        logger.error("segment set aside: PostgreSQL cannot evaluate its rule", metadata: ["segment": "\(segment.slug)", "error": "\(error)"])
        try await tx.query(
            """
            INSERT INTO segment_failures (segment_id, error, definition_updated_at) VALUES (\(segment.id), \(error), \(segment.updatedAt))
            ON CONFLICT (segment_id) DO UPDATE SET error = EXCLUDED.error, definition_updated_at = EXCLUDED.definition_updated_at, failed_at = now()
            """, logger: logger)
    }

    /// Evaluates `profiles` (ids of unmerged profiles) against every active segment, in one
    /// statement (named query `evaluate_segments`): one round trip and one read of the profiles per
    /// batch, not one per segment. Segment rules are predicates over `p`, the profile's columns.
    /// The profiles are read by primary key one id at a time (LATERAL ... LIMIT 1, which the planner
    /// cannot flatten): `id = ANY(…) AND merged_into IS NULL` was planned as a scan of a whole partial
    /// index of live profiles whose statistics said it was small. An open membership is found by
    /// its unique index (ON CONFLICT), not by reading the open memberships of the batch.
    private func evaluateTogether(_ profiles: [UUID], segments: [Segment], on tx: PostgresConnection) async throws -> Set<UUID> {
        var binds = PostgresBindings()
        binds.append(profiles, context: .default)
        let ids = "$1::uuid[]"
        var candidates: [String] = []
        for segment in segments {
            let predicate = try segment.rule.sql(&binds)
            binds.append(segment.id, context: .default)
            let segmentParam = "$\(binds.count)::bigint"
            binds.append(segment.slug, context: .default)
            let slugParam = "$\(binds.count)::text"
            var siteFilter = ""
            if let site = segment.siteID {
                binds.append(site, context: .default)
                siteFilter = "AND p.site_id = $\(binds.count)"
            }
            candidates.append("""
                SELECT \(segmentParam) AS segment_id, \(slugParam) AS slug, p.id, p.site_id, coalesce((\(predicate)), false) AS member
                FROM batch p WHERE true \(siteFilter)
                """)
        }
        let sql = """
            WITH batch AS MATERIALIZED (
                SELECT p.* FROM unnest(\(ids)) AS k(id)
                CROSS JOIN LATERAL (
                    SELECT id, site_id, fields, stage, lead_score, engagement_score, last_seen_at, merged_into
                    FROM visitor_profiles WHERE id = k.id LIMIT 1
                ) p
                WHERE p.merged_into IS NULL
            ), candidates AS MATERIALIZED (
            \(candidates.joined(separator: "\nUNION ALL\n"))
            ), entered AS (
                INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                SELECT c.segment_id, c.site_id, c.id FROM candidates c WHERE c.member
                ON CONFLICT (segment_id, profile_id) WHERE left_at IS NULL DO NOTHING
                RETURNING segment_id, profile_id, site_id
            ), exited AS (
                UPDATE segment_memberships m SET left_at = now()
                FROM candidates c
                WHERE m.segment_id = c.segment_id AND m.profile_id = c.id AND NOT c.member AND m.left_at IS NULL
                RETURNING m.segment_id, m.profile_id, m.site_id
            ), logged AS (
                INSERT INTO profile_changes (site_id, profile_id, kind, changes)
                SELECT e.site_id, e.profile_id, '\(ChangeKind.segmentEntered.rawValue)', jsonb_build_object('segment', c.slug)
                FROM entered e JOIN candidates c ON c.segment_id = e.segment_id AND c.id = e.profile_id
                UNION ALL
                SELECT x.site_id, x.profile_id, '\(ChangeKind.segmentLeft.rawValue)', jsonb_build_object('segment', c.slug)
                FROM exited x JOIN candidates c ON c.segment_id = x.segment_id AND c.id = x.profile_id
                RETURNING profile_id
            )
            SELECT DISTINCT profile_id FROM logged
            """
        var changed = Set<UUID>()
        let rows = try await tx.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await id in rows.decode(UUID.self) { changed.insert(id) }
        return changed
    }

    /// Re-evaluates every profile, a page at a time (each page its own transaction): time windows
    /// such as "inactive for 14 days" change without any event.
    func reevaluateAll(_ client: PostgresClient) async throws -> Int {
        var after = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        var total = 0
        while true {
            let page: [UUID] = try await client.transaction(logger: logger) { tx in
                let rows = try await tx.query(
                    "SELECT id FROM visitor_profiles WHERE merged_into IS NULL AND id > \(after) ORDER BY id LIMIT 1000", logger: logger)
                var ids: [UUID] = []
                for try await id in rows.decode(UUID.self) { ids.append(id) }
                try await evaluate(ids, segments: try await activeSegments(on: tx), on: tx)
                return ids
            }
            guard let last = page.last else { return total }
            total += page.count
            after = last
        }
    }
}
