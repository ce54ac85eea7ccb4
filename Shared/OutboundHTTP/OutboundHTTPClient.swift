import AsyncHTTPClient
import NIOCore
import ServiceLifecycle

/// The HTTP client for calls to addresses that API users chose (webhooks, export pushes). Every
/// request's URL is checked by the `OutboundPolicy` right before it is sent (DNS may have changed
/// since the subscription was checked: rebinding), and redirects are not followed, because a
/// receiver could redirect to an internal address. A `Service` so it is shut down after the
/// workers that use it.
public final class OutboundHTTPClient: Service, Sendable {
    public let policy: OutboundPolicy
    private let client: HTTPClient

    public init(policy: OutboundPolicy) {
        self.policy = policy
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }

    /// Sends the request if the policy allows its URL; throws the `OutboundPolicy.Refusal` otherwise.
    public func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        if let refusal = await policy.check(request.url) { throw refusal }
        return try await client.execute(request, timeout: timeout)
    }
}
