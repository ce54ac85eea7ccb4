import PostgresNIO

/// The SQL that renders one profile as the API's JSON document, built by Postgres in one round
/// trip: fields, identities, scores, engagement, top interests, current segments, and what the
/// visitor's chat showed (intents, pain points in their own words).
enum ProfileDocument {
    /// Named fragment `profile_document` over alias `p` (visitor_profiles) and `s` (sites).
    static let select = """
        jsonb_build_object(
            'id', p.id, 'site', s.slug, 'fields', p.fields, 'field_meta', p.field_meta,
            'stage', p.stage, 'lead_score', p.lead_score, 'engagement_score', p.engagement_score,
            'score_breakdown', p.score_breakdown, 'interest_tags', to_jsonb(p.interest_tags),
            'first_seen_at', p.first_seen_at, 'last_seen_at', p.last_seen_at, 'anonymized_at', p.anonymized_at,
            'created_at', p.created_at, 'updated_at', p.updated_at, 'version', p.version,
            'identities', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', i.kind, 'value', i.value) ORDER BY i.kind, i.value)
                                    FROM profile_identities i WHERE i.profile_id = p.id), '[]'::jsonb),
            'engagement', (SELECT to_jsonb(e) - 'profile_id' - 'site_id' FROM engagement_metrics e WHERE e.profile_id = p.id),
            'interests', coalesce((SELECT jsonb_agg(x.doc ORDER BY x.confidence DESC) FROM (
                                    SELECT jsonb_build_object('item', ci.slug, 'category', cc.slug, 'confidence', it.confidence,
                                                              'chat_score', it.chat_score, 'page_score', it.page_score,
                                                              'evidence_count', it.evidence_count, 'last_evidence_at', it.last_evidence_at) AS doc,
                                           it.confidence
                                    FROM interests it
                                    LEFT JOIN catalog_items ci ON ci.id = it.catalog_item_id
                                    LEFT JOIN catalog_categories cc ON cc.id = coalesce(it.category_id, ci.category_id)
                                    WHERE it.profile_id = p.id AND NOT it.negated
                                    ORDER BY it.confidence DESC LIMIT 20) x), '[]'::jsonb),
            'segments', coalesce((SELECT jsonb_agg(sg.slug ORDER BY sg.slug) FROM segment_memberships m
                                  JOIN segments sg ON sg.id = m.segment_id WHERE m.profile_id = p.id AND m.left_at IS NULL), '[]'::jsonb),
            'chat', jsonb_build_object(
                'intents', coalesce((SELECT jsonb_agg(x.doc ORDER BY x.at DESC) FROM (
                                        SELECT jsonb_build_object('intent', ci.intent, 'confidence', max(ci.confidence), 'mentions', count(*),
                                                                  'last_detected_at', max(ci.detected_at)) AS doc, max(ci.detected_at) AS at
                                        FROM chat_intents ci WHERE ci.profile_id = p.id AND ci.intent <> 'pain_point'
                                        GROUP BY ci.intent ORDER BY max(ci.detected_at) DESC LIMIT 10) x), '[]'::jsonb),
                'pain_points', coalesce((SELECT jsonb_agg(x.doc ORDER BY x.at DESC) FROM (
                                        SELECT jsonb_build_object('text', t.text, 'conversation_id', ci.conversation_id,
                                                                  'detected_at', ci.detected_at) AS doc, ci.detected_at AS at
                                        FROM chat_intents ci CROSS JOIN LATERAL jsonb_array_elements_text(ci.details->'pain_points') AS t(text)
                                        WHERE ci.profile_id = p.id AND ci.intent = 'pain_point'
                                        ORDER BY ci.detected_at DESC LIMIT 10) x), '[]'::jsonb))
        )::text
        """
}
