import Foundation
@testable import ServiceKit
import Testing

/// The per-address limit and its memory bound (#23 item 12).
@Suite struct RateLimiterTests {
    @Test func ipv6_clients_are_counted_by_their_64_and_ipv4_by_their_address() {
        let a = AddressRateLimitKey.of(IPNetwork.parse("2001:db8:1:2:aaaa::1"))
        let b = AddressRateLimitKey.of(IPNetwork.parse("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        let other = AddressRateLimitKey.of(IPNetwork.parse("2001:db8:1:3::1"))
        #expect(a == "2001:db8:1:2::/64" && a == b)
        #expect(other == "2001:db8:1:3::/64")
        #expect(AddressRateLimitKey.of(IPNetwork.parse("203.0.113.7")) == "203.0.113.7")
        #expect(AddressRateLimitKey.of(IPNetwork.parse("203.0.113.8")) == "203.0.113.8")
        #expect(AddressRateLimitKey.of(nil) == "unknown")

        // A client rotating through its /64 meets one bucket.
        let limiter = RateLimiter(limit: RateLimit(perSecond: 0.001, burst: 3))
        let now = ContinuousClock.now
        let answers = (1...4).map { n in limiter.take(AddressRateLimitKey.of(IPNetwork.parse("2001:db8:1:2::\(n)")), now: now) }
        #expect(answers.prefix(3).allSatisfy { $0 == nil })
        #expect(answers[3] != nil)
        #expect(limiter.take(other, now: now) == nil)
    }

    @Test func many_distinct_keys_stay_bounded_and_a_limited_key_stays_limited() {
        let limiter = RateLimiter(limit: RateLimit(perSecond: 0.001, burst: 2), maxTrackedKeys: 1000)
        let now = ContinuousClock.now
        #expect(limiter.take("busy", now: now) == nil)
        #expect(limiter.take("busy", now: now) == nil)
        for n in 0..<10_000 {
            _ = limiter.take("spray-\(n)", now: now)
            // The busy client keeps sending while the spray goes on: it is never forgotten.
            if n % 100 == 0 { #expect(limiter.take("busy", now: now) != nil, "\(n)") }
        }
        #expect(limiter.trackedKeys <= 1000)
    }
}
