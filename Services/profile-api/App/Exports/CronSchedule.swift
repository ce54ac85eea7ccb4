import Foundation

/// A 5-field cron expression in UTC (minute hour day-of-month month day-of-week), with `*`,
/// lists, ranges and steps. As in Vixie cron, when both day fields are restricted a day matching
/// either one runs.
struct CronSchedule: Sendable, Equatable {
    let expression: String
    private let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    private let daysRestricted: Bool, weekdaysRestricted: Bool

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(_ expression: String) throws {
        let fields = expression.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else { throw Invalid(description: "a cron expression has 5 fields: minute hour day-of-month month day-of-week") }
        self.expression = fields.joined(separator: " ")
        minutes = try Self.parse(fields[0], 0...59, "minute")
        hours = try Self.parse(fields[1], 0...23, "hour")
        days = try Self.parse(fields[2], 1...31, "day-of-month")
        months = try Self.parse(fields[3], 1...12, "month")
        // 7 is Sunday too.
        weekdays = Set(try Self.parse(fields[4], 0...7, "day-of-week").map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
    }

    private static func parse(_ field: String, _ range: ClosedRange<Int>, _ name: String) throws -> Set<Int> {
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw Invalid(description: "\(name): '\(part)' is not a valid term") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else { throw Invalid(description: "\(name): step in '\(part)' must be a positive integer") }
                step = parsed
            }
            var low = range.lowerBound, high = range.upperBound
            if pieces[0] != "*" {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                guard (1...2).contains(bounds.count), let first = bounds[0], let last = bounds.last ?? nil,
                      range.contains(first), range.contains(last), first <= last else {
                    throw Invalid(description: "\(name): '\(part)' must be *, a number or a range in \(range.lowerBound)-\(range.upperBound)")
                }
                low = first
                // "a-b" is a range; "a/n" runs from a to the end of the field; "a" is one value.
                high = bounds.count == 2 ? last : (pieces.count == 2 ? range.upperBound : first)
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    /// The first matching minute strictly after `date`, or nil if none in the next 5 years
    /// (e.g. "0 0 30 2 *").
    func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.dateInterval(of: .minute, for: date)!.start.addingTimeInterval(60)
        var parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: start)
        let lastYear = (parts.year ?? 2000) + 5
        while let year = parts.year, year <= lastYear {
            guard let month = parts.month, months.contains(month) else {
                parts = Self.advance(parts, calendar, .month)
                continue
            }
            guard let candidate = calendar.date(from: parts), calendar.component(.month, from: candidate) == month else {
                parts = Self.advance(parts, calendar, .month)
                continue
            }
            let day = calendar.component(.day, from: candidate), weekday = calendar.component(.weekday, from: candidate) - 1
            let dayMatches: Bool
            switch (daysRestricted, weekdaysRestricted) {
            case (true, true): dayMatches = days.contains(day) || weekdays.contains(weekday)
            default: dayMatches = days.contains(day) && weekdays.contains(weekday)
            }
            guard dayMatches else { parts = Self.advance(parts, calendar, .day); continue }
            guard let hour = parts.hour, hours.contains(hour) else { parts = Self.advance(parts, calendar, .hour); continue }
            guard let minute = parts.minute, minutes.contains(minute) else { parts = Self.advance(parts, calendar, .minute); continue }
            return candidate
        }
        return nil
    }

    /// The start of the next month, day, hour or minute.
    private static func advance(_ parts: DateComponents, _ calendar: Calendar, _ unit: Calendar.Component) -> DateComponents {
        var truncated = parts
        switch unit {
        case .month: truncated.day = 1; truncated.hour = 0; truncated.minute = 0
        case .day: truncated.hour = 0; truncated.minute = 0
        case .hour: truncated.minute = 0
        default: break
        }
        let base = calendar.date(from: truncated)!
        let next = calendar.date(byAdding: unit, value: 1, to: base)!
        return calendar.dateComponents([.year, .month, .day, .hour, .minute], from: next)
    }
}
