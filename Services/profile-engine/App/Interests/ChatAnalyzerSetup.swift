import Foundation
import InterestAnalysis
import LLMAnalysis
import Logging
import ServiceKit
import TextEmbedding

/// Which chat analysers the engine runs, from its settings (README, "Chat analysis"):
/// - `EMBEDDING_MODEL_DIR` set: the hybrid analyser with the in-process model of that folder and
///   the intent exemplars of `INTENT_EXEMPLARS_FILE`. The whole model is loaded and checked here,
///   so a broken folder stops the engine at start with the file named, never half-loaded later.
/// - unset: the keyword analyser alone.
/// - `LLM_API_URL` set as well: the LLM analyser for live batches, falling back to the local one.
struct ChatAnalyzerSetup: Sendable {
    /// Analyses the chat of live batches.
    let live: any ChatAnalyzer
    /// Analyses stored messages again after a catalog change: never the LLM, which would be
    /// thousands of calls inside one re-map transaction.
    let local: any ChatAnalyzer

    init(environment env: EnvironmentReader, logger: Logger) throws {
        if let directory = env.raw("EMBEDDING_MODEL_DIR") {
            let embedder: MiniLMEmbedder
            do {
                embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: directory))
            } catch {
                throw ConfigError(variable: "EMBEDDING_MODEL_DIR", message: "the embedding model could not be loaded: \(error)")
            }
            let exemplarsFile = env.string("INTENT_EXEMPLARS_FILE", default: "config/intent-exemplars.txt")
            let exemplars: IntentExemplars
            do {
                exemplars = try IntentExemplars(contentsOf: URL(fileURLWithPath: exemplarsFile))
            } catch {
                throw ConfigError(variable: "INTENT_EXEMPLARS_FILE", message: "\(exemplarsFile): \(error)")
            }
            local = HybridChatAnalyzer(embedder: embedder, exemplars: exemplars)
            logger.info("chat analyser: hybrid", metadata: ["model": "\(embedder.modelName)", "exemplars": "\(exemplars.exemplars.count)"])
        } else {
            local = OfflineChatAnalyzer()
            logger.info("chat analyser: keyword (EMBEDDING_MODEL_DIR is not set)")
        }
        if let config = try LLMConfig(environment: env) {
            live = LLMChatAnalyzer(config: config, fallback: local, logger: logger)
        } else {
            live = local
        }
    }
}
