/// One CSV cell as the API writes it (profile exports and reports alike): RFC 4180 quoting, and
/// text a spreadsheet would run as a formula made inert. Cells starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return get a leading apostrophe (OWASP's advice for CSV injection), since
/// names, paths and fields come from visitors: `+cmd|'/C calc'!A0` or `-1+HYPERLINK(…)` would
/// otherwise run in the analyst's spreadsheet. A value that is a number or an E.164 phone
/// (`+442079460958`, `-12.5`) is left as it is: it is read as a value, never run.
enum CSVCell {
    static func encode(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), !isPlainValue(text) { text = "'" + text }
        // By scalar: "\r\n" is one Character, so a lone "\r" would not be found among Characters.
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A signed decimal number, or `+` and 7 to 15 digits.
    static func isPlainValue(_ text: String) -> Bool {
        let body = text.dropFirst()
        if text.first == "+", (7...15).contains(body.count), body.allSatisfy(\.isASCIIDigit) { return true }
        guard text.first == "-" || text.first == "+", let first = body.first, first.isASCIIDigit else { return false }
        return body.filter { $0 == "." }.count <= 1 && body.allSatisfy { $0.isASCIIDigit || $0 == "." } && body.last != "."
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
