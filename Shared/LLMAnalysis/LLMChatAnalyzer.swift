import AsyncHTTPClient
import Foundation
import InterestAnalysis
import Logging
import NIOCore
import ServiceKit

/// Asks an OpenAI-compatible chat-completions endpoint for the analysis as JSON, checks the answer
/// against the catalog and the result types, and falls back to the offline analyser on a
/// timeout, an HTTP error or an answer that does not check out.
public struct LLMChatAnalyzer: ChatAnalyzer {
    let config: LLMConfig
    let client: HTTPClient
    let fallback: any ChatAnalyzer
    let logger: Logger

    public init(config: LLMConfig, client: HTTPClient = .shared, fallback: any ChatAnalyzer = OfflineChatAnalyzer(), logger: Logger) {
        self.config = config
        self.client = client
        self.fallback = fallback
        self.logger = logger
    }

    public var detector: String { "llm:\(config.model)" }

    public func analyze(_ messages: [ChatTurn], catalog: CatalogIndex) async -> ChatAnalysis {
        guard messages.contains(where: { $0.role == .user }) else { return await fallback.analyze(messages, catalog: catalog) }
        do {
            let content = try await withTimeout(seconds: Double(config.timeout.components.seconds)
                                                 + Double(config.timeout.components.attoseconds) / 1e18) {
                try await self.complete(LLMPrompt(messages: messages, catalog: catalog.catalog, model: self.config.model).body())
            }
            var analysis = try LLMResponse(content: content).analysis(messages: messages, catalog: catalog.catalog)
            analysis.detector = detector
            return analysis
        } catch {
            logger.warning("LLM analysis failed; using the offline analyser", metadata: ["error": "\(String(reflecting: error))"])
            return await fallback.analyze(messages, catalog: catalog)
        }
    }

    /// The assistant message's content of one chat completion.
    private func complete(_ body: Data) async throws -> String {
        var request = HTTPClientRequest(url: config.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = config.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(Int64(config.timeout.components.seconds) + 1))
        let bytes = try await response.body.collect(upTo: 2 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw LLMResponse.Invalid(reason: "HTTP \(response.status.code)")
        }
        return try LLMResponse.content(ofCompletion: Data(bytes.readableBytesView))
    }
}
