import Foundation
import InterestAnalysis
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import ServiceLifecycle

/// Carries out the `catalog_remaps` commands that catalog imports leave: claims the oldest pending
/// one, re-maps its targets and finishes the row in one transaction, so a re-map takes effect
/// exactly once even when an engine dies in the middle. Safe to run in every engine process.
final class CatalogRemapWorker: Service, Sendable {
    private let client: PostgresClient
    private let remapper: CatalogRemapper
    private let intervalSeconds: Int
    private let logger: Logger

    init(client: PostgresClient, analyzer: any ChatAnalyzer = OfflineChatAnalyzer(), embeddings: CatalogEmbeddingStore? = nil,
         scoring: InterestScoring, intervalSeconds: Int = 2, logger: Logger) {
        self.client = client
        self.remapper = CatalogRemapper(analyzer: analyzer, embeddings: embeddings, scoring: scoring, logger: logger)
        self.intervalSeconds = intervalSeconds
        self.logger = logger
    }

    func run() async throws {
        await repeatUntilShutdown(every: intervalSeconds, logger: logger, failure: "catalog re-map failed") {
            while try await runNext() != nil {}
        }
    }

    /// Carries out the oldest pending command, if any; returns its id.
    @discardableResult
    func runNext() async throws -> Int64? {
        var claimed: Int64?
        do {
            return try await client.transaction(logger: logger) { tx -> Int64? in
                let rows = try await tx.query(
                    """
                    SELECT id, site_id, targets FROM catalog_remaps WHERE finished_at IS NULL
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                var command: (id: Int64, site: Int64, targets: [String])?
                for try await row in rows.decode((Int64, Int64, [String]).self) { command = (row.0, row.1, row.2) }
                guard let command else { return nil }
                claimed = command.id
                // One re-map per site at a time, as one import per site at a time.
                try await tx.query("SELECT pg_advisory_xact_lock(hashtext('catalog_remap'), \(Int32(truncatingIfNeeded: command.site)))",
                                   logger: logger)
                let changed = Set(command.targets.compactMap(InterestTarget.init(commandText:)))
                let outcome = try await remapper.remap(siteID: command.site, changed: changed, on: tx)
                try await tx.query(
                    "UPDATE catalog_remaps SET finished_at = now(), outcome = \(outcome.json.jsonText)::jsonb WHERE id = \(command.id)",
                    logger: logger)
                logger.info("catalog re-mapped", metadata: ["remap": "\(command.id)", "site": "\(command.site)",
                                                          "profiles": "\(outcome.profilesRecomputed)"])
                return command.id
            }
        } catch {
            guard let claimed else { throw error }
            // The re-map rolled back; count the failure where the operator can read it.
            let message = describeDatabaseError(error)
            try await client.query(
                """
                UPDATE catalog_remaps SET attempts = attempts + 1, last_error = \(message),
                    finished_at = CASE WHEN attempts + 1 >= \(Int32(CommandAttempts.maximum)) THEN now() END
                WHERE id = \(claimed)
                """, logger: logger)
            throw error
        }
    }
}
