import Foundation
import Logging
import PostgresNIO
import Shared

/// Each site's catalog index, rebuilt only when the catalog's version changes (a cheap query per
/// batch), so a catalog import takes effect on the next batch without a restart.
actor CatalogCache {
    private var entries: [Int64: (version: String, index: CatalogIndex)] = [:]
    private let repository: CatalogRepository

    init(logger: Logger) {
        self.repository = CatalogRepository(logger: logger)
    }

    func index(siteID: Int64, on connection: PostgresConnection) async throws -> CatalogIndex {
        let version = try await repository.version(siteID: siteID, on: connection)
        if let entry = entries[siteID], entry.version == version { return entry.index }
        let index = CatalogIndex(catalog: try await repository.load(siteID: siteID, on: connection))
        entries[siteID] = (version, index)
        return index
    }
}
