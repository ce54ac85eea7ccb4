import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Named query `recommend_items`: ranked catalog items for a profile, each with its reasons —
/// the profile's own interests, items that visitors with similar interests engaged with
/// (co-occurrence, weighted by similarity), and categories it cares about. Rejected (negated)
/// interests and products it already owns (field `owned_products`) are excluded. For the top items,
/// site pages that match their URL patterns (globs on the path) and that it has not seen yet.
enum RecommendationQuery {
    static func run(profile id: UUID, limit: Int, client: PostgresClient, logger: Logger) async throws -> JSONValue? {
        let rows = try await client.query(
            """
            WITH target AS (
                SELECT coalesce(merged_into, id) AS id, site_id FROM visitor_profiles WHERE id = \(id)
            ), owner AS (
                SELECT p.id, p.site_id, p.fields FROM visitor_profiles p JOIN target t ON t.id = p.id
            ), mine AS (
                SELECT i.catalog_item_id AS item, i.category_id AS category, i.confidence, i.negated
                FROM interests i JOIN owner o ON o.id = i.profile_id
            ), liked AS (
                SELECT item, confidence FROM mine WHERE NOT negated AND item IS NOT NULL
            ), liked_categories AS (
                SELECT category, confidence FROM mine WHERE NOT negated AND category IS NOT NULL
                UNION ALL
                SELECT ci.category_id, l.confidence FROM liked l JOIN catalog_items ci ON ci.id = l.item WHERE ci.category_id IS NOT NULL
            ), neighbours AS (
                SELECT i.profile_id, sum(i.confidence * l.confidence) AS similarity
                FROM interests i JOIN liked l ON l.item = i.catalog_item_id JOIN owner o ON i.profile_id <> o.id
                WHERE NOT i.negated GROUP BY i.profile_id ORDER BY 2 DESC LIMIT 200
            ), co AS (
                SELECT i.catalog_item_id AS item, sum(n.similarity * i.confidence) AS score, count(*) AS visitors
                FROM interests i JOIN neighbours n USING (profile_id)
                WHERE NOT i.negated AND i.catalog_item_id IS NOT NULL GROUP BY 1
            ), candidates AS (
                SELECT ci.id, ci.slug, ci.name, ci.kind, cc.slug AS category, cc.name AS category_name, ci.url_patterns,
                       coalesce(l.confidence, 0) AS own, coalesce(co.score, 0) AS co_score, coalesce(co.visitors, 0) AS co_visitors,
                       coalesce((SELECT max(lc.confidence) FROM liked_categories lc WHERE lc.category = ci.category_id), 0) AS category_score
                FROM catalog_items ci
                JOIN owner o ON o.site_id = ci.site_id
                LEFT JOIN catalog_categories cc ON cc.id = ci.category_id
                LEFT JOIN liked l ON l.item = ci.id
                LEFT JOIN co ON co.item = ci.id
                WHERE ci.active
                  AND ci.id NOT IN (SELECT item FROM mine WHERE negated AND item IS NOT NULL)
                  AND NOT coalesce(o.fields->'owned_products' ? ci.slug, false)
            ), scored AS (
                SELECT *, round((own + 0.6 * co_score / nullif(max(co_score) OVER (), 0) + 0.3 * category_score)::numeric, 4) AS score
                FROM candidates
            ), top AS (
                SELECT * FROM scored WHERE score > 0 ORDER BY score DESC, slug LIMIT \(limit)
            ), seen AS (
                SELECT DISTINCT v.path FROM page_views v JOIN owner o ON o.id = v.profile_id
            )
            SELECT jsonb_build_object(
                'profile_id', (SELECT id FROM target),
                'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'item', t.slug, 'name', t.name, 'kind', t.kind, 'category', t.category, 'score', t.score,
                    'reasons', to_jsonb(array_remove(ARRAY[
                        CASE WHEN t.own > 0 THEN format('showed interest in it (confidence %s)', round(t.own::numeric, 2)) END,
                        CASE WHEN t.co_score > 0 THEN format('%s visitors with similar interests engaged with it', t.co_visitors) END,
                        CASE WHEN t.category_score > 0 THEN format('interested in %s', t.category_name) END], NULL)),
                    'content', coalesce((SELECT jsonb_agg(jsonb_build_object('path', c.path, 'title', c.title, 'views', c.views) ORDER BY c.views DESC, c.path)
                        FROM (SELECT v.path, max(v.title) AS title, count(*) AS views FROM page_views v
                              WHERE v.site_id = (SELECT site_id FROM target)
                                AND EXISTS (SELECT 1 FROM unnest(t.url_patterns) AS g(pattern)
                                            WHERE v.path ILIKE replace(replace(replace(g.pattern, '%', '\\%'), '_', '\\_'), '*', '%'))
                                AND v.path NOT IN (SELECT path FROM seen)
                              GROUP BY v.path ORDER BY count(*) DESC, v.path LIMIT 3) c), '[]'::jsonb))
                    ORDER BY t.score DESC, t.slug) FROM top t), '[]'::jsonb)
            )::text
            FROM target
            """, logger: logger)
        for try await text in rows.decode(String.self) {
            return try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }
        return nil
    }
}
