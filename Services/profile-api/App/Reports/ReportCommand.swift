import ArgumentParser
import Foundation
import ProfileModel
import ServiceKit

/// `profile-api report`: a report's figures as an aligned text table, for operators in a
/// terminal (the key figures by default; the same parameters and checks as `/v1/reports`).
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Print a report (by default the key figures) as a table.")

    @Option(help: "Site slug (default: the first site).") var site: String?
    @Option(help: "First day, YYYY-MM-DD (default: 29 days before --to).") var from: String?
    @Option(help: "Last day, YYYY-MM-DD (default: today).") var to: String?
    @Option(help: "IANA time zone of the days.") var tz: String = "UTC"
    @Option(help: "Only current members of this segment.") var segment: String?
    @Option(help: "day or week (trend reports).") var interval: String = "day"
    @Option(help: "One of: \(ReportsController.names.joined(separator: ", ")).") var report: String = "summary"
    @Flag(help: "Print CSV instead of a table.") var csv = false

    func validate() throws {
        guard ReportsController.names.contains(report) else {
            throw ValidationError("--report must be one of \(ReportsController.names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let environment = try bootstrappedEnvironment(service: ProfileAPIService.name)
        let output = try await withDatabase(environment) { [self] client in
            let reports = Reports(client: client, logger: environment.logger)
            let site: String
            if let chosen = self.site { site = chosen } else { site = try await reports.firstSite() }
            var query = ["tz": tz, "interval": interval]
            query["site"] = site
            query["from"] = from
            query["to"] = to
            query["segment"] = segment
            do {
                let request = try ReportRequest(query: query, accept: nil)
                let table = try await reports.run(report, request)
                if csv { return table.csv }
                return "\(report) for \(request.site), \(request.from) to \(request.to) (\(request.timeZone), \(table.source))\n"
                    + Self.render(table)
            } catch let error as APIError {
                throw ValidationError(error.field.map { "--\($0): \(error.detail)" } ?? error.detail)
            }
        }
        print(output, terminator: "")
    }

    /// Columns padded to their widest cell; numbers right-aligned.
    static func render(_ table: ReportTable) -> String {
        let cells = table.rows.map { row in table.columns.map { row[$0].map(Self.text) ?? "" } }
        let widths = table.columns.indices.map { index in ([table.columns[index]] + cells.map { $0[index] }).map(\.count).max() ?? 0 }
        func line(_ values: [String], numeric: [Bool]) -> String {
            values.indices.map { index in
                let pad = String(repeating: " ", count: widths[index] - values[index].count)
                return numeric[index] ? pad + values[index] : values[index] + pad
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        let numeric = table.columns.indices.map { index in table.rows.allSatisfy { $0[table.columns[index]]?.doubleValue != nil || $0[table.columns[index]]?.isNull == true } }
        var text = line(table.columns, numeric: numeric.map { _ in false })
        text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in cells { text += line(row, numeric: numeric) }
        return text
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .string(let text): return text
        default: return value.description
        }
    }
}

extension Reports {
    /// Named query `first_site`: the default site of the CLI and the dashboard.
    func firstSite() async throws -> String {
        for try await slug in try await client.query("SELECT slug FROM sites ORDER BY id LIMIT 1", logger: logger).decode(String.self) {
            return slug
        }
        throw APIError(.notFound, code: "site_not_found", detail: "there is no site yet", field: "site")
    }
}
