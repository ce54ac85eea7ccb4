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

    /// 16 base-36 characters from two random words (Int.random per character cost a getrandom
    /// system call each: ~5% of the collector's CPU per request).
    private static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for half in 0..<2 {
            var word = generator.next() as UInt64
            for position in 0..<8 {
                bytes[half * 8 + position] = alphabet[Int(word % 36)]
                word /= 36
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
}
