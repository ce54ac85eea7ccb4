import Foundation

/// Why a value was refused: a stable machine-readable `code` and a `message` a person can act on.
///
/// Codes: `wrong_type`, `invalid_format`, `out_of_range`, `not_an_option`, `too_short`,
/// `too_long`, `too_many`, `regex_mismatch`, `blocked_domain`, `domain_not_allowed`,
/// `unknown_key`, `missing_required`, `missing_country_code`, and `invalid_rules` when the
/// field's own rules are unusable (a regex that does not compile, a select without options).
public struct FieldValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    /// Starts with the field type (`"email: 'foo@' is not a valid email address"`); the caller
    /// prefixes the field name.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Checks a profile field value against its type and rules and returns it in canonical form,
/// so equal values are stored identically whichever way they were typed.
public enum FieldValidator {
    /// The normalised value, or the first problem found.
    public static func normalize(
        _ value: JSONValue, as type: FieldType, rules: FieldRules = FieldRules()
    ) -> Result<JSONValue, FieldValidationError> {
        let rules = effectiveRules(rules, for: type)
        do {
            return .success(try normalizeThrowing(value, as: type, rules: rules))
        } catch {
            return .failure(error)
        }
    }

    /// The rules a type applies when a field definition leaves them unset.
    public static func defaultRules(for type: FieldType) -> FieldRules {
        switch type {
        case .text: FieldRules(maxLength: 1000)
        case .url: FieldRules(maxLength: 2048)
        case .engagementScore, .leadScore: FieldRules(format: "integer", min: 0, max: 100)
        case .email, .phone, .number, .date, .select, .address, .company, .social, .interestTags:
            FieldRules()
        }
    }

    /// Fills every rule the caller left nil from the type's defaults, so a field that only sets
    /// `max` on a score still keeps `min: 0`.
    private static func effectiveRules(_ rules: FieldRules, for type: FieldType) -> FieldRules {
        let defaults = defaultRules(for: type)
        var merged = rules
        merged.regex = rules.regex ?? defaults.regex
        merged.format = rules.format ?? defaults.format
        merged.min = rules.min ?? defaults.min
        merged.max = rules.max ?? defaults.max
        merged.minLength = rules.minLength ?? defaults.minLength
        merged.maxLength = rules.maxLength ?? defaults.maxLength
        merged.options = rules.options ?? defaults.options
        merged.defaultCountry = rules.defaultCountry ?? defaults.defaultCountry
        merged.allowedDomains = rules.allowedDomains ?? defaults.allowedDomains
        merged.blockedDomains = rules.blockedDomains ?? defaults.blockedDomains
        merged.networks = rules.networks ?? defaults.networks
        merged.minDate = rules.minDate ?? defaults.minDate
        merged.maxDate = rules.maxDate ?? defaults.maxDate
        return merged
    }

    private static func normalizeThrowing(
        _ value: JSONValue, as type: FieldType, rules: FieldRules
    ) throws(FieldValidationError) -> JSONValue {
        switch type {
        case .email: try normalizeEmail(value, rules)
        case .phone: try normalizePhone(value, rules)
        case .url: try normalizeURL(value, rules)
        case .text: try normalizeText(value, rules)
        case .number: try normalizeNumber(value, rules, type: .number, integral: rules.format == "integer")
        // Scores are computed counts on a fixed scale, so a fraction means a bug upstream.
        case .engagementScore, .leadScore: try normalizeNumber(value, rules, type: type, integral: true)
        case .date: try normalizeDate(value, rules)
        case .select: try normalizeSelect(value, rules)
        case .address: try normalizeAddress(value)
        case .company: try normalizeCompany(value)
        case .social: try normalizeSocial(value, rules)
        case .interestTags: try normalizeInterestTags(value)
        }
    }
}

// MARK: - Errors and shared checks

extension FieldValidator {
    private enum Code: String {
        case wrongType = "wrong_type"
        case invalidFormat = "invalid_format"
        case outOfRange = "out_of_range"
        case notAnOption = "not_an_option"
        case tooShort = "too_short"
        case tooLong = "too_long"
        case tooMany = "too_many"
        case regexMismatch = "regex_mismatch"
        case blockedDomain = "blocked_domain"
        case domainNotAllowed = "domain_not_allowed"
        case unknownKey = "unknown_key"
        case missingRequired = "missing_required"
        case missingCountryCode = "missing_country_code"
        case invalidRules = "invalid_rules"
    }

    private static func failure(_ type: FieldType, _ code: Code, _ detail: String) -> FieldValidationError {
        FieldValidationError(code: code.rawValue, message: "\(type.rawValue): \(detail)")
    }

    /// The offending value for a message, cut to 64 characters so a pasted essay or a huge
    /// object cannot flood logs and API responses.
    private static func show(_ value: JSONValue) -> String {
        switch value {
        case .string(let string): "'\(truncated(string))'"
        default: truncated(value.description)
        }
    }

    private static func show(_ string: String) -> String { show(.string(string)) }

    private static func truncated(_ string: String) -> String {
        string.count > 64 ? String(string.prefix(64)) + "…" : string
    }

    /// The value as a trimmed string; anything else is `wrong_type`.
    private static func trimmedString(_ value: JSONValue, _ type: FieldType) throws(FieldValidationError) -> String {
        guard case .string(let string) = value else {
            throw failure(type, .wrongType, "expected a string, got \(show(value))")
        }
        return string.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Control characters break CSV exports, terminals and HTML; tab and newline are the only
    /// ones people type on purpose.
    private static func hasControlCharacters(_ string: String, allowingTabAndNewline: Bool) -> Bool {
        string.unicodeScalars.contains { scalar in
            guard scalar.properties.generalCategory == .control else { return false }
            return !(allowingTabAndNewline && (scalar == "\n" || scalar == "\t"))
        }
    }

    /// Applies `rules.regex` to the whole string. The pattern is wrapped in `\A(?:…)\z` because
    /// an anchored first match is not a whole match (`a|ab` matches only "a" of "ab").
    private static func checkRegex(_ string: String, _ rules: FieldRules, _ type: FieldType) throws(FieldValidationError) {
        guard let pattern = rules.regex else { return }
        let regex: NSRegularExpression
        do {
            regex = try NSRegularExpression(pattern: "\\A(?:\(pattern))\\z")
        } catch {
            throw failure(type, .invalidRules, "the field's regex \(show(pattern)) does not compile")
        }
        let range = NSRange(string.startIndex..., in: string)
        guard regex.firstMatch(in: string, range: range) != nil else {
            throw failure(type, .regexMismatch, "\(show(string)) does not match the pattern \(show(pattern))")
        }
    }

    private static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private static func isAllASCIIDigits(_ string: Substring) -> Bool {
        !string.isEmpty && string.unicodeScalars.allSatisfy(isASCIIDigit)
    }

    /// A DNS host name of at least two labels whose last label (the TLD) is letters only or
    /// punycode, which rules out typos like "gmail.c0m" and bare IP addresses.
    /// Expects lower-case input; `allowUnicode` admits internationalised labels as browsers do.
    private static func isValidDomain(_ host: String, allowUnicode: Bool) -> Bool {
        guard host.utf8.count <= 253 else { return false }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, let tld = labels.last else { return false }
        for label in labels {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            let validCharacters = label.unicodeScalars.allSatisfy { scalar in
                isASCIILetter(scalar) || isASCIIDigit(scalar) || scalar == "-"
                    || (allowUnicode && !scalar.isASCII && scalar.properties.isAlphabetic)
            }
            guard validCharacters else { return false }
        }
        if tld.hasPrefix("xn--") { return tld.count >= 5 }
        return tld.count >= 2 && tld.unicodeScalars.allSatisfy { isASCIILetter($0) || (allowUnicode && !$0.isASCII) }
    }
}

// MARK: - email

extension FieldValidator {
    /// email: trimmed and lower-cased (mail providers treat addresses case-insensitively, and one
    /// spelling lets profiles merge); `local@domain.tld`, at most 254 octets (the SMTP limit);
    /// ASCII only, since many mail systems still reject SMTPUTF8. "Domain verification" is
    /// syntactic plus the field's allowed/blocked lists: a DNS lookup here would make validation
    /// slow and flaky.
    private static func normalizeEmail(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        let raw = try trimmedString(value, .email)
        guard raw.utf8.count <= 254 else {
            throw failure(.email, .tooLong, "\(show(raw)) is longer than 254 characters")
        }
        let email = raw.lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, isValidLocalPart(parts[0]), isValidDomain(String(parts[1]), allowUnicode: false) else {
            throw failure(.email, .invalidFormat, "\(show(raw)) is not a valid email address")
        }
        let domain = String(parts[1])
        if let blocked = rules.blockedDomains, let match = matchingDomain(domain, in: blocked) {
            throw failure(.email, .blockedDomain, "\(show(raw)) is at the blocked domain \(show(match))")
        }
        if let allowed = rules.allowedDomains, !allowed.isEmpty, matchingDomain(domain, in: allowed) == nil {
            throw failure(.email, .domainNotAllowed, "\(show(email)) is not at one of the allowed domains")
        }
        try checkRegex(email, rules, .email)
        return .string(email)
    }

    /// RFC 5322 dot-atom: the unquoted form every real-world address uses.
    private static func isValidLocalPart(_ local: Substring) -> Bool {
        guard (1...64).contains(local.utf8.count), local.first != ".", local.last != ".", !local.contains("..")
        else { return false }
        return local.unicodeScalars.allSatisfy { scalar in
            isASCIILetter(scalar) || isASCIIDigit(scalar) || "!#$%&'*+/=?^_`{|}~.-".unicodeScalars.contains(scalar)
        }
    }

    /// The list entry `domain` falls under (itself or a parent domain), so blocking
    /// "example.com" also blocks "mail.example.com".
    private static func matchingDomain(_ domain: String, in list: [String]) -> String? {
        list.first { entry in
            let entry = entry.trimmingCharacters(in: .whitespaces).lowercased()
                .trimmingCharacters(in: CharacterSet(charactersIn: "@."))
            return !entry.isEmpty && (domain == entry || domain.hasSuffix("." + entry))
        }
    }
}

// MARK: - phone

extension FieldValidator {
    /// phone: normalised to E.164 (`+` and 8–15 digits). Separators (space - . ( ) /) are
    /// dropped; a number written without `+`/`00` needs `rules.defaultCountry`, whose trunk
    /// prefix (the national "0", or "1" in North America) is removed. Letters are refused rather
    /// than mapped from vanity spellings or read as extensions, which would store a different number.
    private static func normalizePhone(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        let raw = try trimmedString(value, .phone)
        guard raw.count <= 40 else {
            throw failure(.phone, .tooLong, "\(show(raw)) is too long for a phone number")
        }
        let international = raw.hasPrefix("+") || raw.hasPrefix("00")
        // "+44 (0)20 …" marks the trunk 0 that is dialled only nationally.
        var body = international ? raw.replacingOccurrences(of: "(0)", with: "") : raw
        if body.hasPrefix("+") { body.removeFirst() }

        var digits = ""
        for scalar in body.unicodeScalars {
            if isASCIIDigit(scalar) {
                digits.unicodeScalars.append(scalar)
            } else if !" -.()/\u{00A0}".unicodeScalars.contains(scalar) {
                throw failure(.phone, .invalidFormat, "\(show(raw)) may only contain digits, separators and a leading +")
            }
        }

        let country = rules.defaultCountry.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
        let countryInfo = country.flatMap { CountryInfo.byCode[$0] }
        if country != nil, countryInfo == nil {
            throw failure(.phone, .invalidRules, "the field's default country \(show(country ?? "")) is not supported")
        }

        if raw.hasPrefix("+") {
            // Already international.
        } else if digits.hasPrefix("00") {
            digits.removeFirst(2)
        } else if countryInfo?.callingCode == "1", digits.hasPrefix("011") {
            // North America dials abroad with 011 instead of 00.
            digits.removeFirst(3)
        } else if let countryInfo {
            if let trunk = countryInfo.trunkPrefix, digits.hasPrefix(trunk) {
                digits.removeFirst(trunk.count)
            }
            digits = countryInfo.callingCode + digits
        } else {
            throw failure(.phone, .missingCountryCode, "\(show(raw)) has no country code; write it as +<country code> …")
        }

        guard digits.first != "0" else {
            throw failure(.phone, .invalidFormat, "\(show(raw)) does not start with a valid country code")
        }
        guard digits.count >= 8 else {
            throw failure(.phone, .tooShort, "\(show(raw)) has too few digits for a phone number")
        }
        guard digits.count <= 15 else {
            throw failure(.phone, .tooLong, "\(show(raw)) has more than the 15 digits a phone number can have")
        }
        // Every North American number is 1 + a 10-digit national number.
        if digits.hasPrefix("1"), digits.count != 11 {
            throw failure(.phone, .invalidFormat, "\(show(raw)) is not a valid North American number (+1 and 10 digits)")
        }
        let e164 = "+" + digits
        try checkRegex(e164, rules, .phone)
        return .string(e164)
    }
}

// MARK: - url

extension FieldValidator {
    /// The parts of an http(s) URL that normalisation touches.
    private struct HTTPURL {
        var scheme: String
        var host: String
        var port: String?
        /// Path, query and fragment, exactly as given.
        var rest: String

        var string: String { scheme + "://" + host + (port.map { ":" + $0 } ?? "") + rest }
    }

    /// url: http or https only (other schemes such as javascript: are unsafe to render as
    /// links); the host has a dot (a domain with a letter TLD, or an IPv4 address) or is
    /// localhost; no embedded credentials, which are a phishing device ("https://bank.com@evil.io").
    /// Scheme and host are lower-cased (both are case-insensitive); path and query are kept as
    /// given because servers may treat them case-sensitively. `format: "lenient"` adds a missing
    /// "https://". At most `maxLength` (default 2048) characters.
    private static func normalizeURL(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        let raw = try trimmedString(value, .url)
        if let maxLength = rules.maxLength, raw.count > maxLength {
            throw failure(.url, .tooLong, "\(show(raw)) is longer than \(maxLength) characters")
        }
        let url = try parseHTTPURL(raw, lenient: rules.format == "lenient", type: .url).string
        try checkRegex(url, rules, .url)
        return .string(url)
    }

    private static func parseHTTPURL(_ raw: String, lenient: Bool, type: FieldType) throws(FieldValidationError) -> HTTPURL {
        guard !raw.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else {
            throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL (it contains spaces or control characters)")
        }
        var text = raw
        if text.range(of: "://") == nil {
            guard lenient else {
                throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL (it must start with http:// or https://)")
            }
            text = "https://" + text
        }
        guard let separator = text.range(of: "://") else {
            throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL")
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL (only http and https are allowed)")
        }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex { "/?#".contains($0) } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard !authority.contains("@") else {
            throw failure(type, .invalidFormat, "\(show(raw)) is not accepted (URLs with a user name or password are refused)")
        }
        var host = Substring(authority)
        var port: String?
        if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            let portText = authority[authority.index(after: colon)...]
            guard isAllASCIIDigits(portText), portText.count <= 5, let number = Int(portText), (1...65535).contains(number) else {
                throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL (bad port)")
            }
            port = String(portText)
        }
        let lowerHost = host.lowercased()
        guard lowerHost == "localhost" || isIPv4(lowerHost) || isValidDomain(lowerHost, allowUnicode: true) else {
            throw failure(type, .invalidFormat, "\(show(raw)) is not a valid URL (bad host \(show(String(host))))")
        }
        return HTTPURL(scheme: scheme, host: lowerHost, port: port, rest: String(afterScheme[authorityEnd...]))
    }

    private static func isIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            isAllASCIIDigits(part) && part.count <= 3 && (Int(part) ?? 256) <= 255
        }
    }
}

// MARK: - text

extension FieldValidator {
    /// text: trimmed; Windows/old-Mac line breaks become "\n" (browsers submit textareas with
    /// CRLF); other control characters are refused; length in user-perceived characters between
    /// `minLength` and `maxLength` (default 1000); `regex` must match the whole text.
    private static func normalizeText(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        let text = try trimmedString(value, .text)
            .replacingOccurrences(of: "\r\n", with: "\n")
            .replacingOccurrences(of: "\r", with: "\n")
        guard !hasControlCharacters(text, allowingTabAndNewline: true) else {
            throw failure(.text, .invalidFormat, "\(show(text)) contains control characters")
        }
        if let minLength = rules.minLength, text.count < minLength {
            throw failure(.text, .tooShort, "\(show(text)) is shorter than \(minLength) characters")
        }
        if let maxLength = rules.maxLength, text.count > maxLength {
            throw failure(.text, .tooLong, "\(show(text)) is longer than \(maxLength) characters")
        }
        try checkRegex(text, rules, .text)
        return .string(text)
    }
}

// MARK: - number, engagement_score, lead_score

extension FieldValidator {
    /// number: a JSON number or a plain numeric string ("1200", "-12.5", "1e3"); thousands
    /// separators are refused because "1,200" reads as 1.2 in much of Europe. Within `min`/`max`;
    /// `format: "integer"` requires a whole number. Scores use the same checks, always integral,
    /// with 0...100 as default bounds.
    private static func normalizeNumber(
        _ value: JSONValue, _ rules: FieldRules, type: FieldType, integral: Bool
    ) throws(FieldValidationError) -> JSONValue {
        let number = try parseNumber(value, type, label: nil)
        if integral, number.rounded() != number {
            throw failure(type, .invalidFormat, "\(show(value)) is not a whole number")
        }
        if let min = rules.min, number < min {
            throw failure(type, .outOfRange, "\(show(value)) is less than the minimum \(JSONValue.number(min))")
        }
        if let max = rules.max, number > max {
            throw failure(type, .outOfRange, "\(show(value)) is greater than the maximum \(JSONValue.number(max))")
        }
        // -0 and 0 are the same value; store one of them.
        return .number(number == 0 ? 0 : number)
    }

    /// A finite number from a JSON number or numeric string; `label` names the part of a
    /// structured value being read, for the message.
    private static func parseNumber(_ value: JSONValue, _ type: FieldType, label: String?) throws(FieldValidationError) -> Double {
        let what = label.map { "\($0) " } ?? ""
        let number: Double
        switch value {
        case .number(let double):
            number = double
        case .string(let string):
            let text = string.trimmingCharacters(in: .whitespaces)
            // Double(_:) alone would also accept "nan", "inf" and hex floats.
            let plain = text.unicodeScalars.allSatisfy { isASCIIDigit($0) || "+-.eE".unicodeScalars.contains($0) }
                && text.unicodeScalars.contains(where: isASCIIDigit)
            guard plain, let double = Double(text) else {
                throw failure(type, .invalidFormat, "\(what)\(show(value)) is not a number (use digits without thousands separators)")
            }
            number = double
        default:
            throw failure(type, .wrongType, "expected \(what.isEmpty ? "" : "\(what)to be ")a number, got \(show(value))")
        }
        guard number.isFinite else {
            throw failure(type, .outOfRange, "\(what)\(show(value)) is too large")
        }
        return number
    }
}

// MARK: - date

extension FieldValidator {
    /// date: `YYYY-MM-DD`, or an ISO 8601 date-time whose date part is kept as written (the
    /// field holds a calendar day such as a founding date; shifting it to UTC would move
    /// "2024-03-01T23:00-05:00" to the wrong day). The day must exist (no 2023-02-30) and lie
    /// within `minDate`/`maxDate` when given.
    private static func normalizeDate(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        let raw = try trimmedString(value, .date)
        guard let date = parseISODate(raw) else {
            throw failure(.date, .invalidFormat, "\(show(raw)) is not a valid date (expected YYYY-MM-DD)")
        }
        if let bound = try dateBound(rules.minDate), date < bound {
            throw failure(.date, .outOfRange, "\(show(raw)) is before \(bound)")
        }
        if let bound = try dateBound(rules.maxDate), date > bound {
            throw failure(.date, .outOfRange, "\(show(raw)) is after \(bound)")
        }
        return .string(date)
    }

    private static func dateBound(_ rule: String?) throws(FieldValidationError) -> String? {
        guard let rule else { return nil }
        guard let date = parseISODate(rule.trimmingCharacters(in: .whitespaces)) else {
            throw failure(.date, .invalidRules, "the field's date bound \(show(rule)) is not a valid YYYY-MM-DD date")
        }
        return date
    }

    /// The `YYYY-MM-DD` date of an ISO 8601 date or date-time, or nil. Zero-padded output
    /// compares correctly as a string, which is how the bounds are checked.
    private static func parseISODate(_ text: String) -> String? {
        var scanner = DigitScanner(text)
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
              let month = scanner.number(digits: 2), scanner.skip("-"),
              let day = scanner.number(digits: 2),
              year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        if !scanner.isAtEnd {
            // A time must follow: THH:MM[:SS[.fraction]] then Z or ±HH[:MM] or nothing.
            guard scanner.skip("T") || scanner.skip("t") || scanner.skip(" "),
                  let hour = scanner.number(digits: 2), hour <= 23, scanner.skip(":"),
                  let minute = scanner.number(digits: 2), minute <= 59
            else { return nil }
            if scanner.skip(":") {
                guard let second = scanner.number(digits: 2), second <= 60 else { return nil }  // 60: leap second
                if scanner.skip(".") || scanner.skip(",") {
                    guard scanner.digitRun() > 0 else { return nil }
                }
            }
            if scanner.skip("Z") || scanner.skip("z") {
                // UTC
            } else if scanner.skip("+") || scanner.skip("-") {
                guard let offsetHours = scanner.number(digits: 2), offsetHours <= 23 else { return nil }
                let hasColon = scanner.skip(":")
                if hasColon || !scanner.isAtEnd {
                    guard let offsetMinutes = scanner.number(digits: 2), offsetMinutes <= 59 else { return nil }
                }
            }
            guard scanner.isAtEnd else { return nil }
        }
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func pad(_ number: Int, _ width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Reads fixed-width ASCII fields, which is all ISO 8601 needs and avoids the leniency of
    /// DateFormatter (which rolls 2023-02-30 over to March).
    private struct DigitScanner {
        private let scalars: [Unicode.Scalar]
        private var position = 0

        init(_ text: String) { scalars = Array(text.unicodeScalars) }

        var isAtEnd: Bool { position == scalars.count }

        mutating func skip(_ scalar: Unicode.Scalar) -> Bool {
            guard position < scalars.count, scalars[position] == scalar else { return false }
            position += 1
            return true
        }

        mutating func number(digits count: Int) -> Int? {
            guard position + count <= scalars.count else { return nil }
            var result = 0
            for scalar in scalars[position..<position + count] {
                guard ("0"..."9").contains(scalar) else { return nil }
                result = result * 10 + Int(scalar.value - 48)
            }
            position += count
            return result
        }

        /// Skips a run of digits and returns its length.
        mutating func digitRun() -> Int {
            let start = position
            while position < scalars.count, ("0"..."9").contains(scalars[position]) { position += 1 }
            return position - start
        }
    }
}

// MARK: - select

extension FieldValidator {
    /// select: a string equal to one of `options` ignoring case, stored with the option's own
    /// spelling so reports group "CEO" and "ceo" together.
    private static func normalizeSelect(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        guard let options = rules.options, !options.isEmpty else {
            throw failure(.select, .invalidRules, "the field has no options to choose from")
        }
        let choice = try trimmedString(value, .select)
        guard let option = options.first(where: { $0.caseInsensitiveCompare(choice) == .orderedSame }) else {
            let listed = options.prefix(10).joined(separator: ", ") + (options.count > 10 ? ", …" : "")
            throw failure(.select, .notAnOption, "\(show(choice)) is not one of: \(listed)")
        }
        return .string(option)
    }
}

// MARK: - Structured values (address, company)

extension FieldValidator {
    private static let maxPartLength = 200

    /// The members of an object value after refusing keys outside `allowed` (a misspelt key
    /// would otherwise silently drop data) and dropping null or blank members, which forms
    /// send for fields left empty.
    private static func members(
        _ value: JSONValue, allowed: Set<String>, _ type: FieldType
    ) throws(FieldValidationError) -> [String: JSONValue] {
        guard case .object(let object) = value else {
            throw failure(type, .wrongType, "expected an object, got \(show(value))")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw failure(type, .unknownKey, "unknown key \(show(unknown)); allowed keys are \(allowed.sorted().joined(separator: ", "))")
        }
        return object.filter { _, member in
            switch member {
            case .null: false
            case .string(let string): !string.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            default: true
            }
        }
    }

    /// A trimmed text part of a structured value: at most 200 characters, no control characters.
    private static func part(_ value: JSONValue, key: String, _ type: FieldType) throws(FieldValidationError) -> String {
        guard case .string(let string) = value else {
            throw failure(type, .wrongType, "expected \(key) to be a string, got \(show(value))")
        }
        let text = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= maxPartLength else {
            throw failure(type, .tooLong, "\(key) \(show(text)) is longer than \(maxPartLength) characters")
        }
        guard !hasControlCharacters(text, allowingTabAndNewline: false) else {
            throw failure(type, .invalidFormat, "\(key) \(show(text)) contains control characters")
        }
        return text
    }

    /// address: object of street, city, state, zip (or postal_code, stored as zip) and country,
    /// all strings; city or country is required because a street alone locates nothing.
    /// Country names and codes become ISO 3166-1 alpha-2 where known (so "Germany", "de" and
    /// "DE" match); a two-letter value must be a real code; other names are kept as given.
    private static func normalizeAddress(_ value: JSONValue) throws(FieldValidationError) -> JSONValue {
        let fields = try members(value, allowed: ["street", "city", "state", "zip", "postal_code", "country"], .address)
        if fields["zip"] != nil, fields["postal_code"] != nil {
            throw failure(.address, .invalidFormat, "give either zip or postal_code, not both")
        }
        var result: [String: JSONValue] = [:]
        for (key, member) in fields {
            let text = try part(member, key: key, .address)
            result[key == "postal_code" ? "zip" : key] = .string(text)
        }
        if case .string(let country)? = result["country"] {
            result["country"] = .string(try normalizeCountry(country))
        }
        guard result["city"] != nil || result["country"] != nil else {
            throw failure(.address, .missingRequired, "an address needs at least a city or a country")
        }
        return .object(result)
    }

    private static func normalizeCountry(_ country: String) throws(FieldValidationError) -> String {
        if let info = CountryInfo.byName[country.lowercased()] { return info.code }
        guard country.count == 2, country.unicodeScalars.allSatisfy(isASCIILetter) else { return country }
        let code = country.uppercased()
        guard CountryInfo.isoCodes.contains(code) else {
            throw failure(.address, .invalidFormat, "country \(show(country)) is not an ISO 3166 country code")
        }
        return code
    }

    /// company: an object of name (required), size, industry, revenue and domain, or a bare
    /// string taken as the name. size is a head count or a bucket such as "51-200" or "10001+"
    /// (commas are dropped because LinkedIn writes "1,001-5,000"); revenue is a number ≥ 0;
    /// domain is reduced to a bare lower-case host without "www." so it can match email domains.
    private static func normalizeCompany(_ value: JSONValue) throws(FieldValidationError) -> JSONValue {
        let fields: [String: JSONValue]
        if case .string = value {
            fields = ["name": value]
        } else {
            fields = try members(value, allowed: ["name", "size", "industry", "revenue", "domain"], .company)
        }
        guard let nameValue = fields["name"] else {
            throw failure(.company, .missingRequired, "a company needs a name")
        }
        var result: [String: JSONValue] = ["name": .string(try part(nameValue, key: "name", .company))]
        guard result["name"] != .string("") else {
            throw failure(.company, .missingRequired, "a company needs a name")
        }
        if let industry = fields["industry"] {
            result["industry"] = .string(try part(industry, key: "industry", .company))
        }
        if let size = fields["size"] {
            result["size"] = try normalizeCompanySize(size)
        }
        if let revenueValue = fields["revenue"] {
            let revenue = try parseNumber(revenueValue, .company, label: "revenue")
            guard revenue >= 0 else {
                throw failure(.company, .outOfRange, "revenue \(show(revenueValue)) is negative")
            }
            result["revenue"] = .number(revenue == 0 ? 0 : revenue)
        }
        if let domain = fields["domain"] {
            result["domain"] = .string(try normalizeCompanyDomain(try part(domain, key: "domain", .company)))
        }
        return .object(result)
    }

    private static func normalizeCompanySize(_ value: JSONValue) throws(FieldValidationError) -> JSONValue {
        let invalid = failure(.company, .invalidFormat, "size \(show(value)) is not a head count or a range like \"51-200\"")
        switch value {
        case .number(let count):
            guard count >= 1, count.rounded() == count, count.isFinite else { throw invalid }
            return .number(count)
        case .string(let string):
            let text = string.filter { $0 != "," && !$0.isWhitespace }
                .replacingOccurrences(of: "–", with: "-")  // en dash, as typeset ranges use
            // Digit-only parts of at most 9 digits keep Int(_:) from overflowing or accepting "+5".
            func count(_ part: Substring) -> Int? {
                guard isAllASCIIDigits(part), part.count <= 9, let number = Int(part), number >= 1 else { return nil }
                return number
            }
            if let single = count(Substring(text)) { return .number(Double(single)) }
            if text.hasSuffix("+"), let lower = count(text.dropLast()) { return .string("\(lower)+") }
            let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let lower = count(bounds[0]), let upper = count(bounds[1]), lower <= upper else {
                throw invalid
            }
            return .string("\(lower)-\(upper)")
        default:
            throw failure(.company, .wrongType, "expected size to be a number or a string, got \(show(value))")
        }
    }

    private static func normalizeCompanyDomain(_ raw: String) throws(FieldValidationError) -> String {
        var host = raw.lowercased()
        for prefix in ["https://", "http://"] where host.hasPrefix(prefix) {
            host.removeFirst(prefix.count)
        }
        if let pathStart = host.firstIndex(where: { "/?#".contains($0) }) {
            host = String(host[..<pathStart])
        }
        if host.hasPrefix("www.") { host.removeFirst(4) }
        guard isValidDomain(host, allowUnicode: true) else {
            throw failure(.company, .invalidFormat, "domain \(show(raw)) is not a valid domain name")
        }
        return host
    }
}

// MARK: - social

extension FieldValidator {
    private enum SocialNetwork: String, CaseIterable {
        case github, linkedin, twitter

        /// Accepts "X", Twitter's current name, as the same network.
        init?(key: String) {
            let key = key.trimmingCharacters(in: .whitespaces).lowercased()
            self.init(rawValue: key == "x" ? "twitter" : key)
        }

        func ownsHost(_ host: String) -> Bool {
            switch self {
            case .github: ["github.com", "www.github.com"].contains(host)
            case .twitter: ["twitter.com", "www.twitter.com", "mobile.twitter.com", "x.com", "www.x.com"].contains(host)
            // LinkedIn serves profiles on country subdomains too (de.linkedin.com).
            case .linkedin: host == "linkedin.com" || host.hasSuffix(".linkedin.com")
            }
        }
    }

    /// social: object of network → profile URL or handle for linkedin, twitter ("x" accepted)
    /// and github, restricted to `rules.networks` when given. Every entry becomes the canonical
    /// profile URL (github "octocat" → https://github.com/octocat, twitter "@jack" →
    /// https://twitter.com/jack, linkedin slug → https://www.linkedin.com/in/slug), so one
    /// profile has one spelling; a URL on another network's host is refused. Handles keep their
    /// case: the networks ignore it but people recognise their own spelling.
    private static func normalizeSocial(_ value: JSONValue, _ rules: FieldRules) throws(FieldValidationError) -> JSONValue {
        guard case .object(let object) = value else {
            throw failure(.social, .wrongType, "expected an object of network to profile, got \(show(value))")
        }
        var allowed = Set(SocialNetwork.allCases)
        if let names = rules.networks {
            var restricted = Set<SocialNetwork>()
            for name in names {
                guard let network = SocialNetwork(key: name) else {
                    throw failure(.social, .invalidRules, "the field allows the unsupported network \(show(name))")
                }
                restricted.insert(network)
            }
            allowed = restricted
        }
        var result: [String: JSONValue] = [:]
        for (key, member) in object.sorted(by: { $0.key < $1.key }) {
            guard let network = SocialNetwork(key: key), allowed.contains(network) else {
                let names = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                throw failure(.social, .notAnOption, "network \(show(key)) is not supported here (use \(names))")
            }
            if member.isNull { continue }
            let profile = try trimmedString(member, .social)
            if profile.isEmpty { continue }
            let url = try socialProfileURL(profile, network: network)
            if let existing = result[network.rawValue], existing != .string(url) {
                throw failure(.social, .invalidFormat, "\(network.rawValue) is given twice with different profiles")
            }
            result[network.rawValue] = .string(url)
        }
        guard !result.isEmpty else {
            throw failure(.social, .missingRequired, "no social profile given")
        }
        return .object(result)
    }

    private static func socialProfileURL(_ profile: String, network: SocialNetwork) throws(FieldValidationError) -> String {
        let name = network.rawValue
        // Handles never contain "/" or ".", so either marks a URL (with or without scheme).
        guard profile.contains("/") || profile.contains(".") else {
            let handle = profile.hasPrefix("@") ? String(profile.dropFirst()) : profile
            return try canonicalProfile(network, path: network == .linkedin ? ["in", handle] : [handle], original: profile)
        }
        let url = try parseHTTPURL(profile, lenient: true, type: .social)
        guard network.ownsHost(url.host) else {
            throw failure(.social, .invalidFormat, "\(show(profile)) is not a \(name) URL")
        }
        let pathEnd = url.rest.firstIndex { $0 == "?" || $0 == "#" } ?? url.rest.endIndex
        let path = url.rest[..<pathEnd].split(separator: "/").map(String.init)
        return try canonicalProfile(network, path: path, original: profile)
    }

    /// The canonical URL for a profile path (["octocat"], ["in", "slug"]), checking each
    /// network's own rules for names.
    private static func canonicalProfile(_ network: SocialNetwork, path: [String], original: String) throws(FieldValidationError) -> String {
        let invalid = failure(.social, .invalidFormat, "\(show(original)) is not a valid \(network.rawValue) profile")
        switch network {
        case .github:
            // GitHub: 1–39 letters, digits or single hyphens, not at either end.
            guard path.count == 1, let user = path.first, (1...39).contains(user.count), !user.hasPrefix("-"),
                  !user.hasSuffix("-"), !user.contains("--"),
                  user.unicodeScalars.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || $0 == "-" })
            else { throw invalid }
            return "https://github.com/\(user)"
        case .twitter:
            // Twitter/X: 1–15 letters, digits or underscores.
            guard path.count == 1, let user = path.first, (1...15).contains(user.count),
                  user.unicodeScalars.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || $0 == "_" })
            else { throw invalid }
            return "https://twitter.com/\(user)"
        case .linkedin:
            // Personal (/in/) or company (/company/) pages; slugs are 3–100 characters, and
            // percent-escapes appear in slugs with accented letters.
            guard path.count == 2, let kind = path.first?.lowercased(), kind == "in" || kind == "company",
                  let slug = path.last, (3...100).contains(slug.count),
                  slug.unicodeScalars.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || "-_%".unicodeScalars.contains($0) })
            else { throw invalid }
            return "https://www.linkedin.com/\(kind)/\(slug)"
        }
    }
}

// MARK: - interest_tags

extension FieldValidator {
    private static let maxTags = 100
    private static let maxTagLength = 64

    /// interest_tags: an array of strings or one comma-separated string. Each tag is trimmed,
    /// inner whitespace collapsed and lower-cased so "Machine  Learning" and "machine learning"
    /// are one interest; blank entries are dropped, duplicates removed keeping first-seen order
    /// (which reflects when the interest was observed); 1–64 characters each, at most 100 tags.
    private static func normalizeInterestTags(_ value: JSONValue) throws(FieldValidationError) -> JSONValue {
        let entries: [String]
        switch value {
        case .string(let list):
            entries = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        case .array(let items):
            var strings: [String] = []
            for item in items {
                guard case .string(let string) = item else {
                    throw failure(.interestTags, .wrongType, "expected every tag to be a string, got \(show(item))")
                }
                strings.append(string)
            }
            entries = strings
        default:
            throw failure(.interestTags, .wrongType, "expected an array of strings, got \(show(value))")
        }

        var seen = Set<String>()
        var tags: [JSONValue] = []
        for entry in entries {
            let tag = entry.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").lowercased()
            if tag.isEmpty || seen.contains(tag) { continue }
            guard !hasControlCharacters(tag, allowingTabAndNewline: false) else {
                throw failure(.interestTags, .invalidFormat, "tag \(show(tag)) contains control characters")
            }
            guard tag.count <= maxTagLength else {
                throw failure(.interestTags, .tooLong, "tag \(show(tag)) is longer than \(maxTagLength) characters")
            }
            seen.insert(tag)
            tags.append(.string(tag))
            guard tags.count <= maxTags else {
                throw failure(.interestTags, .tooMany, "more than \(maxTags) different tags")
            }
        }
        return .array(tags)
    }
}

// MARK: - Countries

/// Countries the validators know by name (address) and by calling code (phone); ISO codes
/// outside this table are still accepted in addresses through `isoCodes`.
private struct CountryInfo: Sendable {
    let code: String
    let callingCode: String
    /// Digits dialled before a national number and dropped internationally; nil where numbers
    /// keep their leading 0 (Italy) or there is no trunk prefix (Spain, Nordics, …).
    let trunkPrefix: String?
    let names: [String]

    static let all: [CountryInfo] = [
        CountryInfo(code: "US", callingCode: "1", trunkPrefix: "1", names: ["united states", "united states of america", "usa"]),
        CountryInfo(code: "CA", callingCode: "1", trunkPrefix: "1", names: ["canada"]),
        CountryInfo(code: "MX", callingCode: "52", trunkPrefix: nil, names: ["mexico"]),
        CountryInfo(code: "BR", callingCode: "55", trunkPrefix: "0", names: ["brazil", "brasil"]),
        CountryInfo(code: "AR", callingCode: "54", trunkPrefix: "0", names: ["argentina"]),
        CountryInfo(code: "GB", callingCode: "44", trunkPrefix: "0", names: ["united kingdom", "uk", "great britain", "england"]),
        CountryInfo(code: "IE", callingCode: "353", trunkPrefix: "0", names: ["ireland"]),
        CountryInfo(code: "DE", callingCode: "49", trunkPrefix: "0", names: ["germany", "deutschland"]),
        CountryInfo(code: "FR", callingCode: "33", trunkPrefix: "0", names: ["france"]),
        CountryInfo(code: "IT", callingCode: "39", trunkPrefix: nil, names: ["italy", "italia"]),
        CountryInfo(code: "ES", callingCode: "34", trunkPrefix: nil, names: ["spain", "españa"]),
        CountryInfo(code: "PT", callingCode: "351", trunkPrefix: nil, names: ["portugal"]),
        CountryInfo(code: "NL", callingCode: "31", trunkPrefix: "0", names: ["netherlands", "the netherlands", "holland"]),
        CountryInfo(code: "BE", callingCode: "32", trunkPrefix: "0", names: ["belgium"]),
        CountryInfo(code: "CH", callingCode: "41", trunkPrefix: "0", names: ["switzerland"]),
        CountryInfo(code: "AT", callingCode: "43", trunkPrefix: "0", names: ["austria", "österreich"]),
        CountryInfo(code: "SE", callingCode: "46", trunkPrefix: "0", names: ["sweden"]),
        CountryInfo(code: "NO", callingCode: "47", trunkPrefix: nil, names: ["norway"]),
        CountryInfo(code: "DK", callingCode: "45", trunkPrefix: nil, names: ["denmark"]),
        CountryInfo(code: "FI", callingCode: "358", trunkPrefix: "0", names: ["finland"]),
        CountryInfo(code: "PL", callingCode: "48", trunkPrefix: nil, names: ["poland"]),
        CountryInfo(code: "CZ", callingCode: "420", trunkPrefix: nil, names: ["czech republic", "czechia"]),
        CountryInfo(code: "GR", callingCode: "30", trunkPrefix: nil, names: ["greece"]),
        CountryInfo(code: "RU", callingCode: "7", trunkPrefix: "8", names: ["russia"]),
        CountryInfo(code: "TR", callingCode: "90", trunkPrefix: "0", names: ["turkey", "türkiye"]),
        CountryInfo(code: "IL", callingCode: "972", trunkPrefix: "0", names: ["israel"]),
        CountryInfo(code: "AE", callingCode: "971", trunkPrefix: "0", names: ["united arab emirates", "uae"]),
        CountryInfo(code: "ZA", callingCode: "27", trunkPrefix: "0", names: ["south africa"]),
        CountryInfo(code: "NG", callingCode: "234", trunkPrefix: "0", names: ["nigeria"]),
        CountryInfo(code: "IN", callingCode: "91", trunkPrefix: "0", names: ["india"]),
        CountryInfo(code: "CN", callingCode: "86", trunkPrefix: "0", names: ["china"]),
        CountryInfo(code: "JP", callingCode: "81", trunkPrefix: "0", names: ["japan"]),
        CountryInfo(code: "KR", callingCode: "82", trunkPrefix: "0", names: ["south korea", "korea"]),
        CountryInfo(code: "SG", callingCode: "65", trunkPrefix: nil, names: ["singapore"]),
        CountryInfo(code: "HK", callingCode: "852", trunkPrefix: nil, names: ["hong kong"]),
        CountryInfo(code: "AU", callingCode: "61", trunkPrefix: "0", names: ["australia"]),
        CountryInfo(code: "NZ", callingCode: "64", trunkPrefix: "0", names: ["new zealand"]),
    ]

    static let byCode: [String: CountryInfo] = Dictionary(all.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })

    static let byName: [String: CountryInfo] = Dictionary(
        all.flatMap { info in info.names.map { ($0, info) } }, uniquingKeysWith: { first, _ in first })

    /// ISO 3166-1 alpha-2 officially assigned codes (249).
    static let isoCodes: Set<String> = Set("""
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR \
        BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ \
        EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW \
        GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
        KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV \
        MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
        QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG \
        TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM \
        ZW
        """.split(separator: " ").map(String.init))
}
