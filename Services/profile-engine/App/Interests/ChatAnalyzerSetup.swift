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
/// - `EMBEDDINGS_API_URL` set: the hybrid analyser on that OpenAI-compatible endpoint's vectors,
///   falling back to the one above when the endpoint fails or is slow.
/// - `LLM_API_URL` set: the LLM analyser for live batches, falling back to the one above.
struct ChatAnalyzerSetup: Sendable {
    /// Analyses the chat of live batches.
    let live: any ChatAnalyzer
    /// Analyses stored messages again after a catalog change: never the LLM, which would be
    /// thousands of calls inside one re-map transaction.
    let reanalysis: any ChatAnalyzer
    /// The hybrid analyser whose catalog vectors are stored in PostgreSQL (the one live batches use).
    let stored: HybridChatAnalyzer?

    init(environment env: EnvironmentReader, logger: Logger) throws {
        let local: any ChatAnalyzer
        if let directory = env.raw("EMBEDDING_MODEL_DIR") {
            let embedder: MiniLMEmbedder
            do {
                embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: directory))
            } catch {
                throw ConfigError(variable: "EMBEDDING_MODEL_DIR", message: "the embedding model could not be loaded: \(error)")
            }
            let exemplars = try Self.exemplars(env)
            local = HybridChatAnalyzer(embedder: embedder, exemplars: exemplars)
            logger.info("chat analyser: hybrid", metadata: ["model": "\(embedder.modelName)", "exemplars": "\(exemplars.exemplars.count)"])
        } else {
            local = OfflineChatAnalyzer()
            logger.info("chat analyser: keyword (EMBEDDING_MODEL_DIR is not set)")
        }
        var semantic = local
        if let config = try EmbeddingsAPIConfig(environment: env) {
            semantic = HybridChatAnalyzer(embedder: EmbeddingsAPIEmbedder(config: config), exemplars: try Self.exemplars(env), fallback: local)
            logger.info("chat analyser: hybrid on an embeddings endpoint", metadata: ["model": "\(config.model)"])
        }
        reanalysis = semantic
        stored = semantic as? HybridChatAnalyzer
        if let config = try LLMConfig(environment: env) {
            live = LLMChatAnalyzer(config: config, fallback: semantic, logger: logger)
        } else {
            live = semantic
        }
    }

    private static func exemplars(_ env: EnvironmentReader) throws -> IntentExemplars {
        let file = env.string("INTENT_EXEMPLARS_FILE", default: "config/intent-exemplars.txt")
        do {
            return try IntentExemplars(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ConfigError(variable: "INTENT_EXEMPLARS_FILE", message: "\(file): \(error)")
        }
    }
}
