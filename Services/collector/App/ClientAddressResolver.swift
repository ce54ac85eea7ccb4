import HTTPTypes
import NIOCore
import ServiceKit

/// Finds the client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (a client can prepend
/// anything to the header, but cannot forge what our own proxy appended).
struct ClientAddressResolver: Sendable {
    let trustedProxies: [IPNetwork]

    func resolve(peer: SocketAddress?, headers: HTTPFields) -> [UInt8]? {
        guard let peerText = peer?.ipAddress, let peerBytes = IPNetwork.parse(peerText) else { return nil }
        guard isTrusted(peerBytes) else { return peerBytes }
        let hops = headers[values: Self.forwardedFor]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard let bytes = IPNetwork.parse(hop) else { return peerBytes }
            if !isTrusted(bytes) { return bytes }
        }
        return peerBytes
    }

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    private func isTrusted(_ address: [UInt8]) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }
}
