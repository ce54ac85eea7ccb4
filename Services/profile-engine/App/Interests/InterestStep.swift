import Foundation
import InterestAnalysis
import Logging
import PostgresNIO
import ProfileModel

/// The batch step that turns new chat messages and page views into interest evidence, intents and
/// chat-volunteered profile fields, and recomputes the combined interests of the profiles
/// touched — inside the batch's transaction, so interests are as current as the profile.
struct InterestStep: Sendable {
    let analyzer: any ChatAnalyzer
    let store: InterestStore
    let scoring: InterestScoring
    let catalogs: CatalogCache
    /// The stored catalog vectors of the hybrid analyser, when the engine runs one.
    let embeddings: CatalogEmbeddingStore?
    let logger: Logger

    init(analyzer: any ChatAnalyzer, embeddings: CatalogEmbeddingStore? = nil, scoring: InterestScoring, logger: Logger) {
        self.analyzer = analyzer
        self.embeddings = embeddings
        self.scoring = scoring
        self.store = InterestStore(scoring: scoring, logger: logger)
        self.catalogs = CatalogCache(logger: logger)
        self.logger = logger
    }

    /// Event types that can add or change page evidence (views, and dwell/scroll updates).
    static let pageEventTypes: Set<String> = ["page", "track", "interaction"]

    func apply(_ events: [StoredEvent], resolution: IdentityResolver.Resolution, profiles: inout [UUID: ProfileState],
               registry: FieldRegistry, on tx: PostgresConnection) async throws {
        // Every site's chat is analysed: intents, pain points and volunteered details need no
        // catalog; interests and page matching only happen where there is one.
        var indexes: [Int64: CatalogIndex] = [:]
        for site in Set(events.map(\.siteID)) { indexes[site] = try await catalogs.index(siteID: site, on: tx) }
        let catalogued = indexes.filter { !$0.value.catalog.items.isEmpty || !$0.value.catalog.categories.isEmpty }
        if let embeddings {
            let chatSites = Set(events.filter { $0.type == "chat" }.map(\.siteID))
            for (site, index) in catalogued where chatSites.contains(site) {
                try await embeddings.prepare(siteID: site, catalog: index.catalog, on: tx)
            }
        }
        var touched = Set(resolution.merges.map(\.winner))
        touched.formUnion(try await analyzeChat(events, indexes: indexes, profiles: &profiles, registry: registry, on: tx))
        if !catalogued.isEmpty {
            touched.formUnion(try await matchPages(events, resolution: resolution, indexes: catalogued, on: tx))
        }
        // Decay is measured to the newest event applied, so replaying old events gives the same
        // confidences as applying them live did.
        let asOf = events.map(\.occurredAt).max() ?? Date()
        let changed = try await store.recompute(touched.filter { profiles[$0] != nil }, now: asOf, on: tx)
        for id in changed { profiles[id]?.changedFields.insert("interest_tags") }
    }

    // MARK: - Chat

    private struct StoredMessage {
        let id: Int64
        let siteID: Int64
        let profileID: UUID
        let conversationID: String
        let text: String
        let at: Date
        let eventID: Int64?
    }

    /// Named query `new_user_messages`: the visitor messages this batch stored.
    private func analyzeChat(_ events: [StoredEvent], indexes: [Int64: CatalogIndex], profiles: inout [UUID: ProfileState],
                             registry: FieldRegistry, on tx: PostgresConnection) async throws -> Set<UUID> {
        let eventIDs = events.filter { $0.type == "chat" && indexes[$0.siteID] != nil }.map(\.id)
        guard !eventIDs.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            SELECT id, site_id, profile_id, conversation_id, text, sent_at, event_id FROM chat_messages
            WHERE site_id = ANY(\(Array(indexes.keys))) AND event_id = ANY(\(eventIDs)) AND role = 'user'
            ORDER BY site_id, conversation_id, sent_at, id
            """, logger: logger)
        var messages: [StoredMessage] = []
        for try await (id, site, profile, conversation, text, at, event) in rows.decode((Int64, Int64, UUID, String, String, Date, Int64?).self) {
            messages.append(StoredMessage(id: id, siteID: site, profileID: profile, conversationID: conversation, text: text, at: at, eventID: event))
        }
        var evidence: [InterestStore.ChatEvidence] = []
        var intents: [InterestStore.IntentRow] = []
        var rejections: [(siteID: Int64, profileID: UUID, field: String, reason: String, eventID: Int64?)] = []
        var touched = Set<UUID>()
        // All conversations of a site in one call (the hybrid analyser embeds them together).
        let conversations = Dictionary(grouping: messages, by: { "\($0.siteID)/\($0.conversationID)" })
        var analysed: [(group: [StoredMessage], analysis: ChatAnalysis, index: CatalogIndex)] = []
        for (site, keys) in Dictionary(grouping: conversations.keys.sorted(), by: { conversations[$0]?.first?.siteID ?? 0 }).sorted(by: { $0.key < $1.key }) {
            guard let index = indexes[site] else { continue }
            let groups = keys.compactMap { conversations[$0] }
            let analyses = await analyzer.analyze(conversations: groups.map { $0.map { ChatTurn(role: .user, text: $0.text) } }, catalog: index)
            analysed += zip(groups, analyses).map { ($0, $1, index) }
        }
        for (group, analysis, index) in analysed {
            for (message, result) in zip(group, analysis.messages) {
                let topIntent = result.intents.first?.intent.rawValue
                var topItem: Int64?
                for mention in result.mentions {
                    let (itemID, categoryID) = index.catalog.ids(of: mention.target)
                    guard itemID != nil || categoryID != nil else { continue }
                    if topItem == nil, !mention.negated { topItem = itemID }
                    evidence.append(InterestStore.ChatEvidence(
                        siteID: message.siteID, profileID: message.profileID, itemID: itemID, categoryID: categoryID,
                        conversationID: message.conversationID, messageID: message.id, intent: topIntent, negated: mention.negated,
                        score: mention.score, snippet: mention.snippet, detector: mention.detector ?? analysis.detector, eventID: message.eventID, at: message.at))
                    touched.insert(message.profileID)
                }
                for detected in result.intents {
                    intents.append(InterestStore.IntentRow(
                        siteID: message.siteID, profileID: message.profileID, conversationID: message.conversationID, messageID: message.id,
                        intent: detected.intent.rawValue, confidence: detected.confidence, itemID: topItem, details: [:],
                        detector: detected.detector ?? analysis.detector, eventID: message.eventID, at: message.at))
                }
                if !result.painPoints.isEmpty {
                    intents.append(InterestStore.IntentRow(
                        siteID: message.siteID, profileID: message.profileID, conversationID: message.conversationID, messageID: message.id,
                        intent: "pain_point", confidence: 0.6, itemID: topItem,
                        details: ["pain_points": .array(result.painPoints.map(JSONValue.string))],
                        detector: analysis.detector, eventID: message.eventID, at: message.at))
                }
                // Volunteered details become fields with source "chat" when their field accepts them.
                for entity in result.entities {
                    guard let field = registry[entity.field], var profile = profiles[message.profileID] else { continue }
                    switch field.normalize(entity.value) {
                    case .success(let value):
                        profile.offer(field, value: value, provenance: FieldProvenance(source: .chat, at: message.at, eventID: message.eventID ?? 0))
                        if profile.fields["email"] != nil { profile.markKnown(reason: "email known") }
                        profiles[message.profileID] = profile
                    case .failure(let error):
                        rejections.append((message.siteID, message.profileID, entity.field, error.message, message.eventID))
                    }
                }
            }
        }
        try await store.write(evidence, on: tx)
        try await store.write(intents, on: tx)
        try await store.writeRejections(rejections, on: tx)
        return touched
    }

    // MARK: - Pages

    /// Named query `touched_page_views`: page views inserted or given dwell/scroll in this
    /// transaction (`updated_at = now()`, the transaction's start time, marks both).
    private func matchPages(_ events: [StoredEvent], resolution: IdentityResolver.Resolution, indexes: [Int64: CatalogIndex],
                            on tx: PostgresConnection) async throws -> Set<UUID> {
        let candidates = Set(events.filter { Self.pageEventTypes.contains($0.type) && indexes[$0.siteID] != nil }
            .compactMap { resolution.profileOfEvent[$0.id] })
        guard !candidates.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            SELECT id, site_id, profile_id, path, title, dwell_ms, max_scroll_pct::int, viewed_at FROM page_views
            WHERE profile_id = ANY(\(Array(candidates))) AND updated_at = now()
            """, logger: logger)
        var evidence: [InterestStore.PageEvidence] = []
        var matchers: [Int64: PageInterestMatcher] = [:]
        for try await (id, site, profile, path, title, dwell, scroll, at) in rows.decode((Int64, Int64, UUID, String, String?, Int64, Int, Date).self) {
            guard let index = indexes[site] else { continue }
            let matcher = matchers[site] ?? PageInterestMatcher(index: index)
            matchers[site] = matcher
            let engagement = scoring.engagement(dwellMilliseconds: dwell, scrollPercent: scroll)
            for match in matcher.matches(path: path, title: title) {
                let (itemID, categoryID) = index.catalog.ids(of: match.target)
                guard itemID != nil || categoryID != nil else { continue }
                evidence.append(InterestStore.PageEvidence(siteID: site, profileID: profile, pageViewID: id, itemID: itemID, categoryID: categoryID,
                                                           matchedBy: match.matchedBy, weight: engagement * match.factor,
                                                           dwellMilliseconds: dwell, scrollPercent: scroll, at: at))
            }
        }
        try await store.write(evidence, on: tx)
        return Set(evidence.map(\.profileID))
    }
}
