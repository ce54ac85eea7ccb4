import Foundation
import ProfileModel

/// The file formats of an export and how one row is written in each.
enum ExportFormat: String, Sendable, CaseIterable {
    case csv, json, ndjson

    var contentType: String {
        switch self {
        case .csv: return "text/csv; charset=utf-8"
        case .json: return "application/json"
        case .ndjson: return "application/x-ndjson"
        }
    }

    var fileExtension: String { rawValue }

    /// What comes before the first row.
    func header(_ mapping: CRMMapping?) -> String {
        switch self {
        case .csv: return (mapping?.columns ?? []).map { CSVCell.encode($0.column) }.joined(separator: ",") + "\r\n"
        case .json: return "["
        case .ndjson: return ""
        }
    }

    /// What comes after the last row.
    var footer: String { self == .json ? "]\n" : "" }

    /// One profile as a row. Without a mapping (JSON and NDJSON only) the profile document is
    /// written as the API returns it, with no re-encoding.
    func row(document text: String, mapping: CRMMapping?, index: Int) -> String {
        let separator = self == .json && index > 0 ? "," : ""
        guard let mapping else { return separator + text + (self == .ndjson ? "\n" : "") }
        let document = JSONValue(databaseText: text)
        let values = mapping.columns.map { $0.value(in: document) }
        switch self {
        case .csv:
            return values.map(CSVCell.encode).joined(separator: ",") + "\r\n"
        case .json, .ndjson:
            let members = zip(mapping.columns, values).map { column, value in
                JSONValue.string(column.column).description + ":" + (value.isEmpty ? "null" : JSONValue.string(value).description)
            }
            return separator + "{" + members.joined(separator: ",") + "}" + (self == .ndjson ? "\n" : "")
        }
    }
}
