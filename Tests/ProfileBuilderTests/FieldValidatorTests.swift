import Foundation
@testable import ProfileModel
import Testing


/// A value a field type must accept, and the normalised form it must produce.
struct AcceptedFieldValue: Sendable, CustomTestStringConvertible {
    let input: JSONValue
    let output: JSONValue
    let rules: FieldRules

    init(_ input: JSONValue, _ output: JSONValue, _ rules: FieldRules = FieldRules()) {
        self.input = input
        self.output = output
        self.rules = rules
    }

    var testDescription: String { "\(input) → \(output)" }
}

/// A value a field type must refuse, and the error code it must give.
struct RejectedFieldValue: Sendable, CustomTestStringConvertible {
    let input: JSONValue
    let code: String
    let rules: FieldRules

    init(_ input: JSONValue, _ code: String, _ rules: FieldRules = FieldRules()) {
        self.input = input
        self.code = code
        self.rules = rules
    }

    var testDescription: String { "\(input) ✗ \(code)" }
}

// MARK: - Cases

enum FieldCases {
    // email
    static let usDefault = FieldRules(defaultCountry: "US")
    static let emailAccepted: [AcceptedFieldValue] = [
        .init(" Jane.Doe@Example.COM ", "jane.doe@example.com"),
        .init("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
        .init("o'brien@example.ie", "o'brien@example.ie"),
        .init("a@b.io", "a@b.io"),
        .init("user@xn--bcher-kva.xn--p1ai", "user@xn--bcher-kva.xn--p1ai"),
        .init("bob@eu.acme.com", "bob@eu.acme.com", FieldRules(allowedDomains: ["acme.com"])),
        .init("bob@acme.com", "bob@acme.com", FieldRules(blockedDomains: ["mailinator.com"])),
        .init("x@acme.com", "x@acme.com", FieldRules(regex: ".*@acme\\.com")),
    ]
    static let emailRejected: [RejectedFieldValue] = [
        .init("foo@", "invalid_format"),
        .init("foo", "invalid_format"),
        .init("@example.com", "invalid_format"),
        .init("a@@example.com", "invalid_format"),
        .init("a@b@example.com", "invalid_format"),
        .init("a b@example.com", "invalid_format"),
        .init("jane@ex ample.com", "invalid_format"),
        .init("a@example", "invalid_format"),
        .init("a@example.c", "invalid_format"),
        .init("a@example.c0m", "invalid_format"),
        .init(".a@example.com", "invalid_format"),
        .init("a..b@example.com", "invalid_format"),
        .init("a@-example.com", "invalid_format"),
        .init("a@example..com", "invalid_format"),
        .init("\"quoted\"@example.com", "invalid_format"),
        .init(.string(String(repeating: "a", count: 65) + "@example.com"), "invalid_format"),
        .init(.string(String(repeating: "a", count: 64) + "@" + String(repeating: String(repeating: "b", count: 60) + ".", count: 4) + "com"), "too_long"),
        .init(42, "wrong_type"),
        .init(nil, "wrong_type"),
        .init("x@mailinator.com", "blocked_domain", FieldRules(blockedDomains: ["mailinator.com"])),
        .init("x@eu.Mailinator.com", "blocked_domain", FieldRules(blockedDomains: ["mailinator.com"])),
        .init("x@gmail.com", "domain_not_allowed", FieldRules(allowedDomains: ["acme.com"])),
        .init("x@notacme.com", "domain_not_allowed", FieldRules(allowedDomains: ["acme.com"])),
        .init("x@other.com", "regex_mismatch", FieldRules(regex: ".*@acme\\.com")),
    ]

    // phone
    static let phoneAccepted: [AcceptedFieldValue] = [
        .init("+49 30 1234567", "+49301234567"),
        .init("+1.415.555.2671", "+14155552671"),
        .init("(415) 555-2671", "+14155552671", usDefault),
        .init("1-415-555-2671", "+14155552671", usDefault),
        .init("011 44 20 7946 0958", "+442079460958", usDefault),
        .init("0044 20 7946 0958", "+442079460958"),
        .init("+44 (0)20 7946 0958", "+442079460958"),
        .init("020 7946 0958", "+442079460958", FieldRules(defaultCountry: "GB")),
        .init("030 1234567", "+49301234567", FieldRules(defaultCountry: "DE")),
        .init("030/1234567", "+49301234567", FieldRules(defaultCountry: "de")),
        .init("06 12 34 56 78", "+33612345678", FieldRules(defaultCountry: "FR")),
        .init("06 1234 5678", "+390612345678", FieldRules(defaultCountry: "IT")),
        .init("8 (495) 123-45-67", "+74951234567", FieldRules(defaultCountry: "RU")),
        .init("+49 30 1234567", "+49301234567", usDefault),
        .init("+14155552671", "+14155552671", FieldRules(regex: "\\+1\\d{10}")),
    ]
    static let phoneRejected: [RejectedFieldValue] = [
        .init("+49 30 CALL-NOW", "invalid_format"),
        .init("415 555 2671 ext 5", "invalid_format", usDefault),
        .init("+49 30 +1234567", "invalid_format"),
        .init("555-2671", "missing_country_code"),
        .init("030 1234567", "missing_country_code"),
        .init("+49 123", "too_short"),
        .init("12 34", "too_short", FieldRules(defaultCountry: "DE")),
        .init("555 2671", "invalid_format", usDefault),
        .init("+49 1234 5678 9012 3456", "too_long"),
        .init(.string(String(repeating: "1", count: 50)), "too_long"),
        .init("+1 415 555 267", "invalid_format"),
        .init("+0 123 456 789", "invalid_format"),
        .init("030 1234567", "invalid_rules", FieldRules(defaultCountry: "ZZ")),
        .init(4155552671, "wrong_type", usDefault),
        .init("+442079460958", "regex_mismatch", FieldRules(regex: "\\+1\\d{10}")),
    ]

    // url
    static let lenient = FieldRules(format: "lenient")
    static let urlAccepted: [AcceptedFieldValue] = [
        .init("HTTPS://Example.COM/Path?Q=1#Frag", "https://example.com/Path?Q=1#Frag"),
        .init(" https://example.com ", "https://example.com"),
        .init("http://localhost:8080/health", "http://localhost:8080/health"),
        .init("https://192.168.0.1/admin", "https://192.168.0.1/admin"),
        .init("https://sub.example.co.uk/a/b", "https://sub.example.co.uk/a/b"),
        .init("https://MÜNCHEN.de", "https://münchen.de"),
        .init("example.com/pricing", "https://example.com/pricing", lenient),
        .init("http://example.com", "http://example.com", lenient),
    ]
    static let urlRejected: [RejectedFieldValue] = [
        .init("example.com", "invalid_format"),
        .init("ftp://example.com", "invalid_format"),
        .init("javascript:alert(1)", "invalid_format"),
        .init("javascript:alert(1)", "invalid_format", lenient),
        .init("mailto:jane@example.com", "invalid_format", lenient),
        .init("https://exa mple.com", "invalid_format"),
        .init("https://example", "invalid_format"),
        .init("https://user:pass@example.com", "invalid_format"),
        .init("https://bank.com@evil.io", "invalid_format"),
        .init("https://example.com:99999", "invalid_format"),
        .init("https://example.com:", "invalid_format"),
        .init("https://", "invalid_format"),
        .init("https://-bad-.com", "invalid_format"),
        .init(.string("https://example.com/" + String(repeating: "a", count: 2100)), "too_long"),
        .init(42, "wrong_type"),
        .init("https://evil.com/", "regex_mismatch", FieldRules(regex: "https://(www\\.)?acme\\.com/.*")),
    ]

    // text
    static let code = FieldRules(regex: "[A-Z]{2}-\\d{3}")
    static let textAccepted: [AcceptedFieldValue] = [
        .init("  Head of Growth  ", "Head of Growth"),
        .init("line1\r\nline2\ttab", "line1\nline2\ttab"),
        .init("Zoë 👩‍💻", "Zoë 👩‍💻"),
        .init("", ""),
        .init("Al", "Al", FieldRules(minLength: 2)),
        .init("👩‍💻ab", "👩‍💻ab", FieldRules(maxLength: 3)),
        .init(.string(String(repeating: "x", count: 1000)), .string(String(repeating: "x", count: 1000))),
        .init("AB-123", "AB-123", code),
        .init("ab", "ab", FieldRules(regex: "a|ab")),
    ]
    static let textRejected: [RejectedFieldValue] = [
        .init(5, "wrong_type"),
        .init(nil, "wrong_type"),
        .init(["a"], "wrong_type"),
        .init("bell\u{07}", "invalid_format"),
        .init("nul\u{00}byte", "invalid_format"),
        .init("a", "too_short", FieldRules(minLength: 2)),
        .init(.string(String(repeating: "x", count: 1001)), "too_long"),
        .init("abcd", "too_long", FieldRules(maxLength: 3)),
        .init("AB-1234", "regex_mismatch", code),
        .init("xAB-123", "regex_mismatch", code),
        .init("AB-123\n", "regex_mismatch", FieldRules(regex: "[A-Z]{2}-\\d{3}\\n")),
        .init("anything", "invalid_rules", FieldRules(regex: "([")),
    ]

    // number
    static let integer = FieldRules(format: "integer")
    static let numberAccepted: [AcceptedFieldValue] = [
        .init(42, 42),
        .init(12.5, 12.5),
        .init("1200", 1200),
        .init(" 12.5 ", 12.5),
        .init("-3", -3),
        .init("1e3", 1000),
        .init("-0", 0),
        .init(0, 0, FieldRules(min: 0)),
        .init(10, 10, integer),
        .init("10", 10, integer),
        .init(100, 100, FieldRules(min: 1, max: 100)),
    ]
    static let numberRejected: [RejectedFieldValue] = [
        .init("1,200", "invalid_format"),
        .init("12abc", "invalid_format"),
        .init("NaN", "invalid_format"),
        .init("inf", "invalid_format"),
        .init("0x10", "invalid_format"),
        .init("", "invalid_format"),
        .init("-", "invalid_format"),
        .init(true, "wrong_type"),
        .init([1], "wrong_type"),
        .init(nil, "wrong_type"),
        .init(5, "out_of_range", FieldRules(min: 10)),
        .init(101, "out_of_range", FieldRules(max: 100)),
        .init("1e400", "out_of_range"),
        .init(2.5, "invalid_format", integer),
    ]

    // date
    static let dateBounds = FieldRules(minDate: "2000-01-01", maxDate: "2030-12-31")
    static let dateAccepted: [AcceptedFieldValue] = [
        .init("2024-02-29", "2024-02-29"),
        .init("2000-02-29", "2000-02-29"),
        .init(" 2023-12-31 ", "2023-12-31"),
        .init("2024-03-01T23:30:00-05:00", "2024-03-01"),
        .init("2024-03-01T10:00:00Z", "2024-03-01"),
        .init("2024-03-01T10:00:00.123+0530", "2024-03-01"),
        .init("2024-03-01T10:00", "2024-03-01"),
        .init("2024-03-01 10:00:00", "2024-03-01"),
        .init("2000-01-01", "2000-01-01", dateBounds),
        .init("2030-12-31T23:59:59Z", "2030-12-31", dateBounds),
    ]
    static let dateRejected: [RejectedFieldValue] = [
        .init("2023-02-30", "invalid_format"),
        .init("2023-02-29", "invalid_format"),
        .init("1900-02-29", "invalid_format"),
        .init("2024-04-31", "invalid_format"),
        .init("2024-13-01", "invalid_format"),
        .init("2024-00-10", "invalid_format"),
        .init("0000-01-01", "invalid_format"),
        .init("2024-1-5", "invalid_format"),
        .init("03/01/2024", "invalid_format"),
        .init("2024-03-01T25:00", "invalid_format"),
        .init("2024-03-01T10:00:00+25:00", "invalid_format"),
        .init("2024-03-01T", "invalid_format"),
        .init("2024-03-01junk", "invalid_format"),
        .init(20240301, "wrong_type"),
        .init("1999-12-31", "out_of_range", dateBounds),
        .init("2031-01-01", "out_of_range", dateBounds),
        .init("2024-03-01", "invalid_rules", FieldRules(minDate: "yesterday")),
    ]

    // select
    static let departments = FieldRules(options: ["Engineering", "Sales", "C-Level"])
    static let selectAccepted: [AcceptedFieldValue] = [
        .init("Sales", "Sales", departments),
        .init("sales", "Sales", departments),
        .init(" ENGINEERING ", "Engineering", departments),
        .init("c-level", "C-Level", departments),
    ]
    static let selectRejected: [RejectedFieldValue] = [
        .init("Marketing", "not_an_option", departments),
        .init("", "not_an_option", departments),
        .init(3, "wrong_type", departments),
        .init("Sales", "invalid_rules"),
        .init("Sales", "invalid_rules", FieldRules(options: [])),
    ]

    // address
    static let addressAccepted: [AcceptedFieldValue] = [
        .init(
            ["street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "us"],
            ["street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"]),
        .init(["city": "Berlin", "country": "Germany"], ["city": "Berlin", "country": "DE"]),
        .init(
            ["city": "London", "postal_code": "SW1A 1AA", "country": "United Kingdom"],
            ["city": "London", "zip": "SW1A 1AA", "country": "GB"]),
        .init(["country": "UK"], ["country": "GB"]),
        .init(["country": "jp"], ["country": "JP"]),
        .init(["city": "  Paris  ", "street": "", "state": nil], ["city": "Paris"]),
        .init(["city": "Vaduz", "country": "Liechtenstein"], ["city": "Vaduz", "country": "Liechtenstein"]),
    ]
    static let addressRejected: [RejectedFieldValue] = [
        .init(["street": "1 Main St"], "missing_required"),
        .init([:], "missing_required"),
        .init(["city": "", "country": nil], "missing_required"),
        .init(["city": "Springfield", "planet": "Mars"], "unknown_key"),
        .init(["city": "Springfield", "zip": 62701], "wrong_type"),
        .init(.object(["city": .string(String(repeating: "x", count: 201))]), "too_long"),
        .init(["city": "Tab\tcity"], "invalid_format"),
        .init(["country": "ZZ"], "invalid_format"),
        .init(["city": "Berlin", "zip": "10115", "postal_code": "10115"], "invalid_format"),
        .init("Berlin", "wrong_type"),
    ]

    // company
    static let companyAccepted: [AcceptedFieldValue] = [
        .init("Acme Inc", ["name": "Acme Inc"]),
        .init(
            ["name": " Acme ", "size": 250, "industry": "Software", "revenue": 1_500_000, "domain": "https://www.Acme.com/about"],
            ["name": "Acme", "size": 250, "industry": "Software", "revenue": 1_500_000, "domain": "acme.com"]),
        .init(["name": "Acme", "size": "51-200"], ["name": "Acme", "size": "51-200"]),
        .init(["name": "Acme", "size": "1,001–5,000"], ["name": "Acme", "size": "1001-5000"]),
        .init(["name": "Acme", "size": "10,001+"], ["name": "Acme", "size": "10001+"]),
        .init(["name": "Acme", "size": "250"], ["name": "Acme", "size": 250]),
        .init(["name": "Acme", "revenue": "2500000.50"], ["name": "Acme", "revenue": 2_500_000.5]),
        .init(["name": "Acme", "revenue": 0], ["name": "Acme", "revenue": 0]),
        .init(["name": "Acme", "industry": nil, "domain": ""], ["name": "Acme"]),
    ]
    static let companyRejected: [RejectedFieldValue] = [
        .init(["size": 10], "missing_required"),
        .init("  ", "missing_required"),
        .init(["name": "Acme", "ceo": "Wile E."], "unknown_key"),
        .init(["name": 42], "wrong_type"),
        .init(["name": "Acme", "size": true], "wrong_type"),
        .init(["name": "Acme", "size": "200-51"], "invalid_format"),
        .init(["name": "Acme", "size": "lots"], "invalid_format"),
        .init(["name": "Acme", "size": "-5"], "invalid_format"),
        .init(["name": "Acme", "size": 0], "invalid_format"),
        .init(["name": "Acme", "size": 12.5], "invalid_format"),
        .init(["name": "Acme", "revenue": -5], "out_of_range"),
        .init(["name": "Acme", "revenue": "1,000"], "invalid_format"),
        .init(["name": "Acme", "revenue": "lots"], "invalid_format"),
        .init(["name": "Acme", "domain": "not a domain"], "invalid_format"),
        .init(.object(["name": .string(String(repeating: "x", count: 201))]), "too_long"),
        .init(42, "wrong_type"),
    ]

    // social
    static let githubOnly = FieldRules(networks: ["github"])
    static let socialAccepted: [AcceptedFieldValue] = [
        .init(["github": "octocat"], ["github": "https://github.com/octocat"]),
        .init(["github": "@octocat"], ["github": "https://github.com/octocat"]),
        .init(["github": "https://github.com/octocat/"], ["github": "https://github.com/octocat"]),
        .init(["github": "github.com/octocat", "twitter": nil], ["github": "https://github.com/octocat"]),
        .init(["twitter": "@jack"], ["twitter": "https://twitter.com/jack"]),
        .init(["x": "https://x.com/jack"], ["twitter": "https://twitter.com/jack"]),
        .init(["twitter": "https://mobile.twitter.com/jack?s=20"], ["twitter": "https://twitter.com/jack"]),
        .init(["linkedin": "https://www.linkedin.com/in/jane-doe-123/"], ["linkedin": "https://www.linkedin.com/in/jane-doe-123"]),
        .init(["linkedin": "linkedin.com/company/acme"], ["linkedin": "https://www.linkedin.com/company/acme"]),
        .init(["LinkedIn": "https://de.linkedin.com/in/jane?trk=x"], ["linkedin": "https://www.linkedin.com/in/jane"]),
        .init(["linkedin": "jane-doe"], ["linkedin": "https://www.linkedin.com/in/jane-doe"]),
        .init(
            ["github": "octocat", "twitter": "jack", "linkedin": "jane-doe"],
            ["github": "https://github.com/octocat", "twitter": "https://twitter.com/jack", "linkedin": "https://www.linkedin.com/in/jane-doe"]),
        .init(["github": "octocat"], ["github": "https://github.com/octocat"], githubOnly),
    ]
    static let socialRejected: [RejectedFieldValue] = [
        .init(["twitter": "https://github.com/jack"], "invalid_format"),
        .init(["linkedin": "https://evil-linkedin.com/in/jane"], "invalid_format"),
        .init(["github": "https://github.com/octocat/hello-world"], "invalid_format"),
        .init(["github": "ftp://github.com/octocat"], "invalid_format"),
        .init(["github": "-octocat"], "invalid_format"),
        .init(["github": "octo--cat"], "invalid_format"),
        .init(["twitter": "this_handle_is_too_long"], "invalid_format"),
        .init(["linkedin": "https://www.linkedin.com/feed/"], "invalid_format"),
        .init(["linkedin": "jo"], "invalid_format"),
        .init(["twitter": "jack", "x": "jill"], "invalid_format"),
        .init(["myspace": "tom"], "not_an_option"),
        .init(["twitter": "jack"], "not_an_option", githubOnly),
        .init(["github": "octocat"], "invalid_rules", FieldRules(networks: ["myspace"])),
        .init(["github": 5], "wrong_type"),
        .init("octocat", "wrong_type"),
        .init([:], "missing_required"),
        .init(["github": "  "], "missing_required"),
    ]

    // interest_tags
    static let hundredTags = (1...100).map { JSONValue.string("tag\($0)") }
    static let interestTagsAccepted: [AcceptedFieldValue] = [
        .init(["AI", " Machine  Learning ", "ai", "SaaS"], ["ai", "machine learning", "saas"]),
        .init("pricing, Enterprise ,, pricing", ["pricing", "enterprise"]),
        .init([], []),
        .init("", []),
        .init(.array(hundredTags + ["TAG1"]), .array(hundredTags)),
        .init(.array([.string(String(repeating: "x", count: 64))]), .array([.string(String(repeating: "x", count: 64))])),
    ]
    static let interestTagsRejected: [RejectedFieldValue] = [
        .init([1], "wrong_type"),
        .init(["ai", nil], "wrong_type"),
        .init(5, "wrong_type"),
        .init(["a": 1], "wrong_type"),
        .init(.array([.string(String(repeating: "x", count: 65))]), "too_long"),
        .init(.array(hundredTags + ["one more"]), "too_many"),
        .init(["a\u{07}b"], "invalid_format"),
    ]

    // engagement_score and lead_score share their rules
    static let scoreAccepted: [AcceptedFieldValue] = [
        .init(0, 0),
        .init(100, 100),
        .init(42.0, 42),
        .init("75", 75),
        .init(750, 750, FieldRules(max: 1000)),
    ]
    static let scoreRejected: [RejectedFieldValue] = [
        .init(101, "out_of_range"),
        .init(-1, "out_of_range"),
        .init(5, "out_of_range", FieldRules(min: 10)),
        .init(42.5, "invalid_format"),
        .init(42.5, "invalid_format", FieldRules(format: "decimal")),
        .init("high", "invalid_format"),
        .init(true, "wrong_type"),
    ]
}

// MARK: - Tests

@Suite("Field validation")
struct FieldValidatorTests {
    private func expectAccepted(_ example: AcceptedFieldValue, as type: FieldType) {
        let result = FieldValidator.normalize(example.input, as: type, rules: example.rules)
        #expect(result == .success(example.output), "\(type.rawValue) \(example.input)")
    }

    private func expectRejected(_ example: RejectedFieldValue, as type: FieldType) {
        switch FieldValidator.normalize(example.input, as: type, rules: example.rules) {
        case .success(let value):
            Issue.record("\(type.rawValue) \(example.input) was accepted as \(value), expected \(example.code)")
        case .failure(let error):
            #expect(error.code == example.code, "\(error.message)")
            #expect(error.message.hasPrefix("\(type.rawValue): "))
        }
    }

    @Test("email is trimmed, lower-cased and accepted", arguments: FieldCases.emailAccepted)
    func emailAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .email) }

    @Test("email with bad syntax or a refused domain is rejected", arguments: FieldCases.emailRejected)
    func emailRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .email) }

    @Test("phone is normalised to E.164", arguments: FieldCases.phoneAccepted)
    func phoneAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .phone) }

    @Test("phone with letters, bad length or no country is rejected", arguments: FieldCases.phoneRejected)
    func phoneRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .phone) }

    @Test("url scheme and host are lower-cased", arguments: FieldCases.urlAccepted)
    func urlAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .url) }

    @Test("url without http(s), a valid host or with credentials is rejected", arguments: FieldCases.urlRejected)
    func urlRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .url) }

    @Test("text is trimmed and line breaks unified", arguments: FieldCases.textAccepted)
    func textAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .text) }

    @Test("text outside its length, regex or with control characters is rejected", arguments: FieldCases.textRejected)
    func textRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .text) }

    @Test("number accepts JSON numbers and plain numeric strings", arguments: FieldCases.numberAccepted)
    func numberAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .number) }

    @Test("number that is malformed or out of range is rejected", arguments: FieldCases.numberRejected)
    func numberRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .number) }

    @Test("date is normalised to YYYY-MM-DD as written", arguments: FieldCases.dateAccepted)
    func dateAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .date) }

    @Test("date that does not exist or is out of bounds is rejected", arguments: FieldCases.dateRejected)
    func dateRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .date) }

    @Test("select matches options ignoring case and keeps their spelling", arguments: FieldCases.selectAccepted)
    func selectAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .select) }

    @Test("select value outside the options is rejected", arguments: FieldCases.selectRejected)
    func selectRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .select) }

    @Test("address parts are trimmed and the country made an ISO code", arguments: FieldCases.addressAccepted)
    func addressAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .address) }

    @Test("address without city or country, or with bad parts, is rejected", arguments: FieldCases.addressRejected)
    func addressRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .address) }

    @Test("company is normalised from a name or an object", arguments: FieldCases.companyAccepted)
    func companyAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .company) }

    @Test("company without a name or with bad parts is rejected", arguments: FieldCases.companyRejected)
    func companyRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .company) }

    @Test("social handles and URLs become canonical profile URLs", arguments: FieldCases.socialAccepted)
    func socialAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .social) }

    @Test("social profile on the wrong host or an unsupported network is rejected", arguments: FieldCases.socialRejected)
    func socialRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .social) }

    @Test("interest_tags are lower-cased and deduplicated in order", arguments: FieldCases.interestTagsAccepted)
    func interestTagsAccepted(_ example: AcceptedFieldValue) { expectAccepted(example, as: .interestTags) }

    @Test("interest_tags that are not strings, too long or too many are rejected", arguments: FieldCases.interestTagsRejected)
    func interestTagsRejected(_ example: RejectedFieldValue) { expectRejected(example, as: .interestTags) }

    @Test("scores are whole numbers from 0 to 100 by default",
          arguments: [FieldType.engagementScore, .leadScore], FieldCases.scoreAccepted)
    func scoreAccepted(_ type: FieldType, _ example: AcceptedFieldValue) { expectAccepted(example, as: type) }

    @Test("scores that are fractional or out of range are rejected",
          arguments: [FieldType.engagementScore, .leadScore], FieldCases.scoreRejected)
    func scoreRejected(_ type: FieldType, _ example: RejectedFieldValue) { expectRejected(example, as: type) }

    @Test("error message describes the problem and quotes the value")
    func errorMessageQuotesValue() {
        let error = FieldValidator.normalize("foo@", as: .email).failure
        #expect(error == FieldValidationError(code: "invalid_format", message: "email: 'foo@' is not a valid email address"))
        #expect(error?.description == error?.message)
    }

    @Test("error message cuts the offending value to 64 characters")
    func errorMessageTruncatesValue() throws {
        let long = String(repeating: "x", count: 64) + "TAIL"
        let error = try #require(FieldValidator.normalize(.string(long), as: .text, rules: FieldRules(maxLength: 10)).failure)
        #expect(error.message.contains(String(repeating: "x", count: 64) + "…"))
        #expect(!error.message.contains("TAIL"))
    }

    @Test("default rules cap text at 1000 characters and scores at 0...100")
    func defaultRules() {
        #expect(FieldValidator.defaultRules(for: .text).maxLength == 1000)
        #expect(FieldValidator.defaultRules(for: .leadScore) == FieldRules(format: "integer", min: 0, max: 100))
        #expect(FieldValidator.defaultRules(for: .email) == FieldRules())
    }

    @Test("field types have the 13 snake_case names of the spec")
    func fieldTypeNames() {
        #expect(FieldType.allCases.map(\.rawValue) == [
            "email", "phone", "url", "text", "number", "date", "select", "address", "company", "social",
            "interest_tags", "engagement_score", "lead_score",
        ])
    }

    @Test("field rules round-trip through JSON")
    func fieldRulesCodable() throws {
        let rules = FieldRules(regex: "a+", min: 1, options: ["x"], defaultCountry: "DE", networks: ["github"], maxDate: "2030-01-01")
        let decoded = try JSONDecoder().decode(FieldRules.self, from: try JSONEncoder().encode(rules))
        #expect(decoded == rules)
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test("JSON decodes into JSONValue with integers as numbers and re-encodes the same")
    func roundTrip() throws {
        let json = #"{"a":1,"b":[true,null,"x",2.5],"c":{},"d":-7}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(value == ["a": 1, "b": [true, nil, "x", 2.5], "c": [:], "d": -7])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(value), as: UTF8.self) == json)
    }

    @Test("accessors return the payload of the matching case only")
    func accessors() {
        let value: JSONValue = ["name": "Ada", "age": 36, "tags": ["x"], "ok": true, "none": nil, "pi": 3.5]
        #expect(value["name"]?.stringValue == "Ada")
        #expect(value["age"]?.doubleValue == 36)
        #expect(value["age"]?.intValue == 36)
        #expect(value["pi"]?.intValue == nil)
        #expect(value["tags"]?.arrayValue == ["x"])
        #expect(value["ok"]?.boolValue == true)
        #expect(value["none"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value.objectValue?.count == 6)
        #expect(value["name"]?.doubleValue == nil)
        #expect(JSONValue.string("x").objectValue == nil)
    }

    @Test("description is compact JSON with sorted keys")
    func description() {
        let value: JSONValue = ["b": [1, 2.5, "q\"uote"], "a": nil, "c": true]
        #expect(value.description == #"{"a":null,"b":[1,2.5,"q\"uote"],"c":true}"#)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
