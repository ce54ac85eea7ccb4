import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ProfileModel
import ServiceKit

/// A report's answer: named columns and rows of flat values (so it reads the same as JSON and
/// as CSV), range totals and report-specific details, plus where the figures came from.
struct ReportTable: Sendable {
    let report: String
    let columns: [String]
    var rows: [[String: JSONValue]]
    var totals: [String: JSONValue] = [:]
    var details: [String: JSONValue] = [:]
    /// `rollup` when read from the engine's rollup tables, `live` when computed from raw tables.
    var source = "live"

    init(_ report: String, columns: [String], rows: JSONValue) {
        self.report = report
        self.columns = columns
        self.rows = (rows.arrayValue ?? []).compactMap(\.objectValue)
    }

    func json(_ request: ReportRequest) -> JSONValue {
        [
            "report": .string(report), "site": .string(request.site), "segment": request.segment.map(JSONValue.string) ?? .null,
            "from": .string(request.from), "to": .string(request.to), "tz": .string(request.timeZone),
            "interval": .string(request.interval.rawValue), "source": .string(source),
            "columns": .array(columns.map(JSONValue.string)), "rows": .array(rows.map(JSONValue.object)),
            "totals": .object(totals), "details": .object(details),
        ]
    }

    func response(_ request: ReportRequest) -> Response {
        guard request.format == .csv else { return JSONResponse.make(json(request)) }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(report)-\(request.site)-\(request.from)-\(request.to).csv\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    /// RFC 4180 CSV with a header row, cells as `CSVCell` writes them.
    var csv: String {
        var lines = [columns.map(Self.cell).joined(separator: ",")]
        for row in rows {
            lines.append(columns.map { Self.cell(row[$0] ?? .null) }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private static func cell(_ text: String) -> String { CSVCell.encode(text) }

    private static func cell(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let text): return cell(text)
        case .number, .bool: return value.description
        case .array, .object: return cell(value.description)
        }
    }
}
