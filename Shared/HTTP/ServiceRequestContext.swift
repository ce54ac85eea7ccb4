import Hummingbird
import NIOCore

/// The request context of every service: the peer address (for rate limits and trusted proxies)
/// and a request id that appears in logs and error bodies.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let requestID: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.requestID = Self.makeRequestID()
    }

    /// Requests are read in full only by handlers that set their own limit; this is the ceiling.
    public var maxUploadSize: Int { 1024 * 1024 }

    private static func makeRequestID() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
