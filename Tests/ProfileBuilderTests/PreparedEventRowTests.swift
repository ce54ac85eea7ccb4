@testable import CollectorApp
import Foundation
@testable import ProfileModel
import Testing


/// EventStore writes each event row straight to JSON text; it must be the row `row(ordinal:)` describes.
@Suite("Prepared event rows")
struct PreparedEventRowTests {
    static func event(full: Bool) -> PreparedEvent {
        PreparedEvent(
            siteID: 42, messageID: "m-\"1\"\\", type: "track", anonymousID: "anon\n1", userID: full ? "user-1" : nil,
            event: full ? "Order Completed" : nil, name: full ? "Pricing" : nil, previousID: full ? "old" : nil,
            groupID: full ? "acme" : nil,
            properties: full ? ["revenue": 42.5, "items": [1, "two", nil, ["deep": true]], "tab\there": "ü😀"] : [:],
            traits: full ? ["email": "a@example.com"] : [:], context: full ? ["page": ["url": "https://x.example/?a=1&b=2"]] : [:],
            integrations: full ? ["All": true] : [:],
            occurredAt: Date(timeIntervalSince1970: 1_790_000_000.123), sentAt: full ? Date(timeIntervalSince1970: 1_790_000_001) : nil,
            receivedAt: Date(timeIntervalSince1970: 1_790_000_002.5), clientIP: full ? "203.0.113.0" : nil, isBot: full,
            consent: full ? ["analytics": true] : nil)
    }

    @Test("the written row is the row", arguments: [true, false])
    func writtenRowMatches(full: Bool) throws {
        let event = Self.event(full: full)
        var bytes: [UInt8] = []
        event.writeRow(ordinal: 7, to: &bytes)
        #expect(try JSONValue.parse(bytes) == event.row(ordinal: 7))
    }
}
