import Foundation
import ServiceKit

/// Settings of the LLM analyser, from the environment. Off unless `LLM_API_URL` and `LLM_MODEL`
/// are both set; the offline analyser is the default.
public struct LLMConfig: Sendable, Equatable {
    /// An OpenAI-compatible chat-completions endpoint, e.g. https://api.openai.com/v1/chat/completions.
    public var url: String
    public var model: String
    /// Sent as a bearer token when set; never logged.
    public var apiKey: String?
    /// After this the offline analyser answers instead (LLM_TIMEOUT_MS, default 5000): the call
    /// runs inside the engine's batch transaction, so it must stay short.
    public var timeout: Duration

    public init(url: String, model: String, apiKey: String? = nil, timeout: Duration = .seconds(5)) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }

    /// nil when the LLM analyser is not configured; throws when it is configured wrongly.
    public init?(environment: EnvironmentReader) throws {
        guard let url = environment.raw("LLM_API_URL") else { return nil }
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
            throw ConfigError(variable: "LLM_API_URL", message: "'\(url)' is not an http(s) URL of a chat-completions endpoint")
        }
        guard let model = environment.raw("LLM_MODEL") else {
            throw ConfigError(variable: "LLM_MODEL", message: "is required when LLM_API_URL is set")
        }
        let milliseconds = try environment.int("LLM_TIMEOUT_MS", default: 5000, range: 100...120_000)
        self.init(url: url, model: model, apiKey: environment.raw("LLM_API_KEY"), timeout: .milliseconds(milliseconds))
    }
}
