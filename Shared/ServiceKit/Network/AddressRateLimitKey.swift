/// The key a per-address rate limit counts a client under: an IPv4 address as it is, an IPv6
/// address by its /64. One IPv6 subscriber (or one cloud VM) is usually given a whole /64, so
/// keying by the full address let a single client walk around the limit with 2^64 addresses.
public enum AddressRateLimitKey {
    public static func of(_ address: [UInt8]?) -> String {
        guard let address else { return "unknown" }
        guard address.count == 16 else { return IPNetwork.format(address) }
        return IPNetwork.format(Array(address[0..<8]) + [UInt8](repeating: 0, count: 8)) + "/64"
    }
}
