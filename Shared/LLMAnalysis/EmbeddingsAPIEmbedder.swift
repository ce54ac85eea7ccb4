import AsyncHTTPClient
import Foundation
import NIOCore
import ServiceKit
import TextEmbedding

/// Settings of the embeddings backend: any OpenAI-compatible `/v1/embeddings` endpoint (what
/// Ollama, llama.cpp, vLLM and text-embeddings-inference serve), for operators who want a
/// multilingual or larger model than the embedded one. Off unless `EMBEDDINGS_API_URL` and
/// `EMBEDDINGS_MODEL` are set.
public struct EmbeddingsAPIConfig: Sendable, Equatable {
    public var url: String
    public var model: String
    /// Sent as a bearer token when set; never logged.
    public var apiKey: String?
    /// After this the call fails and the analyser falls back (EMBEDDINGS_TIMEOUT_MS, default 2000).
    public var timeout: Duration

    public init(url: String, model: String, apiKey: String? = nil, timeout: Duration = .seconds(2)) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }

    public init?(environment: EnvironmentReader) throws {
        guard let url = environment.raw("EMBEDDINGS_API_URL") else { return nil }
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
            throw ConfigError(variable: "EMBEDDINGS_API_URL", message: "'\(url)' is not an http(s) URL of an embeddings endpoint")
        }
        guard let model = environment.raw("EMBEDDINGS_MODEL") else {
            throw ConfigError(variable: "EMBEDDINGS_MODEL", message: "is required when EMBEDDINGS_API_URL is set")
        }
        let milliseconds = try environment.int("EMBEDDINGS_TIMEOUT_MS", default: 2000, range: 100...120_000)
        self.init(url: url, model: model, apiKey: environment.raw("EMBEDDINGS_API_KEY"), timeout: .milliseconds(milliseconds))
    }
}

/// Sentence vectors from an OpenAI-compatible embeddings endpoint. Vectors are L2-normalised here
/// (not every server does), checked for count, index and one common length, and requested in
/// chunks so a catalog of thousands of texts never becomes one huge request.
public struct EmbeddingsAPIEmbedder: SentenceEmbedder {
    public let config: EmbeddingsAPIConfig
    private let client: HTTPClient
    static let textsPerRequest = 128

    public init(config: EmbeddingsAPIConfig, client: HTTPClient = .shared) {
        self.config = config
        self.client = client
    }

    public var modelName: String { config.model }

    public struct Invalid: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "embeddings endpoint: \(reason)" }
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        for start in stride(from: 0, to: texts.count, by: Self.textsPerRequest) {
            let chunk = Array(texts[start..<min(texts.count, start + Self.textsPerRequest)])
            let seconds = Double(config.timeout.components.seconds) + Double(config.timeout.components.attoseconds) / 1e18
            vectors += try await withTimeout(seconds: seconds) { try await self.request(chunk) }
        }
        if let length = vectors.first?.count, vectors.contains(where: { $0.count != length }) {
            throw Invalid(reason: "vectors of different lengths")
        }
        return vectors
    }

    private struct Request: Encodable {
        let model: String
        let input: [String]
    }

    private struct Response: Decodable {
        struct Item: Decodable {
            let index: Int
            let embedding: [Float]
        }
        let data: [Item]
    }

    private func request(_ texts: [String]) async throws -> [[Float]] {
        var request = HTTPClientRequest(url: config.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = config.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(Request(model: config.model, input: texts))))
        let response = try await client.execute(request, timeout: .seconds(Int64(config.timeout.components.seconds) + 1))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        guard (200..<300).contains(response.status.code) else { throw Invalid(reason: "HTTP \(response.status.code)") }
        let decoded: Response
        do {
            decoded = try JSONDecoder().decode(Response.self, from: Data(bytes.readableBytesView))
        } catch {
            throw Invalid(reason: "the answer is not an embeddings list (\(error))")
        }
        guard decoded.data.count == texts.count, Set(decoded.data.map(\.index)) == Set(0..<texts.count) else {
            throw Invalid(reason: "asked for \(texts.count) vectors, got \(decoded.data.count) with indexes \(decoded.data.map(\.index).sorted())")
        }
        return decoded.data.sorted { $0.index < $1.index }.map { item in
            let norm = item.embedding.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? item.embedding.map { $0 / norm } : item.embedding
        }
    }
}
