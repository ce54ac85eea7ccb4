import Crypto
import Foundation

/// The erasure tombstone of one identity: SHA-256 of `kind:value` in hex, so that an erased
/// visitor is recognised (and not rebuilt) without keeping the identifier itself.
public enum ErasureTombstone {
    public static func hash(kind: String, value: String) -> String {
        SHA256.hash(data: Data("\(kind):\(value)".utf8)).hexString
    }
}
