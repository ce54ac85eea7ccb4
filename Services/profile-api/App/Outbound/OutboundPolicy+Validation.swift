import OutboundHTTP
import ServiceKit

extension OutboundPolicy {
    /// Checks a destination URL given in a request body, as a 422 naming `field`. A host that
    /// does not resolve (yet) is accepted: its receiver may be set up later, and every send is
    /// checked again (`OutboundHTTPClient`), so it can never reach a forbidden address.
    func validate(_ url: String, field: String) async throws {
        guard let refusal = await check(url) else { return }
        switch refusal.reason {
        case .unresolvable:
            return
        case .notHTTP, .noHost:
            throw APIError(.unprocessableContent, code: "invalid_value", detail: "'\(field)' must be an http(s) URL: \(refusal.description)", field: field)
        case .forbiddenAddress:
            throw APIError(.unprocessableContent, code: "forbidden_destination", detail: "'\(field)' is not allowed: \(refusal.description)", field: field)
        }
    }
}
