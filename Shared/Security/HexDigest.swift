import Crypto
import Foundation

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte. A table lookup: `String(format:)` per byte
    /// cost the engine a third of its CPU when it hashed every identity of every event.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The erasure tombstone of one identity: SHA-256 of `kind:value` in hex, so that an erased
/// visitor is recognised (and not rebuilt) without keeping the identifier itself.
public enum ErasureTombstone {
    public static func hash(kind: String, value: String) -> String {
        SHA256.hash(data: Data("\(kind):\(value)".utf8)).hexString
    }
}
