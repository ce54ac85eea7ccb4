import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProfileModel
import ServiceKit

/// Reads and checks a tracking request's body before any event is looked at: content type,
/// content encoding (gzip/deflate, as Segment's API accepts and RudderStack's SDK sends by default),
/// size (enforced while reading, and again on the decompressed bytes), nesting depth and JSON syntax.
enum TrackingBody {
    /// Deeper JSON than this is refused before parsing: no real event needs it, and a recursive
    /// parser must not be handed 100,000 nested arrays.
    static let maxDepth = 32

    static func read(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        if let type = request.headers[.contentType]?.lowercased() {
            let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            // text/plain is what navigator.sendBeacon sends without a CORS preflight.
            guard mediaType == "application/json" || mediaType == "text/plain" else {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               detail: "send JSON with Content-Type: application/json (got '\(mediaType.prefix(60))')", field: "Content-Type")
            }
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw tooLarge(limit)
        }
        var buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge(limit)
        }
        buffer = try decode(buffer, encoding: request.headers[.contentEncoding], limit: limit)
        let bytes = buffer.readableBytesView
        guard !bytes.isEmpty else { throw APIError.badRequest("empty_body", "the request body is empty; send a JSON object") }
        try checkDepth(bytes)
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, maxDepth: maxDepth)
        } catch {
            throw APIError.badRequest("invalid_json", "the body is not valid JSON (UTF-8): \(error)")
        }
        guard let object = value.objectValue else {
            throw APIError.badRequest("invalid_json", "the body must be a JSON object")
        }
        return object
    }

    /// Undoes `Content-Encoding`; the limit applies to the decompressed body too (no zip bombs).
    static func decode(_ body: ByteBuffer, encoding: String?, limit: Int) throws -> ByteBuffer {
        let name = encoding?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let algorithm: CompressionAlgorithm
        switch name {
        case "", "identity": return body
        case "gzip", "x-gzip": algorithm = .gzip()
        case "deflate": algorithm = .zlib()
        default:
            throw APIError(.unsupportedMediaType, code: "unsupported_content_encoding",
                           detail: "Content-Encoding '\(name.prefix(40))' is not supported; send gzip, deflate or no encoding",
                           field: "Content-Encoding")
        }
        var compressed = body
        let decompressed: ByteBuffer
        do {
            decompressed = try compressed.decompress(with: algorithm, maxSize: limit + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw tooLarge(limit)
        } catch {
            throw APIError.badRequest("invalid_encoding", "the body is not valid \(name) data", field: "Content-Encoding")
        }
        guard decompressed.readableBytes <= limit else { throw tooLarge(limit) }
        return decompressed
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "payload_too_large", detail: "the body is larger than \(limit / 1024) KB")
    }

    private static func checkDepth(_ bytes: ByteBufferView) throws {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > maxDepth {
                    throw APIError.badRequest("too_deep", "JSON nesting is deeper than \(maxDepth) levels")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
    }

    /// The write key from HTTP Basic (Segment's way: key as user, empty password), the
    /// `X-Write-Key` header, or `writeKey` in the body.
    static func writeKey(_ request: Request, body: [String: JSONValue]) -> String? {
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("basic ") {
            let encoded = authorization.dropFirst(6).trimmingCharacters(in: .whitespaces)
            if let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) {
                let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                if !user.isEmpty { return user }
            }
        }
        if let header = request.headers[writeKeyHeader], !header.isEmpty { return header }
        if let key = body["writeKey"]?.stringValue, !key.isEmpty { return key }
        return nil
    }

    static let writeKeyHeader = HTTPField.Name("X-Write-Key")!
}
