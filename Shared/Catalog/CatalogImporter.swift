import Foundation
import Logging
import PostgresNIO

/// Imports a catalog file into a site and re-maps the interests its changes affect, in one
/// transaction: the entry point for the `catalog import` command and, later, the HTTP API.
public struct CatalogImporter: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case unknownSite(String)

        public var description: String {
            switch self {
            case .unknownSite(let slug): return "no site with slug \"\(slug)\""
            }
        }
    }

    public struct Result: Sendable {
        public let report: CatalogRepository.ImportReport
        public let remap: CatalogRemapper.Outcome
        public let dryRun: Bool
    }

    /// Carries a dry run's report out of the transaction it rolls back.
    private struct DryRun: Error {
        let result: Result
    }

    let scoring: InterestScoring
    let logger: Logger

    public init(scoring: InterestScoring, logger: Logger) {
        self.scoring = scoring
        self.logger = logger
    }

    /// Parses nothing itself: `text` is parsed against the site's stored categories, so items may
    /// refer to categories imported earlier. With `dryRun`, everything is done and rolled back.
    public func importCatalog(text: String, format: CatalogFile.Format, siteSlug: String, dryRun: Bool, client: PostgresClient,
                              progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let repository = CatalogRepository(logger: logger)
        do {
            return try await client.transaction(logger: logger) { tx in
                guard let siteID = try await repository.siteID(slug: siteSlug, on: tx) else { throw Failure.unknownSite(siteSlug) }
                // One import per site at a time: two concurrent imports would race on the upserts' reports.
                try await tx.query("SELECT pg_advisory_xact_lock(hashtext('catalog_import'), \(Int32(truncatingIfNeeded: siteID)))", logger: logger)
                let known = Set(try await repository.load(siteID: siteID, on: tx).categories.map(\.slug))
                let file = try CatalogFile(text: text, format: format, knownCategories: known)
                progress("parsed \(file.categories.count) categories and \(file.items.count) items (\(file.rejections.count) rows rejected)")
                let report = try await repository.importFile(file, siteID: siteID, on: tx)
                let remap = try await CatalogRemapper(scoring: scoring, logger: logger)
                    .remap(siteID: siteID, changed: report.changedTargets, on: tx, progress: progress)
                let result = Result(report: report, remap: remap, dryRun: dryRun)
                if dryRun { throw DryRun(result: result) }
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
