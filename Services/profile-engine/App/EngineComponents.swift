import Foundation
import InterestAnalysis
import ServiceKit

/// The engine's parts that follow from its settings, built in one place for the service, its
/// administration commands and the tests: the settings, the chat analysers, the interest half-lives
/// and the batch processor that uses them.
struct EngineComponents: Sendable {
    let config: EngineConfig
    let analyzers: ChatAnalyzerSetup
    let interestScoring: InterestScoring
    let processor: BatchProcessor

    init(_ environment: ServiceEnvironment) throws {
        config = try EngineConfig(environment: environment.reader)
        analyzers = try ChatAnalyzerSetup(environment: environment.reader, logger: environment.logger)
        interestScoring = try InterestScoring(environment: environment.reader)
        processor = BatchProcessor(
            registry: environment.fields,
            sessionizer: Sessionizer(timeout: TimeInterval(config.sessionTimeoutMinutes * 60)),
            scoring: try LeadScoringConfig.load(path: config.scoringFile, registry: environment.fields),
            interests: InterestStep(analyzer: analyzers.live, embeddings: analyzers.stored.map { CatalogEmbeddingStore(analyzer: $0, logger: environment.logger) },
                                    scoring: interestScoring, logger: environment.logger),
            identityRules: try SiteIdentityRules.load(path: config.identityRulesFile),
            logger: environment.logger)
    }
}
