/// HTML text building for the dashboard: every value from the database or the request goes
/// through `escape` (profile fields and page paths are written by visitors).
enum HTML {
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// A query string from name/value pairs, percent-encoded and then escaped for an attribute.
    static func query(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    /// A table with a header row; cells are escaped here.
    static func table(_ headers: [String], _ rows: [[String]], numeric: Set<Int> = [], id: String? = nil) -> String {
        guard !rows.isEmpty else { return "<p class=\"empty\">No data in this range.</p>" }
        var html = "<div class=\"scroll\"><table\(id.map { " id=\"\(escape($0))\"" } ?? "")><thead><tr>"
        for (index, header) in headers.enumerated() { html += "<th\(numeric.contains(index) ? " class=\"num\"" : "")>\(escape(header))</th>" }
        html += "</tr></thead><tbody>"
        for row in rows {
            html += "<tr>" + row.enumerated().map { "<td\(numeric.contains($0.offset) ? " class=\"num\"" : "")>\(escape($0.element))</td>" }.joined() + "</tr>"
        }
        return html + "</tbody></table></div>"
    }
}

import Foundation
