import Foundation
import InterestAnalysis
import Logging
import PostgresNIO
import ProfileModel

/// Keeps the hybrid analyser's catalog item vectors in `catalog_item_embeddings` (sql/0017): before
/// a site's chat is analysed, vectors stored for the items' current texts are loaded into the
/// analyser, and only items without them (new, changed, or another model) are embedded and
/// stored. An embedder that fails is logged and left to the analyser's own fallback: a batch never
/// fails on it.
struct CatalogEmbeddingStore: Sendable {
    let analyzer: HybridChatAnalyzer
    let logger: Logger

    /// Makes sure the analyser holds the catalog's vectors (named query `catalog_item_vectors`).
    func prepare(siteID: Int64, catalog: Catalog, on connection: PostgresConnection) async throws {
        guard !catalog.activeItems.isEmpty, !(await analyzer.hasSemanticCatalog(catalog)) else { return }
        let model = analyzer.embedder.modelName
        let rows = try await connection.query(
            """
            SELECT i.slug, e.texts, e.dimensions, e.vectors FROM catalog_item_embeddings e
            JOIN catalog_items i ON i.site_id = e.site_id AND i.id = e.catalog_item_id
            WHERE e.site_id = \(siteID) AND e.model = \(model)
            """, logger: logger)
        var known: [String: [[Float]]] = [:]
        for try await (slug, texts, dimensions, flat) in rows.decode((String, [String], Int, [Float]).self) {
            guard let item = catalog.item(slug), SemanticCatalog.texts(of: item) == texts, dimensions > 0,
                  flat.count == texts.count * dimensions else { continue }
            known[slug] = (0..<texts.count).map { Array(flat[$0 * dimensions..<($0 + 1) * dimensions]) }
        }
        let semantic: SemanticCatalog
        do {
            semantic = try await analyzer.prepareSemanticCatalog(catalog, known: known)
        } catch {
            logger.warning("catalog embedding failed; chat falls back", metadata: ["site_id": "\(siteID)", "error": "\(String(reflecting: error))"])
            return
        }
        for slug in semantic.embedded.sorted() {
            guard let item = catalog.item(slug), let id = item.id, let vectors = semantic.vectors(of: slug), let dimensions = vectors.first?.count else { continue }
            let texts = SemanticCatalog.texts(of: item)
            let flat = vectors.flatMap { $0 }
            try await connection.query(
                """
                INSERT INTO catalog_item_embeddings (site_id, catalog_item_id, model, texts, dimensions, vectors)
                VALUES (\(siteID), \(id), \(model), \(texts), \(dimensions), \(flat))
                ON CONFLICT (catalog_item_id, model) DO UPDATE
                    SET texts = EXCLUDED.texts, dimensions = EXCLUDED.dimensions, vectors = EXCLUDED.vectors, embedded_at = now()
                """, logger: logger)
        }
        if !semantic.embedded.isEmpty {
            logger.info("catalog embedded", metadata: ["site_id": "\(siteID)", "model": "\(model)", "items": "\(semantic.embedded.count)",
                                                      "loaded": "\(known.count)"])
        }
    }
}
