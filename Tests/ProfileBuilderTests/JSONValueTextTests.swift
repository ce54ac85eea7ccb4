import Foundation
@testable import ProfileModel
import Testing


/// The direct JSON reader and writer of `JSONValue` must agree with Foundation's JSONDecoder and
/// JSONEncoder, which they replace on the collector's hot path.
@Suite("JSONValue text")
struct JSONValueTextTests {
    static let valid: [String] = [
        #"{"a":1,"b":[true,null,"x",2.5],"c":{},"d":-7}"#,
        #"  {"nested": {"deep": [[[{"x": [1, 2, {"y": "z"}]}]]]}}  "#,
        #"[]"#, #"{}"#, #""plain""#, #"0"#, #"-0"#, #"1e3"#, #"-12.5E-2"#, #"1.7976931348623157e308"#, #"5e-324"#,
        #"123456789012345"#, #"0.1"#, #"true"#, #"false"#, #"null"#,
        #"{"esc": "q\"b\\s\/n\nr\rt\tb\bf\f u\u00e9 \u20ac \ud83d\ude00 \u0001"}"#,
        #"{"utf8": "Grüße, 日本語, 😀, e\u0301"}"#,
        "{\"ws\":\t[ 1 ,\r\n 2 ]\n}",
    ]

    @Test("parses like JSONDecoder", arguments: valid)
    func parsesLikeJSONDecoder(_ text: String) throws {
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try JSONValue.parse(text) == expected)
    }

    static let invalid: [(String, String)] = [
        (#"{"event": "Trunc"#, "unterminated string"),
        (#"{"a": 1"#, "unexpected end of data"),
        (#"{"a": 1,}"#, "expected a string key in an object"),
        (#"[1, 2,]"#, "unexpected character ']'"),
        (#"{a: 1}"#, "expected a string key in an object"),
        (#"{"a" 1}"#, "expected ':' after an object key"),
        (#"[1 2]"#, "expected ',' or ']' in an array"),
        (#"01"#, "unexpected data after the JSON value"),
        (#"1."#, "invalid number: digits must follow '.'"),
        (#"1e"#, "invalid number: digits must follow the exponent"),
        (#"-"#, "unexpected end of data"),
        (#"1e400"#, "number out of range"),
        (#"NaN"#, "unexpected character 'N'"),
        (#"tru"#, "unexpected end of data"),
        (#"trUe"#, "invalid literal (expected true)"),
        (#""\x""#, "invalid escape sequence in a string"),
        (#""\u12G4""#, #"invalid hex digit in a \u escape"#),
        (#""\ud800""#, #"unpaired surrogate in a \u escape"#),
        (#""\ud800\u0041""#, #"unpaired surrogate in a \u escape"#),
        (#""\udc00""#, #"unpaired surrogate in a \u escape"#),
        ("\"tab\there\"", "unescaped control character in a string"),
        ("", "unexpected end of data"),
        ("{} {}", "unexpected data after the JSON value"),
    ]

    /// JSONDecoder lets these through; RFC 8259 (and Segment's own API) does not.
    static let trailingCommas: Set<String> = [#"{"a": 1,}"#, #"[1, 2,]"#]

    @Test("refuses what JSONDecoder refuses (and trailing commas), saying what is wrong", arguments: invalid)
    func refuses(_ text: String, _ message: String) {
        if !Self.trailingCommas.contains(text) {
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) == nil)
        }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch let error as JSONValue.ParseError {
            #expect(error.message == message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a repeated key keeps its last value, as Postgres jsonb does")
    func repeatedKey() throws {
        #expect(try JSONValue.parse(#"{"dup": 1, "x": true, "dup": 2}"#) == ["dup": 2, "x": true])
    }

    @Test("refuses invalid UTF-8 inside and outside strings")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x7B, 0xFF, 0x7D],
                               [0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22]] {
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(bytes) }
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) == nil)
        }
    }

    @Test("refuses nesting deeper than the limit without exhausting the stack")
    func depth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONValue.ParseError(message: "nesting deeper than 512 levels", offset: 512)) { try JSONValue.parse(deep) }
        #expect(try JSONValue.parse("[[[1]]]", maxDepth: 3) == [[[1]]])
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("[[[[1]]]]", maxDepth: 3) }
    }

    @Test("writes text that JSONDecoder reads back as the same value", arguments: valid)
    func writesRoundTrip(_ text: String) throws {
        let value = try JSONValue.parse(text)
        let written = value.jsonText
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(written.utf8)) == value)
        #expect(try JSONValue.parse(written) == value)
    }

    @Test("writes numbers and escapes as JSONEncoder does")
    func writesLikeJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        for value: JSONValue in [1, -7, 0, 2.5, 0.1, 1e300, -1.5e-7, 123456789012345, "a\"b\\c\nd\re\tf\u{1}g/h", "😀 é", true, nil] {
            #expect(value.jsonText == String(decoding: try encoder.encode(value), as: UTF8.self))
        }
        #expect(JSONValue.number(.infinity).jsonText == "null")
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let answer: JSONValue = ["success": true, "received": 3, "dropped": ["bot": 1, "do_not_track": 2],
                                 "rejected": [["index": 1, "code": "x", "detail": "a/b \"q\""]], "a": [["z": 1, "b": nil]]]
        #expect(String(decoding: answer.sortedJSONBytes, as: UTF8.self) == String(decoding: try encoder.encode(answer), as: UTF8.self))
        #expect(JSONValue.object(["k": ["x": [1, "y"]]]).jsonText == #"{"k":{"x":[1,"y"]}}"#)
    }
}
