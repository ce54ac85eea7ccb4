import Foundation
import ServiceKit

/// What every report is asked for, validated before any SQL runs: a site, a range of local days
/// [`from`, `to`] (both included) in the IANA time zone `tz`, an optional segment, the trend
/// interval and the output format. Bad values are 400 problem answers naming the parameter.
struct ReportRequest: Sendable {
    enum Interval: String, Sendable { case day, week }
    enum Format: String, Sendable { case json, csv }

    let site: String
    let from: String
    let to: String
    let timeZone: String
    let segment: String?
    let interval: Interval
    let format: Format
    /// The untouched query parameters, for report-specific options (limit, sort, steps, goal).
    let query: [String: String]

    /// The longest range a report covers (two years of days).
    static let maxDays = 731

    init(query: [String: String], accept: String?, defaultSite: String? = nil) throws {
        self.query = query
        guard let site = query["site"] ?? defaultSite else {
            throw APIError.badRequest("missing_parameter", "'site' is required (a site slug)", field: "site")
        }
        guard site.wholeMatch(of: /[a-z0-9][a-z0-9-]{0,62}/) != nil else {
            throw APIError.badRequest("invalid_parameter", "'site' must be a site slug (lowercase letters, digits, hyphens)", field: "site")
        }
        self.site = site
        if let segment = query["segment"], !segment.isEmpty {
            guard segment.wholeMatch(of: /[a-z0-9][a-z0-9_-]{0,62}/) != nil else {
                throw APIError.badRequest("invalid_parameter", "'segment' must be a segment slug", field: "segment")
            }
            self.segment = segment
        } else {
            segment = nil
        }
        let zoneName = query["tz"] ?? "UTC"
        guard zoneName.wholeMatch(of: /[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+){0,2}/) != nil,
              let zone = TimeZone(identifier: zoneName) else {
            throw APIError.badRequest("invalid_parameter", "'tz' must be an IANA time zone name such as Europe/Berlin", field: "tz")
        }
        timeZone = zoneName
        guard let interval = Interval(rawValue: query["interval"] ?? "day") else {
            throw APIError.badRequest("invalid_parameter", "'interval' must be day or week", field: "interval")
        }
        self.interval = interval
        if let name = query["format"] {
            guard let format = Format(rawValue: name) else {
                throw APIError.badRequest("invalid_parameter", "'format' must be json or csv", field: "format")
            }
            self.format = format
        } else {
            format = (accept ?? "").lowercased().contains("text/csv") ? .csv : .json
        }

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let last = try query["to"].map { try Self.day($0, "to") } ?? calendar.dateComponents([.year, .month, .day], from: Date())
        var first = try query["from"].map { try Self.day($0, "from") } ?? Self.adding(-29, to: last)
        var lastDay = last
        guard Self.ordinal(first) <= Self.ordinal(last) else {
            throw APIError.badRequest("invalid_parameter", "'from' must not be after 'to'", field: "from")
        }
        guard Self.ordinal(last) - Self.ordinal(first) < Self.maxDays else {
            throw APIError.badRequest("range_too_large", "a report covers at most \(Self.maxDays) days", field: "from")
        }
        // Weeks are whole ISO weeks, so a week's distinct visitors mean the same in every report.
        if interval == .week {
            first = Self.adding(-Self.weekdayIndex(first), to: first)
            lastDay = Self.adding(6 - Self.weekdayIndex(last), to: last)
        }
        from = Self.text(first)
        to = Self.text(lastDay)
    }

    /// The local midnight starting `day` ("YYYY-MM-DD") in this request's zone, as an instant.
    func instant(startOf day: String) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        let parts = day.split(separator: "-").compactMap { Int($0) }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) ?? Date()
    }

    /// The day after `to`: the exclusive end of the range.
    var end: String { Self.text(Self.adding(1, to: Self.parts(to))) }

    // MARK: - Calendar days without time zones

    private static func day(_ text: String, _ name: String) throws -> DateComponents {
        guard text.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil else {
            throw APIError.badRequest("invalid_parameter", "'\(name)' must be a date as YYYY-MM-DD", field: name)
        }
        let components = parts(text)
        guard let year = components.year, (1970...9999).contains(year),
              text == Self.text(adding(0, to: components)) else {
            throw APIError.badRequest("invalid_parameter", "'\(name)' is not a calendar date between 1970 and 9999", field: name)
        }
        return components
    }

    private static func parts(_ text: String) -> DateComponents {
        let numbers = text.split(separator: "-").compactMap { Int($0) }
        return DateComponents(year: numbers[0], month: numbers[1], day: numbers[2])
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()

    private static func adding(_ days: Int, to day: DateComponents) -> DateComponents {
        let date = utc.date(from: day).flatMap { utc.date(byAdding: .day, value: days, to: $0) } ?? Date(timeIntervalSince1970: 0)
        return utc.dateComponents([.year, .month, .day], from: date)
    }

    private static func ordinal(_ day: DateComponents) -> Int {
        Int((utc.date(from: day)?.timeIntervalSince1970 ?? 0) / 86_400)
    }

    /// 0 for Monday … 6 for Sunday (1970-01-01 was a Thursday).
    private static func weekdayIndex(_ day: DateComponents) -> Int {
        ((ordinal(day) + 3) % 7 + 7) % 7
    }

    private static func text(_ day: DateComponents) -> String {
        String(format: "%04d-%02d-%02d", day.year ?? 1970, day.month ?? 1, day.day ?? 1)
    }
}

extension Character {
    /// Control characters (NUL among them) have no place in paths or search text, and PostgreSQL
    /// refuses NUL in text: such input is a 400, not a database error.
    var isControl: Bool { unicodeScalars.contains { $0.properties.generalCategory == .control } }
}
