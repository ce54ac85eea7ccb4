import HTTPTypes
import Hummingbird
import Logging
import ServiceKit
import Synchronization

/// Checks `Authorization: Bearer …` and the scope an endpoint needs: 401 when the caller is not
/// known, 403 when it is known but not allowed, 429 when it exceeds its key's rate.
struct Authenticator: Sendable {
    let keys: APIKeyStore
    let limiter: PerKeyRateLimiter

    func require(_ scope: APIScope, _ request: Request, logger: Logger) async throws -> APIKey {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, code: "missing_api_key", detail: "send an API key as 'Authorization: Bearer pb_…'",
                           field: "Authorization", headers: [.wwwAuthenticate: "Bearer"])
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        let key: APIKey?
        do {
            key = try await keys.verify(token, logger: logger)
        } catch {
            throw APIError.unavailable("the database is unavailable; retry later")
        }
        guard let key, !key.revoked else {
            throw APIError(.unauthorized, code: "invalid_api_key", detail: "the API key is unknown or revoked",
                           field: "Authorization", headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        guard key.allows(scope) else {
            throw APIError(.forbidden, code: "insufficient_scope", detail: "this key lacks the '\(scope.rawValue)' scope")
        }
        if let wait = limiter.take(key) {
            throw APIError(.tooManyRequests, code: "rate_limited", detail: "this key is over its rate limit; retry after \(wait) s",
                           headers: [.retryAfter: String(wait)])
        }
        return key
    }
}

/// One token bucket per key, sized by the key's own `rate_limit_per_minute`.
final class PerKeyRateLimiter: Sendable {
    private let limiters = Mutex<[Int64: (Int, RateLimiter)]>([:])

    func take(_ key: APIKey) -> Int? {
        let limiter = limiters.withLock { limiters -> RateLimiter in
            if let (limit, existing) = limiters[key.id], limit == key.rateLimitPerMinute { return existing }
            let fresh = RateLimiter(limit: RateLimit(perSecond: Double(key.rateLimitPerMinute) / 60, burst: Double(max(1, key.rateLimitPerMinute / 6))))
            limiters[key.id] = (key.rateLimitPerMinute, fresh)
            return fresh
        }
        return limiter.take("key")
    }
}
