import HTTPTypes

/// CORS for tracking endpoints. A preflight cannot carry the write key, so it is answered for
/// any origin; the actual request is then checked against its site's allowed origins.
enum CORSHeaders {
    static let origin = HTTPField.Name("Origin")!

    static func preflight(origin: String?) -> HTTPFields {
        var headers = HTTPFields()
        headers[.accessControlAllowOrigin] = origin ?? "*"
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = "Content-Type, Authorization, X-Write-Key"
        headers[.accessControlMaxAge] = "86400"
        headers[.vary] = "Origin"
        return headers
    }

    static func allow(origin: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.accessControlAllowOrigin] = origin
        headers[.vary] = "Origin"
        return headers
    }
}
