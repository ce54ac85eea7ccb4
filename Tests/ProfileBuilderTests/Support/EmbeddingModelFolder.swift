import Foundation
import TextEmbedding

/// The installed embedding model (scripts/test installs it; EMBEDDING_MODEL_DIR may point
/// elsewhere). A test that needs it fails, never skips, when it is missing.
enum EmbeddingModelFolder {
    static var path: String {
        ProcessInfo.processInfo.environment["EMBEDDING_MODEL_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? RepositoryPaths.root.appendingPathComponent(".models/all-MiniLM-L6-v2").path
    }

    private static let loaded = Result { try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: path)) }

    /// Loaded once per test process.
    static func embedder() throws -> MiniLMEmbedder { try loaded.get() }
}
