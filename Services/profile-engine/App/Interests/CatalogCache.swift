import CatalogStore
import Foundation
import InterestAnalysis
import Logging
import PostgresNIO

/// Each site's catalog index, rebuilt only when the catalog's version changes (a cheap query per
/// batch), so a catalog import takes effect on the next batch without a restart.
actor CatalogCache {
    private var entries: [Int64: (version: String, index: CatalogIndex)] = [:]
    private let store: CatalogStore

    init(logger: Logger) {
        self.store = CatalogStore(logger: logger)
    }

    func index(siteID: Int64, on connection: PostgresConnection) async throws -> CatalogIndex {
        let version = try await store.version(siteID: siteID, on: connection)
        if let entry = entries[siteID], entry.version == version { return entry.index }
        let index = CatalogIndex(catalog: try await store.load(siteID: siteID, on: connection))
        entries[siteID] = (version, index)
        return index
    }
}
