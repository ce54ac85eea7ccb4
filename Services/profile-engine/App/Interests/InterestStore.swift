import Foundation
import InterestAnalysis
import Logging
import PostgresNIO
import ProfileModel

/// The only code that writes interest evidence (`product_interests`, `page_interests`,
/// `chat_intents`) and derives `interests` and `visitor_profiles.interest_tags` from it. Used by
/// the engine inside its batch transaction and by catalog re-mapping after an import.
public struct InterestStore: Sendable {
    let scoring: InterestScoring
    let logger: Logger

    public init(scoring: InterestScoring, logger: Logger) {
        self.scoring = scoring
        self.logger = logger
    }

    /// A mention of a catalog target in a stored chat message.
    public struct ChatEvidence: Sendable {
        public let siteID: Int64
        public let profileID: UUID
        public let itemID: Int64?
        public let categoryID: Int64?
        public let conversationID: String
        public let messageID: Int64
        public let intent: String?
        public let negated: Bool
        public let score: Double
        public let snippet: String
        public let detector: String
        public let eventID: Int64?
        public let at: Date

        public init(siteID: Int64, profileID: UUID, itemID: Int64?, categoryID: Int64?, conversationID: String, messageID: Int64,
                    intent: String?, negated: Bool, score: Double, snippet: String, detector: String, eventID: Int64?, at: Date) {
            self.siteID = siteID
            self.profileID = profileID
            self.itemID = itemID
            self.categoryID = categoryID
            self.conversationID = conversationID
            self.messageID = messageID
            self.intent = intent
            self.negated = negated
            self.score = score
            self.snippet = snippet
            self.detector = detector
            self.eventID = eventID
            self.at = at
        }
    }

    /// An intent found in a stored chat message.
    public struct IntentRow: Sendable {
        public let siteID: Int64
        public let profileID: UUID
        public let conversationID: String
        public let messageID: Int64
        public let intent: String
        public let confidence: Double
        public let itemID: Int64?
        public let details: JSONValue
        public let detector: String
        public let eventID: Int64?
        public let at: Date

        public init(siteID: Int64, profileID: UUID, conversationID: String, messageID: Int64, intent: String, confidence: Double,
                    itemID: Int64?, details: JSONValue, detector: String, eventID: Int64?, at: Date) {
            self.siteID = siteID
            self.profileID = profileID
            self.conversationID = conversationID
            self.messageID = messageID
            self.intent = intent
            self.confidence = confidence
            self.itemID = itemID
            self.details = details
            self.detector = detector
            self.eventID = eventID
            self.at = at
        }
    }

    /// A page view that is about a catalog target.
    public struct PageEvidence: Sendable {
        public let siteID: Int64
        public let profileID: UUID
        public let pageViewID: Int64
        public let itemID: Int64?
        public let categoryID: Int64?
        public let matchedBy: String
        public let weight: Double
        public let dwellMilliseconds: Int64
        public let scrollPercent: Int
        public let at: Date

        public init(siteID: Int64, profileID: UUID, pageViewID: Int64, itemID: Int64?, categoryID: Int64?, matchedBy: String, weight: Double,
                    dwellMilliseconds: Int64, scrollPercent: Int, at: Date) {
            self.siteID = siteID
            self.profileID = profileID
            self.pageViewID = pageViewID
            self.itemID = itemID
            self.categoryID = categoryID
            self.matchedBy = matchedBy
            self.weight = weight
            self.dwellMilliseconds = dwellMilliseconds
            self.scrollPercent = scrollPercent
            self.at = at
        }
    }

    /// Compact JSON text, bound as one `jsonb` parameter.
    static func text(_ value: JSONValue) -> String {
        (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "null"
    }

    static func time(_ date: Date) -> JSONValue { .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))) }
    static func id(_ value: Int64?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }

    /// Named query `upsert_product_interests`: re-analysing a message replaces its evidence.
    public func write(_ evidence: [ChatEvidence], on tx: PostgresConnection) async throws {
        guard !evidence.isEmpty else { return }
        let rows = JSONValue.array(evidence.map {
            ["site_id": .number(Double($0.siteID)), "profile_id": .string($0.profileID.uuidString), "catalog_item_id": Self.id($0.itemID),
             "category_id": Self.id($0.categoryID), "conversation_id": .string($0.conversationID), "chat_message_id": .number(Double($0.messageID)),
             "intent": $0.intent.map(JSONValue.string) ?? .null, "negated": .bool($0.negated), "score": .number($0.score),
             "snippet": .string(String($0.snippet.prefix(500))), "detector": .string($0.detector), "event_id": Self.id($0.eventID),
             "detected_at": Self.time($0.at)]
        })
        try await tx.query(
            """
            INSERT INTO product_interests (site_id, profile_id, catalog_item_id, category_id, conversation_id, chat_message_id, intent,
                                           negated, score, snippet, detector, event_id, detected_at)
            SELECT * FROM jsonb_to_recordset(\(Self.text(rows))::jsonb) AS r(site_id bigint, profile_id uuid, catalog_item_id bigint,
                category_id bigint, conversation_id text, chat_message_id bigint, intent text, negated boolean, score real, snippet text,
                detector text, event_id bigint, detected_at timestamptz)
            ON CONFLICT (chat_message_id, catalog_item_id, category_id) DO UPDATE SET intent = EXCLUDED.intent, negated = EXCLUDED.negated,
                score = EXCLUDED.score, snippet = EXCLUDED.snippet, detector = EXCLUDED.detector
            """, logger: logger)
    }

    /// Named query `upsert_chat_intents`.
    public func write(_ intents: [IntentRow], on tx: PostgresConnection) async throws {
        guard !intents.isEmpty else { return }
        let rows = JSONValue.array(intents.map {
            ["site_id": .number(Double($0.siteID)), "profile_id": .string($0.profileID.uuidString), "conversation_id": .string($0.conversationID),
             "chat_message_id": .number(Double($0.messageID)), "intent": .string($0.intent), "confidence": .number($0.confidence),
             "catalog_item_id": Self.id($0.itemID), "details": $0.details, "detector": .string($0.detector), "event_id": Self.id($0.eventID),
             "detected_at": Self.time($0.at)]
        })
        try await tx.query(
            """
            INSERT INTO chat_intents (site_id, profile_id, conversation_id, chat_message_id, intent, confidence, catalog_item_id, details,
                                      detector, event_id, detected_at)
            SELECT * FROM jsonb_to_recordset(\(Self.text(rows))::jsonb) AS r(site_id bigint, profile_id uuid, conversation_id text,
                chat_message_id bigint, intent text, confidence real, catalog_item_id bigint, details jsonb, detector text, event_id bigint,
                detected_at timestamptz)
            ON CONFLICT (chat_message_id, intent) DO UPDATE SET confidence = EXCLUDED.confidence, catalog_item_id = EXCLUDED.catalog_item_id,
                details = EXCLUDED.details, detector = EXCLUDED.detector
            """, logger: logger)
    }

    /// Named query `upsert_page_interests`: a page view's weight follows its dwell and scroll.
    public func write(_ evidence: [PageEvidence], on tx: PostgresConnection) async throws {
        guard !evidence.isEmpty else { return }
        let rows = JSONValue.array(evidence.map {
            ["site_id": .number(Double($0.siteID)), "profile_id": .string($0.profileID.uuidString), "page_view_id": .number(Double($0.pageViewID)),
             "catalog_item_id": Self.id($0.itemID), "category_id": Self.id($0.categoryID), "matched_pattern": .string($0.matchedBy),
             "weight": .number($0.weight), "dwell_ms": .number(Double($0.dwellMilliseconds)), "max_scroll_pct": .number(Double($0.scrollPercent)),
             "viewed_at": Self.time($0.at)]
        })
        try await tx.query(
            """
            INSERT INTO page_interests (site_id, profile_id, page_view_id, catalog_item_id, category_id, matched_pattern, weight, dwell_ms,
                                        max_scroll_pct, viewed_at)
            SELECT * FROM jsonb_to_recordset(\(Self.text(rows))::jsonb) AS r(site_id bigint, profile_id uuid, page_view_id bigint,
                catalog_item_id bigint, category_id bigint, matched_pattern text, weight real, dwell_ms bigint, max_scroll_pct smallint,
                viewed_at timestamptz)
            ON CONFLICT (page_view_id, catalog_item_id, category_id) DO UPDATE SET matched_pattern = EXCLUDED.matched_pattern,
                weight = EXCLUDED.weight, dwell_ms = EXCLUDED.dwell_ms, max_scroll_pct = EXCLUDED.max_scroll_pct, updated_at = now()
            """, logger: logger)
    }

    /// Named query `insert_chat_field_rejections`: details from chat that failed validation.
    public func writeRejections(_ rejections: [(siteID: Int64, profileID: UUID, field: String, reason: String, eventID: Int64?)],
                                on tx: PostgresConnection) async throws {
        guard !rejections.isEmpty else { return }
        let rows = JSONValue.array(rejections.map {
            ["site_id": .number(Double($0.siteID)), "profile_id": .string($0.profileID.uuidString), "field": .string($0.field),
             "reason": .string($0.reason), "event_id": Self.id($0.eventID)]
        })
        try await tx.query(
            """
            INSERT INTO field_rejections (site_id, profile_id, field, reason, source, event_id)
            SELECT site_id, profile_id, field, reason, 'chat', event_id
            FROM jsonb_to_recordset(\(Self.text(rows))::jsonb) AS r(site_id bigint, profile_id uuid, field text, reason text, event_id bigint)
            """, logger: logger)
    }

    // MARK: - Combined interests

    private struct Key: Hashable {
        let item: Int64?
        let category: Int64?
    }

    /// Recomputes `interests` and `interest_tags` of `profiles` from all their evidence as of
    /// `now`, and returns the profiles whose tags changed. Evidence of inactive items is ignored.
    /// Named queries `load_interest_evidence`, `delete_stale_interests`, `upsert_interests`,
    /// `update_interest_tags`.
    @discardableResult
    public func recompute(_ profiles: Set<UUID>, now: Date, on tx: PostgresConnection) async throws -> Set<UUID> {
        guard !profiles.isEmpty else { return [] }
        let ids = Array(profiles)
        let rows = try await tx.query(
            """
            SELECT e.profile_id, e.site_id, e.catalog_item_id, e.category_id, ci.slug, ci.category_id, ic.slug, cc.slug,
                   e.channel, e.strength::float8, e.negated, e.at
            FROM (SELECT profile_id, site_id, catalog_item_id, category_id, 'chat' AS channel, score AS strength, negated, detected_at AS at
                  FROM product_interests WHERE profile_id = ANY(\(ids))
                  UNION ALL
                  SELECT profile_id, site_id, catalog_item_id, category_id, 'page', weight, false, viewed_at
                  FROM page_interests WHERE profile_id = ANY(\(ids))) e
            LEFT JOIN catalog_items ci ON ci.id = e.catalog_item_id
            LEFT JOIN catalog_categories ic ON ic.id = ci.category_id
            LEFT JOIN catalog_categories cc ON cc.id = e.category_id
            WHERE e.catalog_item_id IS NULL OR ci.active
            """, logger: logger)
        var evidence: [UUID: [InterestTarget: [InterestScoring.Evidence]]] = [:]
        var keyOf: [UUID: [InterestTarget: Key]] = [:]
        var siteOf: [UUID: Int64] = [:]
        var categoryOfItem: [UUID: [String: String]] = [:]
        for try await (profile, site, itemID, categoryID, itemSlug, itemCategoryID, itemCategorySlug, categorySlug, channel, strength, negated, at)
            in rows.decode((UUID, Int64, Int64?, Int64?, String?, Int64?, String?, String?, String, Double, Bool, Date).self) {
            siteOf[profile] = site
            let target: InterestTarget
            if let itemID, let itemSlug {
                target = .item(itemSlug)
                keyOf[profile, default: [:]][target] = Key(item: itemID, category: nil)
                if let itemCategoryID, let itemCategorySlug {
                    categoryOfItem[profile, default: [:]][itemSlug] = itemCategorySlug
                    keyOf[profile, default: [:]][.category(itemCategorySlug)] = Key(item: nil, category: itemCategoryID)
                }
            } else if let categoryID, let categorySlug {
                target = .category(categorySlug)
                keyOf[profile, default: [:]][target] = Key(item: nil, category: categoryID)
            } else {
                continue
            }
            evidence[profile, default: [:]][target, default: []].append(
                InterestScoring.Evidence(channel: channel == "chat" ? .chat : .page, strength: strength, negated: negated, at: at))
        }

        var interestRows: [JSONValue] = []
        var tagRows: [JSONValue] = []
        for profile in ids {
            let rolled = scoring.withCategoryRollup(evidence[profile] ?? [:], categoryOfItem: categoryOfItem[profile] ?? [:])
            let combined = rolled.mapValues { scoring.combine($0, now: now) }
            tagRows.append(["id": .string(profile.uuidString), "tags": .array(scoring.tags(combined).map(JSONValue.string))])
            for (target, result) in combined {
                guard let key = keyOf[profile]?[target], let site = siteOf[profile] else { continue }
                interestRows.append([
                    "site_id": .number(Double(site)), "profile_id": .string(profile.uuidString), "catalog_item_id": Self.id(key.item),
                    "category_id": Self.id(key.category), "confidence": .number(result.confidence), "chat_score": .number(result.chatScore),
                    "page_score": .number(result.pageScore), "evidence_count": .number(Double(result.evidenceCount)),
                    "first_evidence_at": result.firstEvidence.map(Self.time) ?? .null, "last_evidence_at": result.lastEvidence.map(Self.time) ?? .null,
                    "negated": .bool(result.negated),
                ])
            }
        }
        let json = Self.text(.array(interestRows))
        try await tx.query(
            """
            DELETE FROM interests i WHERE i.profile_id = ANY(\(ids)) AND NOT EXISTS (
                SELECT 1 FROM jsonb_to_recordset(\(json)::jsonb) AS n(profile_id uuid, catalog_item_id bigint, category_id bigint)
                WHERE n.profile_id = i.profile_id AND n.catalog_item_id IS NOT DISTINCT FROM i.catalog_item_id
                  AND n.category_id IS NOT DISTINCT FROM i.category_id)
            """, logger: logger)
        if !interestRows.isEmpty {
            try await tx.query(
                """
                INSERT INTO interests (site_id, profile_id, catalog_item_id, category_id, confidence, chat_score, page_score, evidence_count,
                                       first_evidence_at, last_evidence_at, negated)
                SELECT * FROM jsonb_to_recordset(\(json)::jsonb) AS n(site_id bigint, profile_id uuid, catalog_item_id bigint,
                    category_id bigint, confidence real, chat_score real, page_score real, evidence_count int, first_evidence_at timestamptz,
                    last_evidence_at timestamptz, negated boolean)
                ON CONFLICT (profile_id, catalog_item_id, category_id) DO UPDATE SET confidence = EXCLUDED.confidence,
                    chat_score = EXCLUDED.chat_score, page_score = EXCLUDED.page_score, evidence_count = EXCLUDED.evidence_count,
                    first_evidence_at = EXCLUDED.first_evidence_at, last_evidence_at = EXCLUDED.last_evidence_at,
                    negated = EXCLUDED.negated, updated_at = now()
                """, logger: logger)
        }
        let changed = try await tx.query(
            """
            UPDATE visitor_profiles p SET interest_tags = t.tags
            FROM jsonb_to_recordset(\(Self.text(.array(tagRows)))::jsonb) AS t(id uuid, tags text[])
            WHERE p.id = t.id AND p.interest_tags IS DISTINCT FROM t.tags
            RETURNING p.id
            """, logger: logger)
        var result = Set<UUID>()
        for try await id in changed.decode(UUID.self) { result.insert(id) }
        return result
    }
}
