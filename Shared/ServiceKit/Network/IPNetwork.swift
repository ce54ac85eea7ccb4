import Foundation

/// An IPv4 or IPv6 address block: the collector's trusted proxies and stored-address truncation,
/// and the API's refusal of private destinations (`OutboundPolicy`).
public struct IPNetwork: Sendable, Equatable {
    public let bytes: [UInt8]
    public let prefixLength: Int

    public init?(cidr: String) {
        let parts = cidr.split(separator: "/", maxSplits: 1)
        guard let address = IPNetwork.parse(String(parts[0])) else { return nil }
        let bits = address.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        bytes = address
    }

    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        return IPNetwork.masked(address, prefixLength) == IPNetwork.masked(bytes, prefixLength)
    }

    /// Parses a textual IPv4 or IPv6 address into its bytes (4 or 16); IPv4-mapped IPv6 becomes IPv4.
    public static func parse(_ text: String) -> [UInt8]? {
        var text = text
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let raw = withUnsafeBytes(of: &v6) { Array($0) }
            if raw[0..<10].allSatisfy({ $0 == 0 }) && raw[10] == 0xff && raw[11] == 0xff { return Array(raw[12...]) }
            return raw
        }
        return nil
    }

    static func masked(_ address: [UInt8], _ prefixLength: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bitsBefore = index * 8
            if prefixLength >= bitsBefore + 8 { return byte }
            if prefixLength <= bitsBefore { return 0 }
            return byte & UInt8(truncatingIfNeeded: 0xff << (8 - (prefixLength - bitsBefore)))
        }
    }

    /// The address with host bits cleared: IPv4 to /24 and IPv6 to /48, the privacy-preserving
    /// granularity we store (enough for coarse geography, not for identifying a household).
    public static func truncated(_ address: [UInt8]) -> String {
        let masked = masked(address, address.count == 4 ? 24 : 48)
        return format(masked)
    }

    public static func format(_ address: [UInt8]) -> String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { pointer in
            for (index, byte) in address.enumerated() { pointer[index] = byte }
        }
        guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
