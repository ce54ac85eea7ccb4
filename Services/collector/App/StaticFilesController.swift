import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProfileModel
import ServiceKit

/// Serves the tracker script at `/t.js` (cacheable, with an ETag) and, in demo mode, the example site under `/demo/`.
struct StaticFilesController: Sendable {
    let webDirectory: String
    let demoMode: Bool

    func addRoutes(to router: Router<ServiceRequestContext>) {
        // The minified copy (scripts/tracker-size --write) is what sites load; the readable one is its source.
        let tracker = FileManager.default.fileExists(atPath: URL(fileURLWithPath: webDirectory).appendingPathComponent("t.min.js").path)
            ? "t.min.js" : "t.js"
        router.get("/t.js") { request, _ in
            try serve(request, relativePath: tracker, cacheSeconds: 3600)
        }
        guard demoMode else { return }
        // The router treats /demo and /demo/ alike; both serve the index (open /demo/ so its relative links resolve).
        router.get("/demo") { request, _ in try serve(request, relativePath: "demo/index.html", cacheSeconds: 0) }
        router.get("/demo/**") { request, context in
            let rest = context.parameters.getCatchAll().joined(separator: "/")
            return try serve(request, relativePath: "demo/" + (rest.isEmpty ? "index.html" : rest), cacheSeconds: 0)
        }
    }

    private func serve(_ request: Request, relativePath: String, cacheSeconds: Int) throws -> Response {
        // Only plain relative names: no parent directories, no hidden files.
        guard relativePath.split(separator: "/").allSatisfy({ !$0.hasPrefix(".") }),
              relativePath.range(of: "^[A-Za-z0-9._/-]+$", options: .regularExpression) != nil
        else { throw APIError(.notFound, code: "not_found", detail: "no such file") }
        let path = URL(fileURLWithPath: webDirectory).appendingPathComponent(relativePath).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw APIError(.notFound, code: "not_found", detail: "no such file: /\(relativePath)")
        }
        let etag = "\"" + SHA256.hash(data: data).prefix(12).hexString + "\""
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = cacheSeconds > 0 ? "public, max-age=\(cacheSeconds)" : "no-cache"
        headers[.contentType] = Self.contentType(relativePath)
        headers[.accessControlAllowOrigin] = "*"
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func contentType(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "js": return "application/javascript; charset=utf-8"
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }
}
