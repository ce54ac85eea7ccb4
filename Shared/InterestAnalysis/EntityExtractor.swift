import Foundation
import ProfileModel

/// Finds details a visitor volunteers in a message — email, phone, name, company, job title,
/// company size, budget, timeline — as raw values named after profile fields. It extracts
/// generously; the field registry's validation decides what is stored.
struct EntityExtractor: Sendable {
    func extract(_ text: String) -> [ExtractedEntity] {
        var found: [ExtractedEntity] = []
        func add(_ field: String, _ value: JSONValue?) {
            guard let value, !found.contains(where: { $0.field == field }) else { return }
            found.append(ExtractedEntity(field: field, value: value))
        }
        add("email", email(in: text).map(JSONValue.string))
        add("phone", phone(in: text).map(JSONValue.string))
        add("name", capture(text, after: Self.nameCues, maxWords: 3, capitalised: true).map(JSONValue.string))
        add("company", capture(text, after: Self.companyCues, maxWords: 4, capitalised: true).map(JSONValue.string))
        add("job_title", jobTitle(in: text).map(JSONValue.string))
        add("company_size", companySize(in: text).map(JSONValue.string))
        add("budget", budget(in: text).map(JSONValue.number))
        add("timeline", timeline(in: text).map(JSONValue.string))
        return found
    }

    // MARK: - Email and phone

    /// The first word with an "@" in it, trimmed of surrounding punctuation; malformed addresses
    /// are returned too so that validation can refuse (and record) them.
    func email(in text: String) -> String? {
        text.split(whereSeparator: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," || $0 == ";" })
            .first { $0.contains("@") && $0.count > 2 }
            .map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ".:!?()[]\"'")) }
    }

    /// A run of digits, spaces, dashes, dots and parentheses (optionally after "+") holding 8 to
    /// 15 digits: phone-shaped, not "20 million" or a year.
    func phone(in text: String) -> String? {
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            guard characters[index] == "+" || characters[index].isNumber || characters[index] == "(" else { index += 1; continue }
            if index > 0, characters[index - 1].isLetter || characters[index - 1] == "$" { index += 1; continue }
            var end = index
            var lastDigit = index
            var digits = 0
            while end < characters.count, characters[end].isNumber || " -.()+".contains(characters[end]) {
                if characters[end] == "+", end != index { break }
                if characters[end].isNumber {
                    digits += 1
                    lastDigit = end + 1
                }
                end += 1
            }
            // The number ends at its last digit ("…2671." is a phone number and a full stop).
            let candidate = String(characters[index..<lastDigit])
            if (8...15).contains(digits), !(lastDigit < characters.count && characters[lastDigit].isLetter) { return candidate }
            index = max(end, index + 1)
        }
        return nil
    }

    // MARK: - Phrases after a cue

    static let nameCues = ["my name is", "my name's", "call me"]
    static let companyCues = ["i work at", "i work for", "we work at", "i'm from", "i am from", "we are from", "our company is",
                              "company called", "company is called", "here from", "calling from", "i'm with", "on behalf of"]

    /// Words after one of `cues` up to punctuation or a lowercase word; nil when nothing follows.
    /// With `capitalised`, only capitalised words (a name) are taken.
    func capture(_ text: String, after cues: [String], maxWords: Int, capitalised: Bool) -> String? {
        let lowered = text.lowercased().replacingOccurrences(of: "’", with: "'")
        for cue in cues {
            var searchStart = lowered.startIndex
            while let range = lowered.range(of: cue + " ", range: searchStart..<lowered.endIndex) {
                searchStart = range.upperBound
                guard range.lowerBound == lowered.startIndex || !lowered[lowered.index(before: range.lowerBound)].isLetter else { continue }
                let offset = lowered.distance(from: lowered.startIndex, to: range.upperBound)
                let rest = text[text.index(text.startIndex, offsetBy: offset)...]
                var words: [String] = []
                for word in rest.split(separator: " ", omittingEmptySubsequences: true) {
                    let clean = word.trimmingCharacters(in: CharacterSet(charactersIn: ".,!?;:()\"'"))
                    guard let first = clean.first, !clean.isEmpty else { break }
                    let connector = ["&", "and", "of", "de", "von"].contains(clean) && !words.isEmpty
                    if capitalised, !(first.isUppercase || first.isNumber || connector) { break }
                    words.append(clean)
                    if words.count == maxWords || word.last.map({ ".,!?;:".contains($0) }) == true { break }
                }
                while let last = words.last, ["&", "and", "of", "de", "von"].contains(last) { words.removeLast() }
                if !words.isEmpty { return words.joined(separator: " ") }
            }
        }
        return nil
    }

    static let titleWords: Set<String> = ["head", "vp", "director", "manager", "engineer", "developer", "designer", "officer", "founder",
                                          "cofounder", "co-founder", "cto", "ceo", "cfo", "coo", "cmo", "cio", "ciso", "lead",
                                          "analyst", "consultant", "owner", "president", "admin", "administrator", "marketer",
                                          "specialist", "architect", "executive", "coordinator", "recruiter", "scientist"]
    static let titleCues = ["i'm the", "i am the", "i'm a", "i am a", "i'm an", "i am an", "i'm", "i am", "as the", "as a", "as",
                            "my role is", "my title is", "i work as", "working as"]

    /// "I'm head of sales ops" → "head of sales ops": the words after a cue, kept only when they
    /// contain a job word, cut at "at"/"for"/"in" (the company usually follows).
    func jobTitle(in text: String) -> String? {
        let lowered = text.lowercased().replacingOccurrences(of: "’", with: "'")
        for cue in Self.titleCues {
            var searchStart = lowered.startIndex
            while let range = lowered.range(of: cue + " ", range: searchStart..<lowered.endIndex) {
                searchStart = range.upperBound
                guard range.lowerBound == lowered.startIndex || !lowered[lowered.index(before: range.lowerBound)].isLetter else { continue }
                var words: [String] = []
                for word in lowered[range.upperBound...].split(separator: " ") {
                    let clean = word.trimmingCharacters(in: CharacterSet(charactersIn: ".,!?;:()\"'"))
                    if clean.isEmpty || ["at", "for", "in", "with", "and", "here", "from", "who", "looking"].contains(clean) { break }
                    words.append(clean)
                    if words.count == 6 || word.last.map({ ".,!?;:".contains($0) }) == true { break }
                }
                if words.contains(where: Self.titleWords.contains) {
                    let title = words.drop { ["only", "new", "current"].contains($0) }
                    return title.joined(separator: " ")
                }
            }
        }
        return nil
    }

    // MARK: - Numbers

    /// "300 employees", "a 40-person company", "company of 25" → the registry's size band.
    func companySize(in text: String) -> String? {
        let tokens = TextNormalizer.tokens(text).map(\.text)
        for (index, token) in tokens.enumerated() {
            guard let count = Int(token) else { continue }
            let next = tokens.dropFirst(index + 1).prefix(2)
            let unit = next.first ?? ""
            let isCompany = ["employees", "employee", "staff", "fte"].contains(unit)
                || (["person", "people"].contains(unit)
                    && next.dropFirst().first.map { ["company", "agency", "startup", "business", "firm", "shop", "organization", "org"].contains($0) } == true)
                || (index >= 2 && tokens[index - 1] == "of" && ["company", "business", "organization"].contains(tokens[index - 2]))
            if isCompany { return Self.sizeBand(count) }
        }
        return nil
    }

    static func sizeBand(_ count: Int) -> String {
        switch count {
        case ..<11: return "1-10"
        case ..<51: return "11-50"
        case ..<201: return "51-200"
        case ..<1001: return "201-1000"
        case ..<5001: return "1001-5000"
        default: return "5000+"
        }
    }

    /// An amount in US dollars in a sentence about budget or spending: "$50k", "20,000 USD".
    func budget(in text: String) -> Double? {
        for sentence in text.split(whereSeparator: { ".!?;\n".contains($0) }) {
            let lowered = sentence.lowercased()
            guard ["budget", "spend", "afford"].contains(where: lowered.contains) else { continue }
            let words = lowered.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",;:()")) }
            for (index, word) in words.enumerated() {
                let dollars = word.hasPrefix("$")
                let following = index + 1 < words.count ? words[index + 1] : ""
                guard dollars || ["usd", "dollars", "dollar"].contains(following) else { continue }
                if let amount = Self.amount(dollars ? String(word.dropFirst()) : word) { return amount }
            }
        }
        return nil
    }

    /// "50k" → 50000, "1.5m" → 1500000, "20,000" → 20000.
    static func amount(_ raw: String) -> Double? {
        var text = raw.replacingOccurrences(of: ",", with: "")
        var factor = 1.0
        if text.hasSuffix("k") { factor = 1_000; text.removeLast() } else if text.hasSuffix("m") { factor = 1_000_000; text.removeLast() }
        guard let value = Double(text), value > 0 else { return nil }
        return value * factor
    }

    static let timelinePhrases = ["this week", "next week", "this month", "next month", "this quarter", "next quarter",
                                  "end of the quarter", "end of quarter", "this year", "next year", "end of the year",
                                  "end of year", "asap", "as soon as possible", "q1", "q2", "q3", "q4", "within a month",
                                  "in two weeks", "in a few weeks", "in the next few months", "on the 1st", "in january",
                                  "in february", "in march", "in april", "in may", "in june", "in july", "in august",
                                  "in september", "in october", "in november", "in december", "by january", "by the summer"]
    static let buyingWords = ["buy", "purchase", "sign", "start", "launch", "live", "need", "decide", "implement", "roll", "budget",
                              "close", "audit", "deadline", "switch", "migrate", "upgrade"]

    /// When the visitor plans to buy or start, in their words; only in a sentence about buying,
    /// so that "a demo next week" is not a purchase timeline.
    func timeline(in text: String) -> String? {
        for sentence in text.split(whereSeparator: { ".!?;\n".contains($0) }) {
            let lowered = " " + sentence.lowercased() + " "
            guard Self.buyingWords.contains(where: lowered.contains) else { continue }
            if let phrase = Self.timelinePhrases.first(where: { lowered.contains(" \($0) ") || lowered.contains(" \($0),") }) {
                return phrase
            }
        }
        return nil
    }
}
