import Foundation
import NIOPosix

/// Resolves a URL host to its addresses the way the HTTP client will (`getaddrinfo`, which also
/// reads numeric forms such as `2130706433` or `0x7f.1` as IPv4), so that what is checked is
/// what would be connected to. Runs on NIO's blocking-IO thread pool.
enum HostResolver {
    struct Unresolvable: Error, CustomStringConvertible {
        let host: String
        let code: Int32
        var description: String { "'\(host)' does not resolve (\(String(cString: gai_strerror(code))))" }
    }

    /// The host's addresses as 4 bytes (IPv4, including IPv4-mapped IPv6) or 16 bytes (IPv6).
    static func addresses(of host: String) async throws -> [[UInt8]] {
        var name = host
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        let lookup = name
        return try await NIOThreadPool.singleton.runIfActive { try resolve(lookup) }
    }

    private static func resolve(_ host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, nil, &hints, &list)
        guard code == 0, let first = list else { throw Unresolvable(host: host, code: code) }
        defer { freeaddrinfo(first) }
        var result: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    result.append(withUnsafeBytes(of: &v4) { Array($0) })
                case AF_INET6:
                    var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    let bytes = withUnsafeBytes(of: &v6) { Array($0) }
                    let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
                    result.append(mapped ? Array(bytes[12...]) : bytes)
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        return result
    }
}
