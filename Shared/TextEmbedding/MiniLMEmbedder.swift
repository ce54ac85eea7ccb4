import Dispatch
import Foundation

/// all-MiniLM-L6-v2 (or another sentence-transformers BERT model with mean pooling) run
/// in-process from its model folder: config.json, model.safetensors and tokenizer.json or vocab.txt.
public struct MiniLMEmbedder: SentenceEmbedder {
    public let modelName: String
    public var dimensions: Int { encoder.configuration.hiddenSize }
    public let tokenizer: WordPieceTokenizer
    private let encoder: BERTEncoder

    // Bounds one forward pass's scratch memory (15 KB a token, so 30 MB) however many texts come
    // in; passes beyond a few hundred tokens gain no speed.
    private static let tokensPerPass = 2048

    /// Loads and checks the whole folder before returning, so a model is either complete or not there.
    /// - Parameter modelName: defaults to the folder's name.
    public init(modelDirectory: URL, modelName: String? = nil) throws {
        let configuration = try BERTConfiguration(contentsOf: modelDirectory.appendingPathComponent("config.json"))
        let maxLength = try Self.maxSequenceLength(in: modelDirectory, configuration: configuration)
        try Self.checkPooling(in: modelDirectory, configuration: configuration)
        let tokenizer = try Self.loadTokenizer(from: modelDirectory, maxLength: maxLength)
        if tokenizer.vocabularyBound > configuration.vocabularySize {
            throw EmbeddingModelError(
                file: Self.vocabularyFile(in: modelDirectory).path,
                problem: "has token id \(tokenizer.vocabularyBound - 1) but config.json's vocab_size is \(configuration.vocabularySize)")
        }
        let weights = try SafetensorsFile(contentsOf: modelDirectory.appendingPathComponent("model.safetensors"))
        encoder = try BERTEncoder(configuration: configuration, weights: weights)
        self.tokenizer = tokenizer
        self.modelName = modelName ?? modelDirectory.standardizedFileURL.lastPathComponent
    }

    /// Runs on a Dispatch thread: a batch keeps a core busy for milliseconds to seconds, which
    /// would otherwise stall the Swift concurrency pool that serves requests.
    public func embed(_ texts: [String]) async -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: embedOnCurrentThread(texts))
            }
        }
    }

    /// `embed` without leaving the calling thread, for batch jobs and benchmarks.
    public func embedOnCurrentThread(_ texts: [String]) -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var pass: [[Int32]] = []
        var passTokens = 0
        for text in texts {
            let ids = tokenizer.tokenIDs(text)
            if !pass.isEmpty && passTokens + ids.count > Self.tokensPerPass {
                vectors += encoder.embed(pass)
                pass.removeAll(keepingCapacity: true)
                passTokens = 0
            }
            pass.append(ids)
            passTokens += ids.count
        }
        if !pass.isEmpty { vectors += encoder.embed(pass) }
        return vectors
    }

    // MARK: Loading

    private static func vocabularyFile(in directory: URL) -> URL {
        let json = directory.appendingPathComponent("tokenizer.json")
        return ModelFile.exists(json) ? json : directory.appendingPathComponent("vocab.txt")
    }

    /// tokenizer.json when present, since it is what the reference (fast) tokenizer reads; vocab.txt otherwise.
    private static func loadTokenizer(from directory: URL, maxLength: Int) throws -> WordPieceTokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        let text = directory.appendingPathComponent("vocab.txt")
        if ModelFile.exists(json) { return try WordPieceTokenizer(tokenizerJSON: json, maxLength: maxLength) }
        if ModelFile.exists(text) {
            return try WordPieceTokenizer(
                vocabularyText: text, tokenizerConfig: directory.appendingPathComponent("tokenizer_config.json"), maxLength: maxLength)
        }
        throw EmbeddingModelError(file: text.path, problem: "is missing, and so is tokenizer.json: the model has no vocabulary")
    }

    /// sentence-transformers truncates to max_seq_length (256 for this model), not to the 512
    /// positions BERT has; without that file it would fall back to the model's limit.
    private static func maxSequenceLength(in directory: URL, configuration: BERTConfiguration) throws -> Int {
        struct SentenceBERTConfig: Decodable {
            let max_seq_length: Int?
            let do_lower_case: Bool?
        }
        let url = directory.appendingPathComponent("sentence_bert_config.json")
        guard ModelFile.exists(url) else { return configuration.maxPositionEmbeddings }
        let config = try ModelFile.json(SentenceBERTConfig.self, at: url, what: "a sentence_bert_config.json")
        // Lowercasing before the tokenizer would also hide special tokens typed in the text.
        if config.do_lower_case == true {
            throw EmbeddingModelError(file: url.path, problem: "do_lower_case true is not supported")
        }
        let length = config.max_seq_length ?? configuration.maxPositionEmbeddings
        guard (2 ... configuration.maxPositionEmbeddings).contains(length) else {
            throw EmbeddingModelError(
                file: url.path,
                problem: "max_seq_length \(length) is outside 2...\(configuration.maxPositionEmbeddings) (config.json's max_position_embeddings)")
        }
        return length
    }

    /// The encoder always mean-pools; a model trained for [CLS] or max pooling would load and give wrong vectors.
    private static func checkPooling(in directory: URL, configuration: BERTConfiguration) throws {
        struct PoolingConfig: Decodable {
            let word_embedding_dimension: Int?
            let pooling_mode_cls_token: Bool?
            let pooling_mode_mean_tokens: Bool?
            let pooling_mode_max_tokens: Bool?
            let pooling_mode_mean_sqrt_len_tokens: Bool?
        }
        let url = directory.appendingPathComponent("1_Pooling/config.json")
        guard ModelFile.exists(url) else { return }
        let config = try ModelFile.json(PoolingConfig.self, at: url, what: "a sentence-transformers pooling config")
        guard config.pooling_mode_mean_tokens == true, config.pooling_mode_cls_token != true,
              config.pooling_mode_max_tokens != true, config.pooling_mode_mean_sqrt_len_tokens != true
        else { throw EmbeddingModelError(file: url.path, problem: "asks for a pooling other than mean pooling alone") }
        if let dimension = config.word_embedding_dimension, dimension != configuration.hiddenSize {
            throw EmbeddingModelError(
                file: url.path, problem: "word_embedding_dimension \(dimension) differs from config.json's hidden_size \(configuration.hiddenSize)")
        }
    }
}
