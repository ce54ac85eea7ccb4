import Foundation
import PostgresNIO
import ProfileModel

/// Page views, sessions and the metrics derived from them.
extension BatchProcessor {
    private struct Device: Hashable {
        let profileID: UUID
        let key: String
    }

    /// Sessionizes the batch's page views per device and writes sessions and page views.
    /// Returns the sessions whose aggregates must be recomputed.
    func writePageViews(_ events: [StoredEvent], resolution: IdentityResolver.Resolution, on tx: PostgresConnection) async throws -> Set<UUID> {
        var byDevice: [Device: [PageViewInput]] = [:]
        for event in events {
            guard let profile = resolution.profileOfEvent[event.id], let device = event.deviceKey,
                  let view = PageViewInput(event: event, profileID: profile) else { continue }
            byDevice[Device(profileID: profile, key: device), default: []].append(view)
        }
        guard !byDevice.isEmpty else { return [] }
        let existing = try await sessionsAround(byDevice, on: tx)

        var newSessions: [JSONValue] = []
        var movedSessions: [JSONValue] = []
        var absorbed: [(UUID, UUID)] = []
        var pageViewRows: [JSONValue] = []
        var touched = Set<UUID>()
        for (device, views) in byDevice {
            let result = sessionizer.assign(views.map { (key: $0.event.id, time: $0.event.occurredAt, campaign: $0.campaign) },
                                            existing: existing[device] ?? [])
            absorbed += result.absorbed
            let firstView = Dictionary(grouping: views, by: { result.assignments[$0.event.id]! }).mapValues { $0.min { $0.event.occurredAt < $1.event.occurredAt }! }
            for session in result.sessions where session.changed {
                touched.insert(session.id)
                if session.isNew, let view = firstView[session.id] {
                    let siteID = view.event.siteID
                    var row: [String: JSONValue] = [
                        "id": .string(session.id.uuidString), "site_id": .number(Double(siteID)),
                        "profile_id": .string(device.profileID.uuidString), "anonymous_id": .string(device.key),
                        "started_at": .string(session.start.formatted(FieldProvenance.timestampStyle)),
                        "last_activity_at": .string(session.lastActivity.formatted(FieldProvenance.timestampStyle)),
                        "referrer": view.referrer.map(JSONValue.string) ?? .null,
                        "referrer_host": view.referrer.flatMap { URLComponents(string: $0)?.host }.map(JSONValue.string) ?? .null,
                    ]
                    if let campaign = view.campaign {
                        row["utm_source"] = campaign.source.map(JSONValue.string) ?? .null
                        row["utm_medium"] = campaign.medium.map(JSONValue.string) ?? .null
                        row["utm_campaign"] = campaign.name.map(JSONValue.string) ?? .null
                        row["utm_term"] = campaign.term.map(JSONValue.string) ?? .null
                        row["utm_content"] = campaign.content.map(JSONValue.string) ?? .null
                    }
                    newSessions.append(.object(row))
                } else {
                    movedSessions.append(["id": .string(session.id.uuidString),
                                          "started_at": .string(session.start.formatted(FieldProvenance.timestampStyle)),
                                          "last_activity_at": .string(session.lastActivity.formatted(FieldProvenance.timestampStyle))])
                }
            }
            for view in views {
                guard let session = result.assignments[view.event.id] else { continue }
                pageViewRows.append([
                    "site_id": .number(Double(view.event.siteID)), "session_id": .string(session.uuidString),
                    "profile_id": .string(view.profileID.uuidString), "event_id": .number(Double(view.event.id)),
                    "client_page_view_id": .string(view.event.messageID), "url": .string(view.url), "path": .string(String(view.path.prefix(2048))),
                    "title": view.title.map { .string(String($0.prefix(1000))) } ?? .null,
                    "referrer": view.referrer.map { .string(String($0.prefix(2048))) } ?? .null,
                    "viewed_at": .string(view.event.occurredAt.formatted(FieldProvenance.timestampStyle)),
                ])
            }
        }
        if !newSessions.isEmpty {
            try await tx.query(
                """
                INSERT INTO sessions (id, site_id, profile_id, anonymous_id, started_at, last_activity_at, referrer, referrer_host,
                                      utm_source, utm_medium, utm_campaign, utm_term, utm_content)
                SELECT id, site_id, profile_id, anonymous_id, started_at, last_activity_at, referrer, referrer_host,
                       utm_source, utm_medium, utm_campaign, utm_term, utm_content
                FROM jsonb_to_recordset(\(JSONValue.array(newSessions).jsonText)::jsonb) AS s(
                    id uuid, site_id bigint, profile_id uuid, anonymous_id text, started_at timestamptz, last_activity_at timestamptz,
                    referrer text, referrer_host text, utm_source text, utm_medium text, utm_campaign text, utm_term text, utm_content text)
                """, logger: logger)
        }
        if !movedSessions.isEmpty {
            try await tx.query(
                """
                UPDATE sessions s SET started_at = m.started_at, last_activity_at = m.last_activity_at, updated_at = now()
                FROM jsonb_to_recordset(\(JSONValue.array(movedSessions).jsonText)::jsonb) AS m(id uuid, started_at timestamptz, last_activity_at timestamptz)
                WHERE s.id = m.id
                """, logger: logger)
        }
        // A late page view that bridged two sessions: the later one is folded into the earlier.
        for (gone, survivor) in absorbed {
            try await tx.query("UPDATE page_views SET session_id = \(survivor) WHERE session_id = \(gone)", logger: logger)
            try await tx.query("UPDATE conversations SET session_id = \(survivor) WHERE session_id = \(gone)", logger: logger)
            try await tx.query(
                "UPDATE sessions SET event_count = event_count + (SELECT event_count FROM sessions WHERE id = \(gone)) WHERE id = \(survivor)",
                logger: logger)
            try await tx.query("DELETE FROM sessions WHERE id = \(gone)", logger: logger)
            touched.remove(gone)
            touched.insert(survivor)
        }
        try await tx.query(
            """
            INSERT INTO page_views (site_id, session_id, profile_id, event_id, client_page_view_id, url, path, title, referrer, viewed_at)
            SELECT * FROM jsonb_to_recordset(\(JSONValue.array(pageViewRows).jsonText)::jsonb) AS v(
                site_id bigint, session_id uuid, profile_id uuid, event_id bigint, client_page_view_id text, url text, path text,
                title text, referrer text, viewed_at timestamptz)
            ON CONFLICT DO NOTHING
            """, logger: logger)
        return touched
    }

    /// Named query `sessions_around`: the stored sessions of each device that new page views could
    /// join, looked up device by device (LATERAL, by `sessions_profile_started_idx`). No other worker
    /// can lock them: they belong to profiles this batch holds.
    private func sessionsAround(_ byDevice: [Device: [PageViewInput]], on tx: PostgresConnection) async throws -> [Device: [SessionSpan]] {
        let window = sessionizer.timeout
        let keys = JSONValue.array(byDevice.map { device, views in
            let times = views.map(\.event.occurredAt)
            return ["profile_id": .string(device.profileID.uuidString), "device": .string(device.key),
                    "from_t": .string(times.min()!.addingTimeInterval(-window).formatted(FieldProvenance.timestampStyle)),
                    "to_t": .string(times.max()!.addingTimeInterval(window).formatted(FieldProvenance.timestampStyle))]
        })
        let rows = try await tx.query(
            """
            SELECT s.id, s.profile_id, s.anonymous_id, s.started_at, s.last_activity_at, s.utm_source, s.utm_medium, s.utm_campaign,
                   s.utm_term, s.utm_content
            FROM jsonb_to_recordset(\(keys.jsonText)::jsonb) AS k(profile_id uuid, device text, from_t timestamptz, to_t timestamptz)
            CROSS JOIN LATERAL (
                SELECT * FROM sessions s
                WHERE s.profile_id = k.profile_id AND s.anonymous_id = k.device AND s.last_activity_at >= k.from_t AND s.started_at <= k.to_t
                FOR UPDATE
            ) s
            ORDER BY s.id
            """, logger: logger)
        var sessions: [Device: [SessionSpan]] = [:]
        for try await (id, profile, device, start, last, source, medium, name, term, content) in rows.decode(
            (UUID, UUID, String, Date, Date, String?, String?, String?, String?, String?).self
        ) {
            let campaign = source == nil && medium == nil && name == nil ? nil : Campaign(source: source, medium: medium, name: name, term: term, content: content)
            sessions[Device(profileID: profile, key: device), default: []].append(
                SessionSpan(id: id, start: start, lastActivity: last, campaign: campaign, isNew: false, changed: false))
        }
        return sessions
    }

    /// Named query `apply_page_engagement`: dwell time and scroll depth onto the page view they
    /// belong to (by the tracker's page view id, else the latest view of that path).
    func applyPageEngagement(_ events: [StoredEvent], resolution: IdentityResolver.Resolution, on tx: PostgresConnection) async throws -> Set<UUID> {
        let rows = events.compactMap { event in
            resolution.profileOfEvent[event.id].flatMap { PageEngagement(event: event, profileID: $0)?.row }
        }
        guard !rows.isEmpty else { return [] }
        let result = try await tx.query(
            """
            WITH i AS (
                SELECT * FROM jsonb_to_recordset(\(JSONValue.array(rows).jsonText)::jsonb)
                    AS t(profile_id uuid, client_pv text, path text, at timestamptz, dwell_ms bigint, scroll int)
            ), target AS (
                SELECT i.dwell_ms, i.scroll, (
                    SELECT pv.id FROM page_views pv
                    WHERE pv.profile_id = i.profile_id
                      AND ((i.client_pv IS NOT NULL AND pv.client_page_view_id = i.client_pv)
                           OR (i.client_pv IS NULL AND pv.path = i.path AND pv.viewed_at <= i.at))
                    ORDER BY pv.viewed_at DESC LIMIT 1) AS page_view_id
                FROM i
            ), totals AS (
                SELECT page_view_id, sum(dwell_ms) AS dwell_ms, max(scroll) AS scroll, count(*) AS n
                FROM target WHERE page_view_id IS NOT NULL GROUP BY page_view_id
            ), updated AS (
                UPDATE page_views pv SET dwell_ms = pv.dwell_ms + t.dwell_ms, max_scroll_pct = greatest(pv.max_scroll_pct, t.scroll),
                       updated_at = now()
                FROM totals t WHERE pv.id = t.page_view_id
                RETURNING pv.session_id, t.n
            ), counted AS (
                UPDATE sessions s SET event_count = s.event_count + c.n
                FROM (SELECT session_id, sum(n)::int AS n FROM updated GROUP BY session_id) c
                WHERE s.id = c.session_id
                RETURNING s.id
            )
            SELECT id FROM counted
            """, logger: logger)
        var sessions = Set<UUID>()
        for try await id in result.decode(UUID.self) { sessions.insert(id) }
        return sessions
    }

    /// Named query `refresh_sessions`: a session's figures (on `sessions` and `session_analytics`)
    /// are recomputed from its page views, so they do not depend on the order events arrived in.
    /// One statement, one read of each session's page views; each session is read by its own
    /// index lookup (LATERAL), so the plan stays a handful of index scans per session even while
    /// the tables grow faster than their statistics (a hash join over all of `page_views` was
    /// chosen before, once per batch).
    func refreshSessions(_ sessions: Set<UUID>, on tx: PostgresConnection) async throws {
        guard !sessions.isEmpty else { return }
        try await tx.query(
            """
            WITH agg AS MATERIALIZED (
                SELECT k.id AS session_id, a.*, d.dwell_per_page
                FROM unnest(\(Array(sessions))::uuid[]) AS k(id)
                CROSS JOIN LATERAL (
                    SELECT min(viewed_at) AS first_at, max(viewed_at) AS last_at, count(*)::int AS pages,
                           count(DISTINCT path)::int AS unique_pages,
                           (array_agg(url ORDER BY viewed_at, id))[1] AS entry_url, (array_agg(url ORDER BY viewed_at DESC, id DESC))[1] AS exit_url,
                           (array_agg(path ORDER BY viewed_at, id))[1] AS entry_page, (array_agg(path ORDER BY viewed_at DESC, id DESC))[1] AS exit_page,
                           coalesce(max(max_scroll_pct), 0) AS max_scroll, coalesce(sum(dwell_ms), 0) AS dwell_ms
                    FROM page_views WHERE session_id = k.id) a
                CROSS JOIN LATERAL (
                    SELECT coalesce(jsonb_object_agg(x.path, x.ms), '{}') AS dwell_per_page
                    FROM (SELECT path, sum(dwell_ms) AS ms FROM page_views WHERE session_id = k.id GROUP BY path) x) d
            ), updated AS (
                UPDATE sessions s SET started_at = least(s.started_at, a.first_at), last_activity_at = greatest(s.last_activity_at, a.last_at),
                       page_count = a.pages, entry_url = a.entry_url, exit_url = a.exit_url, updated_at = now()
                FROM agg a WHERE s.id = a.session_id AND a.pages > 0
                RETURNING s.id, s.site_id, s.profile_id, s.started_at, s.last_activity_at, s.event_count
            ), current AS (
                SELECT * FROM updated
                UNION ALL
                SELECT s.id, s.site_id, s.profile_id, s.started_at, s.last_activity_at, s.event_count
                FROM agg a JOIN sessions s ON s.id = a.session_id WHERE a.pages = 0
            )
            INSERT INTO session_analytics (session_id, site_id, profile_id, pages, unique_pages, interactions, duration_seconds,
                                           entry_page, exit_page, bounced, max_scroll_pct, total_dwell_ms, dwell_per_page, updated_at)
            SELECT c.id, c.site_id, c.profile_id, a.pages, a.unique_pages, c.event_count,
                   greatest(extract(epoch FROM c.last_activity_at - c.started_at), a.dwell_ms / 1000.0)::int,
                   a.entry_page, a.exit_page, a.pages <= 1 AND c.event_count = 0, a.max_scroll, a.dwell_ms, a.dwell_per_page, now()
            FROM current c JOIN agg a ON a.session_id = c.id
            ON CONFLICT (session_id) DO UPDATE SET
                profile_id = EXCLUDED.profile_id, pages = EXCLUDED.pages, unique_pages = EXCLUDED.unique_pages,
                interactions = EXCLUDED.interactions, duration_seconds = EXCLUDED.duration_seconds,
                entry_page = EXCLUDED.entry_page, exit_page = EXCLUDED.exit_page, bounced = EXCLUDED.bounced,
                max_scroll_pct = EXCLUDED.max_scroll_pct, total_dwell_ms = EXCLUDED.total_dwell_ms,
                dwell_per_page = EXCLUDED.dwell_per_page, updated_at = now()
            """, logger: logger)
    }

    /// Named query `refresh_engagement_metrics`: per-profile behaviour, recomputed from sessions
    /// (per profile by index lookups, for the same reason as `refresh_sessions`).
    func refreshEngagement(_ profiles: Set<UUID>, on tx: PostgresConnection) async throws {
        guard !profiles.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO engagement_metrics (profile_id, site_id, sessions_count, page_views_count, pages_per_session,
                total_time_seconds, avg_session_seconds, bounce_count, return_visits, interactions_count,
                conversations_count, chat_messages_count, avg_scroll_pct, first_visit_at, last_visit_at,
                visits_last_7d, visits_last_30d, updated_at)
            SELECT p.id, p.site_id, m.sessions, m.pages,
                   CASE WHEN m.sessions > 0 THEN m.pages::real / m.sessions ELSE 0 END,
                   m.seconds, m.avg_seconds, m.bounces, greatest(m.sessions - 1, 0), m.interactions,
                   (SELECT count(*) FROM conversations c WHERE c.profile_id = p.id)::int,
                   (SELECT count(*) FROM chat_messages cm WHERE cm.profile_id = p.id)::int,
                   m.avg_scroll, m.first_visit, m.last_visit, m.last_7d, m.last_30d, now()
            FROM unnest(\(Array(profiles))::uuid[]) AS k(id)
            JOIN visitor_profiles p ON p.id = k.id
            CROSS JOIN LATERAL (
                SELECT count(s.id)::int AS sessions, coalesce(sum(sa.pages), 0)::int AS pages,
                       coalesce(sum(sa.duration_seconds), 0) AS seconds, coalesce(avg(sa.duration_seconds), 0)::int AS avg_seconds,
                       count(*) FILTER (WHERE sa.bounced)::int AS bounces, coalesce(sum(sa.interactions), 0)::int AS interactions,
                       coalesce(avg(sa.max_scroll_pct), 0)::real AS avg_scroll, min(s.started_at) AS first_visit,
                       max(s.last_activity_at) AS last_visit,
                       count(s.id) FILTER (WHERE s.started_at > now() - interval '7 days')::int AS last_7d,
                       count(s.id) FILTER (WHERE s.started_at > now() - interval '30 days')::int AS last_30d
                FROM sessions s LEFT JOIN session_analytics sa ON sa.session_id = s.id
                WHERE s.profile_id = p.id) m
            ON CONFLICT (profile_id) DO UPDATE SET
                sessions_count = EXCLUDED.sessions_count, page_views_count = EXCLUDED.page_views_count,
                pages_per_session = EXCLUDED.pages_per_session, total_time_seconds = EXCLUDED.total_time_seconds,
                avg_session_seconds = EXCLUDED.avg_session_seconds, bounce_count = EXCLUDED.bounce_count,
                return_visits = EXCLUDED.return_visits, interactions_count = EXCLUDED.interactions_count,
                conversations_count = EXCLUDED.conversations_count, chat_messages_count = EXCLUDED.chat_messages_count,
                avg_scroll_pct = EXCLUDED.avg_scroll_pct, first_visit_at = EXCLUDED.first_visit_at,
                last_visit_at = EXCLUDED.last_visit_at, visits_last_7d = EXCLUDED.visits_last_7d,
                visits_last_30d = EXCLUDED.visits_last_30d, updated_at = now()
            """, logger: logger)
    }

    /// Named query group `write_chat`: conversations and their messages (once per message id).
    func writeChat(_ events: [StoredEvent], resolution: IdentityResolver.Resolution, on tx: PostgresConnection) async throws {
        let messages: [JSONValue] = events.compactMap { event in
            guard event.type == "chat", let profile = resolution.profileOfEvent[event.id],
                  let conversation = event.properties["conversation_id"]?.stringValue, !conversation.isEmpty,
                  let role = event.properties["role"]?.stringValue, let text = event.properties["text"]?.stringValue
            else { return nil }
            return ["site_id": .number(Double(event.siteID)), "conversation_id": .string(String(conversation.prefix(200))),
                    "profile_id": .string(profile.uuidString), "anonymous_id": event.anonymousID.map(JSONValue.string) ?? .null,
                    "external_id": .string(event.messageID), "role": .string(role), "text": .string(text),
                    "sent_at": .string(event.occurredAt.formatted(FieldProvenance.timestampStyle)), "event_id": .number(Double(event.id))]
        }
        guard !messages.isEmpty else { return }
        let json = JSONValue.array(messages).jsonText
        try await tx.query(
            """
            WITH m AS (
                SELECT * FROM jsonb_to_recordset(\(json)::jsonb) AS t(site_id bigint, conversation_id text, profile_id uuid,
                    anonymous_id text, external_id text, role text, text text, sent_at timestamptz, event_id bigint)
            )
            INSERT INTO conversations (site_id, id, profile_id, anonymous_id, started_at, last_message_at)
            SELECT DISTINCT ON (site_id, conversation_id) site_id, conversation_id, profile_id, anonymous_id,
                   min(sent_at) OVER w, max(sent_at) OVER w
            FROM m WINDOW w AS (PARTITION BY site_id, conversation_id)
            ORDER BY site_id, conversation_id, sent_at
            ON CONFLICT (site_id, id) DO UPDATE SET
                started_at = least(conversations.started_at, EXCLUDED.started_at),
                last_message_at = greatest(conversations.last_message_at, EXCLUDED.last_message_at), updated_at = now()
            """, logger: logger)
        try await tx.query(
            """
            WITH inserted AS (
                INSERT INTO chat_messages (site_id, conversation_id, profile_id, external_id, role, text, sent_at, event_id)
                SELECT site_id, conversation_id, profile_id, external_id, role, text, sent_at, event_id
                FROM jsonb_to_recordset(\(json)::jsonb) AS t(site_id bigint, conversation_id text, profile_id uuid,
                    anonymous_id text, external_id text, role text, text text, sent_at timestamptz, event_id bigint)
                ON CONFLICT DO NOTHING
                RETURNING site_id, conversation_id
            )
            UPDATE conversations c SET message_count = c.message_count + n.count
            FROM (SELECT site_id, conversation_id, count(*)::int AS count FROM inserted GROUP BY site_id, conversation_id) n
            WHERE c.site_id = n.site_id AND c.id = n.conversation_id
            """, logger: logger)
    }
}
