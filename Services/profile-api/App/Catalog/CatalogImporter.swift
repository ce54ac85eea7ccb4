import CatalogStore
import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Imports a catalog file into a site and, in the same transaction, asks the engine to re-map the
/// interests its changes affect (a `catalog_remaps` command: the interest tables are the
/// engine's). The entry point of the `catalog import` command and of `PUT …/catalog`.
struct CatalogImporter: Sendable {
    enum Failure: Error, CustomStringConvertible {
        case unknownSite(String)

        var description: String {
            switch self {
            case .unknownSite(let slug): return "no site with slug \"\(slug)\""
            }
        }
    }

    struct Result: Sendable {
        let report: CatalogStore.ImportReport
        /// The `catalog_remaps` command the engine will carry out; nil when no target's matching
        /// changed, or in a dry run.
        let remapID: Int64?
        let dryRun: Bool
    }

    /// Carries a dry run's report out of the transaction it rolls back.
    private struct DryRun: Error {
        let result: Result
    }

    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Parses nothing itself: `text` is parsed against the site's stored categories, so items may
    /// refer to categories imported earlier. With `dryRun`, everything is done and rolled back.
    func importCatalog(text: String, format: CatalogFile.Format, siteSlug: String, dryRun: Bool, client: PostgresClient,
                              progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let store = CatalogStore(logger: logger)
        do {
            return try await client.transaction(logger: logger) { tx in
                guard let siteID = try await store.siteID(slug: siteSlug, on: tx) else { throw Failure.unknownSite(siteSlug) }
                // One import per site at a time: two concurrent imports would race on the upserts' reports.
                try await tx.query("SELECT pg_advisory_xact_lock(hashtext('catalog_import'), \(Int32(truncatingIfNeeded: siteID)))", logger: logger)
                let known = Set(try await store.load(siteID: siteID, on: tx).categories.map(\.slug))
                let file = try CatalogFile(text: text, format: format, knownCategories: known)
                progress("parsed \(file.categories.count) categories and \(file.items.count) items (\(file.rejections.count) rows rejected)")
                let report = try await store.importFile(file, siteID: siteID, on: tx)
                if dryRun { throw DryRun(result: Result(report: report, remapID: nil, dryRun: true)) }
                let remapID = try await store.requestRemap(siteID: siteID, changed: report.changedTargets, on: tx)
                let result = Result(report: report, remapID: remapID, dryRun: false)
                return result
            }
        } catch {
            // A dry run is not a failure; postgres-nio's withTransaction would wrap the error, so unwrap it too.
            if let dryRun = error as? DryRun ?? (error as? PostgresTransactionError)?.closureError as? DryRun { return dryRun.result }
            if let failure = (error as? PostgresTransactionError)?.closureError as? Failure { throw failure }
            if let parse = (error as? PostgresTransactionError)?.closureError as? CatalogFile.ParseError { throw parse }
            throw error
        }
    }
}
