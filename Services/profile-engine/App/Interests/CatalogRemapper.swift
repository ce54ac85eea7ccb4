import CatalogStore
import Foundation
import InterestAnalysis
import Logging
import PostgresNIO
import ProfileModel

/// After a catalog update, re-maps the evidence of the targets whose matching changed — and only
/// theirs: their keyword evidence and page evidence within the decay horizon is matched again,
/// and the combined interests of the profiles that had or now have such evidence are recomputed.
/// Evidence of unchanged targets and other profiles is left alone (no full rebuild). Run by
/// `CatalogRemapWorker` for the `catalog_remaps` commands a catalog import leaves.
struct CatalogRemapper: Sendable {
    /// Evidence older than this many half-lives weighs under 0.4 % and is not re-matched.
    static let horizonHalfLives = 8.0
    static let pageSize = 5000

    /// The engine's local analyser (keyword or hybrid): evidence it found is re-made with it.
    let analyzer: any ChatAnalyzer
    /// Stores the changed items' new vectors before messages are matched against them.
    let embeddings: CatalogEmbeddingStore?
    let scoring: InterestScoring
    let logger: Logger

    init(analyzer: any ChatAnalyzer = OfflineChatAnalyzer(), embeddings: CatalogEmbeddingStore? = nil, scoring: InterestScoring, logger: Logger) {
        self.analyzer = analyzer
        self.embeddings = embeddings
        self.scoring = scoring
        self.logger = logger
    }

    struct Outcome: Sendable, Equatable {
        var pageViewsScanned = 0
        var messagesScanned = 0
        var evidenceWritten = 0
        var profilesRecomputed = 0

        /// As `catalog_remaps.outcome` stores it.
        var json: JSONValue {
            ["page_views_scanned": .number(Double(pageViewsScanned)), "messages_scanned": .number(Double(messagesScanned)),
             "evidence_written": .number(Double(evidenceWritten)), "profiles_recomputed": .number(Double(profilesRecomputed))]
        }
    }

    /// Re-maps `changed` targets of the site; `progress` hears about each page of rows scanned.
    func remap(siteID: Int64, changed: Set<InterestTarget>, now: Date = Date(), on tx: PostgresConnection,
                      progress: @Sendable (String) -> Void = { _ in }) async throws -> Outcome {
        var outcome = Outcome()
        guard !changed.isEmpty else { return outcome }
        let catalog = try await CatalogStore(logger: logger).load(siteID: siteID, on: tx)
        let index = CatalogIndex(catalog: catalog)
        try await embeddings?.prepare(siteID: siteID, catalog: catalog, on: tx)
        let itemIDs = changed.compactMap { if case .item(let slug) = $0 { catalog.item(slug)?.id } else { nil } }
        let categoryIDs = changed.compactMap { if case .category(let slug) = $0 { catalog.category(slug)?.id } else { nil } }
        let store = InterestStore(scoring: scoring, logger: logger)

        // Profiles whose interests rest on the old mapping, then that mapping's evidence goes.
        var affected = Set<UUID>()
        let before = try await tx.query(
            """
            DELETE FROM product_interests WHERE site_id = \(siteID)
                AND (detector = \(OfflineChatAnalyzer.detector) OR detector LIKE \(HybridChatAnalyzer.semanticDetectorPrefix + "%"))
                AND (catalog_item_id = ANY(\(itemIDs)) OR category_id = ANY(\(categoryIDs)))
            RETURNING profile_id
            """, logger: logger)
        for try await id in before.decode(UUID.self) { affected.insert(id) }
        let beforePages = try await tx.query(
            """
            DELETE FROM page_interests WHERE site_id = \(siteID) AND (catalog_item_id = ANY(\(itemIDs)) OR category_id = ANY(\(categoryIDs)))
            RETURNING profile_id
            """, logger: logger)
        for try await id in beforePages.decode(UUID.self) { affected.insert(id) }

        // Pages, a page at a time (rows must be read before the next statement on this connection).
        let matcher = PageInterestMatcher(index: index)
        let pageHorizon = now.addingTimeInterval(-Self.horizonHalfLives * scoring.pageHalfLifeDays * 86_400)
        var lastID: Int64 = 0
        while true {
            let rows = try await tx.query(
                """
                SELECT id, profile_id, path, title, dwell_ms, max_scroll_pct::int, viewed_at FROM page_views
                WHERE site_id = \(siteID) AND viewed_at > \(pageHorizon) AND id > \(lastID) ORDER BY id LIMIT \(Self.pageSize)
                """, logger: logger)
            var evidence: [InterestStore.PageEvidence] = []
            var count = 0
            for try await (id, profile, path, title, dwell, scroll, at) in rows.decode((Int64, UUID, String, String?, Int64, Int, Date).self) {
                count += 1
                lastID = id
                let engagement = scoring.engagement(dwellMilliseconds: dwell, scrollPercent: scroll)
                for match in matcher.matches(path: path, title: title) where changed.contains(match.target) {
                    let ids = catalog.ids(of: match.target)
                    evidence.append(InterestStore.PageEvidence(siteID: siteID, profileID: profile, pageViewID: id, itemID: ids.item,
                                                               categoryID: ids.category, matchedBy: match.matchedBy,
                                                               weight: engagement * match.factor, dwellMilliseconds: dwell,
                                                               scrollPercent: scroll, at: at))
                }
            }
            try await store.write(evidence, on: tx)
            outcome.pageViewsScanned += count
            outcome.evidenceWritten += evidence.count
            affected.formUnion(evidence.map(\.profileID))
            progress("re-mapping: \(outcome.pageViewsScanned) page views scanned")
            if count < Self.pageSize { break }
        }

        // Visitor messages, matched again for the changed targets only.
        let chatHorizon = now.addingTimeInterval(-Self.horizonHalfLives * scoring.chatHalfLifeDays * 86_400)
        lastID = 0
        while true {
            let rows = try await tx.query(
                """
                SELECT id, profile_id, conversation_id, text, sent_at, event_id FROM chat_messages
                WHERE site_id = \(siteID) AND role = 'user' AND sent_at > \(chatHorizon) AND id > \(lastID) ORDER BY id LIMIT \(Self.pageSize)
                """, logger: logger)
            var evidence: [InterestStore.ChatEvidence] = []
            var count = 0
            for try await (id, profile, conversation, text, at, event) in rows.decode((Int64, UUID, String, String, Date, Int64?).self) {
                count += 1
                lastID = id
                let conversationAnalysis = await analyzer.analyze([ChatTurn(role: .user, text: text)], catalog: index)
                guard let analysis = conversationAnalysis.messages.first else { continue }
                for mention in analysis.mentions where changed.contains(mention.target) {
                    let ids = catalog.ids(of: mention.target)
                    evidence.append(InterestStore.ChatEvidence(siteID: siteID, profileID: profile, itemID: ids.item, categoryID: ids.category,
                                                               conversationID: conversation, messageID: id,
                                                               intent: analysis.intents.first?.intent.rawValue, negated: mention.negated,
                                                               score: mention.score, snippet: mention.snippet,
                                                               detector: mention.detector ?? conversationAnalysis.detector, eventID: event, at: at))
                }
            }
            try await store.write(evidence, on: tx)
            outcome.messagesScanned += count
            outcome.evidenceWritten += evidence.count
            affected.formUnion(evidence.map(\.profileID))
            progress("re-mapping: \(outcome.messagesScanned) chat messages scanned")
            if count < Self.pageSize { break }
        }

        try await store.recompute(affected, now: now, on: tx)
        outcome.profilesRecomputed = affected.count
        return outcome
    }
}
