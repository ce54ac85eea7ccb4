import Foundation

/// The architecture figures of a BERT model, as its config.json states them.
public struct BERTConfiguration: Sendable, Equatable {
    public let vocabularySize: Int
    public let hiddenSize: Int
    public let layerCount: Int
    public let attentionHeadCount: Int
    public let intermediateSize: Int
    public let maxPositionEmbeddings: Int
    public let tokenTypeCount: Int
    public let layerNormEpsilon: Float

    public var headSize: Int { hiddenSize / attentionHeadCount }

    /// Reads and checks config.json; only what BERTEncoder implements is accepted, so a model
    /// it would compute wrongly is refused at load rather than embedding nonsense.
    public init(contentsOf url: URL) throws {
        let raw = try ModelFile.json(Raw.self, at: url, what: "a BERT config.json")
        func fail(_ problem: String) -> EmbeddingModelError { EmbeddingModelError(file: url.path, problem: problem) }
        if let type = raw.model_type, type != "bert" {
            throw fail("model_type \"\(type)\" is not supported (only \"bert\")")
        }
        // HF's "gelu" is the exact erf form; the tanh approximations would differ slightly.
        if raw.hidden_act != "gelu" {
            throw fail("hidden_act \"\(raw.hidden_act)\" is not supported (only \"gelu\")")
        }
        if let type = raw.position_embedding_type, type != "absolute" {
            throw fail("position_embedding_type \"\(type)\" is not supported (only \"absolute\")")
        }
        let sizes = [
            ("vocab_size", raw.vocab_size), ("hidden_size", raw.hidden_size),
            ("num_hidden_layers", raw.num_hidden_layers), ("num_attention_heads", raw.num_attention_heads),
            ("intermediate_size", raw.intermediate_size), ("max_position_embeddings", raw.max_position_embeddings),
            ("type_vocab_size", raw.type_vocab_size ?? 2),
        ]
        // The upper bound keeps every later size product far from overflow.
        for (name, value) in sizes where !(1...1_000_000).contains(value) {
            throw fail("\(name) \(value) is out of range")
        }
        if raw.num_hidden_layers > 1000 {
            throw fail("num_hidden_layers \(raw.num_hidden_layers) is out of range")
        }
        if raw.hidden_size % raw.num_attention_heads != 0 {
            throw fail("hidden_size \(raw.hidden_size) is not a multiple of num_attention_heads \(raw.num_attention_heads)")
        }
        let epsilon = raw.layer_norm_eps ?? 1e-12
        if !(epsilon > 0 && epsilon < 1) {
            throw fail("layer_norm_eps \(epsilon) is out of range")
        }
        vocabularySize = raw.vocab_size
        hiddenSize = raw.hidden_size
        layerCount = raw.num_hidden_layers
        attentionHeadCount = raw.num_attention_heads
        intermediateSize = raw.intermediate_size
        maxPositionEmbeddings = raw.max_position_embeddings
        tokenTypeCount = raw.type_vocab_size ?? 2
        layerNormEpsilon = Float(epsilon)
    }

    // Field names as config.json spells them.
    private struct Raw: Decodable {
        let model_type: String?
        let vocab_size: Int
        let hidden_size: Int
        let num_hidden_layers: Int
        let num_attention_heads: Int
        let intermediate_size: Int
        let hidden_act: String
        let max_position_embeddings: Int
        let type_vocab_size: Int?
        let layer_norm_eps: Double?
        let position_embedding_type: String?
    }
}
