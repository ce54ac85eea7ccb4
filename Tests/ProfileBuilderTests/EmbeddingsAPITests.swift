import Foundation
import Hummingbird
import HummingbirdTesting
@testable import InterestAnalysis
@testable import LLMAnalysis
@testable import ServiceKit
import Testing
import TextEmbedding

/// The embeddings backend against a local server that follows the OpenAI `/v1/embeddings`
/// contract and computes its vectors with the real embedded model (scaled, since servers need not
/// normalise), plus endpoints that fail, answer short or answer slowly.
@Suite struct EmbeddingsAPITests {
    static func respond(_ json: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))))
    }

    /// The request's inputs, when it names the model and carries the key.
    static func inputs(_ request: Request) async throws -> [String]? {
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              json["model"] as? String == "remote-minilm", request.headers[.authorization] == "Bearer secret" else { return nil }
        return json["input"] as? [String]
    }

    func withServer(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let model = try EmbeddingModelFolder.embedder()
        let router = Router()
        router.post("/v1/embeddings") { request, _ -> Response in
            guard let inputs = try await Self.inputs(request) else { return try Self.respond(["error": "bad request"], status: .badRequest) }
            let vectors = await model.embed(inputs)
            // In reverse order, as the contract allows: the index says which input each one is.
            let data = vectors.enumerated().reversed().map { ["object": "embedding", "index": $0.offset, "embedding": $0.element.map { Double($0) * 3 }] as [String: Any] }
            return try Self.respond(["object": "list", "model": "remote-minilm", "data": data])
        }
        router.post("/short") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return try Self.respond(["object": "list", "data": [["object": "embedding", "index": 0, "embedding": [0.5, 0.5]]]])
        }
        router.post("/error") { _, _ in try Self.respond(["error": "overloaded"], status: .internalServerError) }
        // A valid answer, too late: only a timeout keeps the analyser from using it.
        router.post("/slow") { request, _ -> Response in
            guard let inputs = try await Self.inputs(request) else { return try Self.respond(["error": "bad request"], status: .badRequest) }
            try await Task.sleep(for: .seconds(6))
            let data = await model.embed(inputs).enumerated().map { ["object": "embedding", "index": $0.offset, "embedding": $0.element.map(Double.init)] as [String: Any] }
            return try Self.respond(["object": "list", "model": "remote-minilm", "data": data])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            guard let port = client.port else { throw TestSetupError("no port") }
            try await body("http://127.0.0.1:\(port)")
        }
    }

    /// The default timeout is generous: this server runs the model in a debug build, beside other tests.
    static func remote(_ url: String, timeout: Duration = .seconds(120)) -> EmbeddingsAPIEmbedder {
        EmbeddingsAPIEmbedder(config: EmbeddingsAPIConfig(url: url, model: "remote-minilm", apiKey: "secret", timeout: timeout))
    }

    @Test func the_endpoint_s_vectors_are_used_in_order_and_normalised() async throws {
        try await withServer { base in
            let texts = ["how do i keep thieves from taking my bike", "what are your opening hours", "ok thanks"]
            let remote = try await Self.remote("\(base)/v1/embeddings").embed(texts)
            let local = await try EmbeddingModelFolder.embedder().embed(texts)
            #expect(remote.count == 3)
            for (r, l) in zip(remote, local) {
                #expect(abs(r.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4, "unit length")
                #expect(Vectors.cosine(r, l) > 0.9999)
            }
        }
    }

    @Test func the_hybrid_analyser_runs_on_the_endpoint() async throws {
        try await withServer { base in
            let exemplars = try IntentExemplars(contentsOf: RepositoryPaths.root.appendingPathComponent("config/intent-exemplars.txt"))
            let analyzer = HybridChatAnalyzer(embedder: Self.remote("\(base)/v1/embeddings"), exemplars: exemplars)
            let analysis = await analyzer.analyze([ChatTurn(role: .user, text: "how do i keep thieves from taking my bike")],
                                                  catalog: try HybridAnalyzerTests.catalog())
            let mention = try #require(analysis.messages.first?.mentions.first { $0.target == .item("locks") })
            #expect(mention.detector == "embedding:remote-minilm")
        }
    }

    @Test func an_endpoint_that_fails_answers_short_or_is_slow_falls_back() async throws {
        try await withServer { base in
            let exemplars = try IntentExemplars(contentsOf: RepositoryPaths.root.appendingPathComponent("config/intent-exemplars.txt"))
            let local = try HybridAnalyzerTests.analyzer()
            let turns = [ChatTurn(role: .user, text: "how do i keep thieves from taking my bike")]
            let catalog = try HybridAnalyzerTests.catalog()
            for path in ["/error", "/short", "/slow"] {
                let remote = HybridChatAnalyzer(embedder: Self.remote(base + path, timeout: .milliseconds(500)), exemplars: exemplars, fallback: local)
                let analysis = await remote.analyze(turns, catalog: catalog)
                #expect(analysis.messages.first?.mentions.first?.detector == "embedding:all-MiniLM-L6-v2", "\(path)")
                // Without a second model, the keyword analysis answers.
                let alone = HybridChatAnalyzer(embedder: Self.remote(base + path, timeout: .milliseconds(500)), exemplars: exemplars)
                #expect(await alone.analyze(turns, catalog: catalog) == OfflineChatAnalyzer().analyze(turns, catalog: catalog), "\(path)")
            }
        }
    }

    @Test func the_backend_is_off_unless_configured_and_checks_its_settings() throws {
        #expect(try EmbeddingsAPIConfig(environment: EnvironmentReader([:])) == nil)
        #expect(throws: ConfigError.self) { try EmbeddingsAPIConfig(environment: EnvironmentReader(["EMBEDDINGS_API_URL": "ftp://x"])) }
        #expect(throws: ConfigError(variable: "EMBEDDINGS_MODEL", message: "is required when EMBEDDINGS_API_URL is set")) {
            try EmbeddingsAPIConfig(environment: EnvironmentReader(["EMBEDDINGS_API_URL": "http://127.0.0.1:1/v1/embeddings"]))
        }
        let config = try #require(try EmbeddingsAPIConfig(environment: EnvironmentReader([
            "EMBEDDINGS_API_URL": "http://127.0.0.1:11434/v1/embeddings", "EMBEDDINGS_MODEL": "nomic-embed-text", "EMBEDDINGS_TIMEOUT_MS": "750"])))
        #expect(config == EmbeddingsAPIConfig(url: "http://127.0.0.1:11434/v1/embeddings", model: "nomic-embed-text", timeout: .milliseconds(750)))
    }
}
