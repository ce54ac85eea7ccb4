/// Turns texts into L2-normalised sentence vectors, whichever model or service computes them.
public protocol SentenceEmbedder: Sendable {
    /// The model's name as a vector store should record it: vectors of two models never compare.
    var modelName: String { get }
    /// One unit-length vector per text, in the order of `texts`.
    func embed(_ texts: [String]) async throws -> [[Float]]
}
