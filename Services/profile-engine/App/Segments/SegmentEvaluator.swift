import Foundation
import Logging
import PostgresNIO
import Shared

/// Keeps `segment_memberships` current: for the given profiles, evaluates every active segment
/// and records who entered and who left (with the time), plus a change-log row each.
struct SegmentEvaluator: Sendable {
    let logger: Logger

    struct Segment: Sendable {
        let id: Int64
        let siteID: Int64?
        let slug: String
        let rule: SegmentRule
    }

    /// Named query `active_segments`; definitions that no longer parse are skipped with a warning.
    func activeSegments(on connection: PostgresConnection) async throws -> [Segment] {
        let rows = try await connection.query("SELECT id, site_id, slug, definition::text FROM segments WHERE active ORDER BY id", logger: logger)
        var segments: [Segment] = []
        for try await (id, site, slug, definition) in rows.decode((Int64, Int64?, String, String).self) {
            guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(definition.utf8)), let rule = try? SegmentRule(json: json) else {
                logger.warning("segment definition does not parse; skipped", metadata: ["segment": "\(slug)"])
                continue
            }
            segments.append(Segment(id: id, siteID: site, slug: slug, rule: rule))
        }
        return segments
    }

    /// Evaluates `profiles` (ids of unmerged profiles) against every active segment. Returns the
    /// profiles whose memberships changed.
    @discardableResult
    func evaluate(_ profiles: [UUID], segments: [Segment], on tx: PostgresConnection) async throws -> Set<UUID> {
        guard !profiles.isEmpty, !segments.isEmpty else { return [] }
        var changed = Set<UUID>()
        for segment in segments {
            var binds = PostgresBindings()
            let predicate = try segment.rule.sql(&binds)
            binds.append(profiles, context: .default)
            let idsParam = "$\(binds.count)"
            binds.append(segment.id, context: .default)
            let segmentParam = "$\(binds.count)"
            binds.append(segment.slug, context: .default)
            let slugParam = "$\(binds.count)"
            let siteFilter: String
            if let site = segment.siteID {
                binds.append(site, context: .default)
                siteFilter = "AND p.site_id = $\(binds.count)"
            } else {
                siteFilter = ""
            }
            let sql = """
                WITH candidates AS (
                    SELECT p.id, p.site_id, coalesce((\(predicate)), false) AS member
                    FROM visitor_profiles p WHERE p.id = ANY(\(idsParam)::uuid[]) AND p.merged_into IS NULL \(siteFilter)
                ), current AS (
                    SELECT m.profile_id FROM segment_memberships m
                    WHERE m.segment_id = \(segmentParam) AND m.left_at IS NULL AND m.profile_id = ANY(\(idsParam)::uuid[])
                ), entered AS (
                    INSERT INTO segment_memberships (segment_id, site_id, profile_id)
                    SELECT \(segmentParam), c.site_id, c.id FROM candidates c
                    WHERE c.member AND c.id NOT IN (SELECT profile_id FROM current)
                    RETURNING profile_id, site_id
                ), exited AS (
                    UPDATE segment_memberships m SET left_at = now()
                    WHERE m.segment_id = \(segmentParam) AND m.left_at IS NULL
                      AND m.profile_id IN (SELECT id FROM candidates WHERE NOT member)
                    RETURNING m.profile_id, m.site_id
                ), logged AS (
                    INSERT INTO profile_changes (site_id, profile_id, kind, changes)
                    SELECT site_id, profile_id, 'segment_entered', jsonb_build_object('segment', \(slugParam)::text) FROM entered
                    UNION ALL
                    SELECT site_id, profile_id, 'segment_left', jsonb_build_object('segment', \(slugParam)::text) FROM exited
                    RETURNING profile_id
                )
                SELECT DISTINCT profile_id FROM logged
                """
            let rows = try await tx.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            for try await id in rows.decode(UUID.self) { changed.insert(id) }
        }
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
