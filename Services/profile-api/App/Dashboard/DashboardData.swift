import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// The dashboard's own reads: who is signed in, sites, the profile list and a profile's page.
/// Report panels use `Reports` like the API does.
struct DashboardData: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Named query `dashboard_key`: scopes of a live (not revoked) key, or nil.
    func scopes(keyID: Int64) async throws -> Set<APIScope>? {
        let rows = try await client.query("SELECT scopes FROM api_keys WHERE id = \(keyID) AND revoked_at IS NULL", logger: logger)
        for try await scopes in rows.decode([String].self) { return Set(scopes.compactMap(APIScope.init(rawValue:))) }
        return nil
    }

    /// Named query `dashboard_sites`.
    func sites() async throws -> [String] {
        var slugs: [String] = []
        for try await slug in try await client.query("SELECT slug FROM sites ORDER BY id", logger: logger).decode(String.self) { slugs.append(slug) }
        return slugs
    }

    private func json(_ query: PostgresQuery) async throws -> JSONValue {
        for try await text in try await client.query(query, logger: logger).decode(String?.self) {
            return JSONValue(databaseText: text)
        }
        return .null
    }

    /// Named query `dashboard_profile_search`: live profiles whose name, email or company contains
    /// `text` (case-insensitive; LIKE wildcards in it are taken literally), most recent first.
    func searchProfiles(site: String, text: String, limit: Int = 50) async throws -> [JSONValue] {
        let pattern = "%" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
        let result = try await json("""
            SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]')::text FROM (
                SELECT id, name, email, company, stage, lead_score, last_seen_at FROM v_profiles
                WHERE site_slug = \(site) AND (\(text) = '' OR name ILIKE \(pattern) OR email ILIKE \(pattern) OR company ILIKE \(pattern))
                ORDER BY last_seen_at DESC NULLS LAST, id LIMIT \(limit)) x
            """)
        return result.arrayValue ?? []
    }

    /// Named query `dashboard_profile`: fields, scores, interests with their evidence and a
    /// timeline of page views, chat messages, stage changes and segment changes.
    func profile(_ id: UUID) async throws -> JSONValue? {
        let result = try await json("""
            SELECT jsonb_build_object(
                'id', p.id, 'site', s.slug, 'fields', p.fields, 'stage', p.stage, 'lead_score', p.lead_score,
                'engagement_score', p.engagement_score, 'score_breakdown', p.score_breakdown,
                'first_seen_at', p.first_seen_at, 'last_seen_at', p.last_seen_at,
                'interests', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'target', coalesce(ci.name, cc.name), 'confidence', round(i.confidence::numeric, 2),
                        'evidence_count', i.evidence_count, 'last_evidence_at', i.last_evidence_at,
                        'pages', coalesce((SELECT jsonb_agg(DISTINCT pv.path) FROM page_interests pi JOIN page_views pv ON pv.id = pi.page_view_id
                                           WHERE pi.profile_id = p.id AND pi.catalog_item_id IS NOT DISTINCT FROM i.catalog_item_id
                                             AND pi.category_id IS NOT DISTINCT FROM i.category_id), '[]'),
                        'quotes', coalesce((SELECT jsonb_agg(pr.snippet ORDER BY pr.detected_at DESC) FROM product_interests pr
                                            WHERE pr.profile_id = p.id AND pr.snippet IS NOT NULL AND NOT pr.negated
                                              AND pr.catalog_item_id IS NOT DISTINCT FROM i.catalog_item_id
                                              AND pr.category_id IS NOT DISTINCT FROM i.category_id), '[]'))
                    ORDER BY i.confidence DESC)
                    FROM interests i LEFT JOIN catalog_items ci ON ci.id = i.catalog_item_id LEFT JOIN catalog_categories cc ON cc.id = i.category_id
                    WHERE i.profile_id = p.id AND NOT i.negated), '[]'),
                'timeline', coalesce((SELECT jsonb_agg(t ORDER BY t.at DESC) FROM (
                    (SELECT viewed_at AS at, 'page view' AS kind, path AS detail FROM page_views WHERE profile_id = p.id ORDER BY viewed_at DESC LIMIT 100)
                    UNION ALL
                    (SELECT sent_at, 'chat (' || role || ')', left(text, 200) FROM chat_messages WHERE profile_id = p.id ORDER BY sent_at DESC LIMIT 100)
                    UNION ALL
                    (SELECT transitioned_at, 'stage', coalesce(from_stage, '') || ' → ' || to_stage FROM stage_transitions WHERE profile_id = p.id
                     ORDER BY transitioned_at DESC LIMIT 100)
                    UNION ALL
                    (SELECT m.entered_at, 'segment entered', g.name FROM segment_memberships m JOIN segments g ON g.id = m.segment_id WHERE m.profile_id = p.id LIMIT 100)
                    UNION ALL
                    (SELECT m.left_at, 'segment left', g.name FROM segment_memberships m JOIN segments g ON g.id = m.segment_id
                     WHERE m.profile_id = p.id AND m.left_at IS NOT NULL LIMIT 100)
                    ORDER BY 1 DESC LIMIT 100) t), '[]')
            )::text
            FROM visitor_profiles p JOIN sites s ON s.id = p.site_id WHERE p.id = \(id)
            """)
        return result.isNull ? nil : result
    }
}
