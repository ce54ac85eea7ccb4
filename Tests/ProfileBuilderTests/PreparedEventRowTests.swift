@testable import CollectorApp
import Foundation
@testable import ProfileModel
import Testing


/// EventStore writes each event row straight to JSON text; it must be the row `EventRow` describes.
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

    /// The keys, in order, are `ord`, the columns of `EventRow`, then `shard`: what the insert's
    /// record definition reads.
    @Test("the written row has the columns of EventRow in order", arguments: [true, false])
    func writtenRowHasTheContractsColumns(full: Bool) throws {
        var bytes: [UInt8] = []
        Self.event(full: full).writeRow(ordinal: 7, to: &bytes)
        let keys = Self.topLevelKeys(String(decoding: bytes, as: UTF8.self))
        #expect(keys == ["ord"] + EventRow.names + ["shard"])
    }

    @Test("the written row holds the event's values")
    func writtenRowHoldsTheValues() throws {
        var bytes: [UInt8] = []
        Self.event(full: true).writeRow(ordinal: 7, to: &bytes)
        let row = try #require(try JSONValue.parse(bytes).objectValue)
        #expect(row["ord"] == 7)
        #expect(row["site_id"] == 42)
        #expect(row["message_id"] == "m-\"1\"\\")
        #expect(row["anonymous_id"] == "anon\n1")
        #expect(row["properties"]?["tab\there"] == "ü😀")
        #expect(row["properties"]?["items"] == [1, "two", nil, ["deep": true]])
        #expect(row["client_ip"] == "203.0.113.0")
        #expect(row["is_bot"] == true)
        #expect(row["consent"] == ["analytics": true])
        #expect(row["sent_at"] == "2026-09-21T14:13:21.000Z")
        #expect(row["shard"] == .number(Double(Self.event(full: true).shard)))
        var empty: [UInt8] = []
        Self.event(full: false).writeRow(ordinal: 0, to: &empty)
        let bare = try #require(try JSONValue.parse(empty).objectValue)
        #expect(bare["user_id"] == .null && bare["sent_at"] == .null && bare["consent"] == .null && bare["traits"] == [:])
    }

    /// The keys of the outermost JSON object, in the order written.
    static func topLevelKeys(_ text: String) -> [String] {
        var keys: [String] = [], current = ""
        var depth = 0, inString = false, escaped = false, expectingKey = false, readingKey = false
        for character in text {
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" {
                    inString = false
                    if readingKey { keys.append(current); readingKey = false }
                    continue
                }
                if readingKey { current.append(character) }
                continue
            }
            switch character {
            case "\"":
                inString = true
                if depth == 1 && expectingKey { readingKey = true; current = ""; expectingKey = false }
            case "{", "[":
                depth += 1
                if depth == 1 { expectingKey = true }
            case "}", "]": depth -= 1
            case ",": if depth == 1 { expectingKey = true }
            default: break
            }
        }
        return keys
    }
}
