import Foundation
import ServiceKit

/// Where the API may send webhooks and export files: http(s) URLs whose host resolves only to
/// public addresses, so a subscription cannot make the server call its own loopback, the cloud
/// metadata service (169.254.169.254) or the private network behind it (SSRF). Hosts and
/// networks in `OUTBOUND_ALLOWED_HOSTS`, or every address with
/// `OUTBOUND_ALLOW_PRIVATE_NETWORKS=true`, are let through for tests and on-premises receivers.
public struct OutboundPolicy: Sendable {
    /// Skip the address check entirely (the scheme is still checked).
    public var allowPrivateNetworks: Bool
    /// Host names let through whatever they resolve to (lower case).
    public var allowedHosts: Set<String>
    /// Address blocks let through.
    public var allowedNetworks: [IPNetwork]

    public init(allowPrivateNetworks: Bool = false, allowedHosts: Set<String> = [], allowedNetworks: [IPNetwork] = []) {
        self.allowPrivateNetworks = allowPrivateNetworks
        self.allowedHosts = allowedHosts
        self.allowedNetworks = allowedNetworks
    }

    public init(environment env: EnvironmentReader) throws {
        self.init(allowPrivateNetworks: try env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default: false))
        for entry in env.string("OUTBOUND_ALLOWED_HOSTS", default: "").split(separator: ",") {
            let text = entry.trimmingCharacters(in: .whitespaces).lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if text.isEmpty { continue }
            if let network = IPNetwork(cidr: text) {
                allowedNetworks.append(network)
            } else if text.contains("/") {
                throw ConfigError(variable: "OUTBOUND_ALLOWED_HOSTS", message: "'\(text)' is neither a host name, an IP address nor a CIDR block")
            } else {
                allowedHosts.insert(text)
            }
        }
    }

    /// Why a URL may not be called.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public enum Reason: Sendable, Equatable { case notHTTP, noHost, unresolvable, forbiddenAddress }
        public let reason: Reason
        public let description: String
    }

    /// Checks a URL now (resolving its host). `unresolvable` is a refusal like the others; a
    /// caller that validates a subscription may choose to accept it and let delivery decide.
    public func check(_ text: String) async -> Refusal? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            return Refusal(reason: .notHTTP, description: "only http and https URLs are allowed")
        }
        guard let rawHost = url.host, !rawHost.isEmpty else { return Refusal(reason: .noHost, description: "the URL has no host") }
        let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if allowPrivateNetworks || allowedHosts.contains(host) { return nil }
        let addresses: [[UInt8]]
        do { addresses = try await HostResolver.addresses(of: host) } catch {
            return Refusal(reason: .unresolvable, description: "\(error)")
        }
        if addresses.isEmpty { return Refusal(reason: .unresolvable, description: "'\(host)' has no address") }
        for address in addresses where !allowedNetworks.contains(where: { $0.contains(address) }) {
            if Self.forbiddenRange(of: address) != nil {
                // Which address, or which kind of network, would tell a caller about the internal
                // network (a key probing names one by one): the answer says only that it is not public.
                return Refusal(reason: .forbiddenAddress, description:
                    "'\(host)' does not resolve to public addresses only; only public addresses may be called (an operator can allow a host with OUTBOUND_ALLOWED_HOSTS)")
            }
        }
        return nil
    }

    /// The name of the non-public range an address is in, or nil for a public address.
    public static func forbiddenRange(of address: [UInt8]) -> String? {
        if address.count == 16 {
            // IPv6 forms that embed an IPv4 address are judged by that address.
            if address[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return forbiddenRange(of: Array(address[12...])) }
            if address[0] == 0x20 && address[1] == 0x02 { return forbiddenRange(of: Array(address[2..<6])) }
        }
        return forbidden.first { $0.network.contains(address) }?.name
    }

    private static let forbidden: [(network: IPNetwork, name: String)] = [
        ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared (CGNAT)"), ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"), ("172.16.0.0/12", "private"), ("192.0.0.0/24", "IETF protocol"),
        ("192.168.0.0/16", "private"), ("198.18.0.0/15", "benchmarking"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "IPv4-compatible"), ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"), ("fec0::/10", "site-local"), ("ff00::/8", "multicast"),
        // Local-use NAT64 (RFC 8215) and Teredo tunnels reach IPv4 networks this check cannot see.
        ("64:ff9b:1::/48", "local-use NAT64"), ("2001::/32", "Teredo"),
    ].map { (IPNetwork(cidr: $0.0)!, $0.1) }
}
