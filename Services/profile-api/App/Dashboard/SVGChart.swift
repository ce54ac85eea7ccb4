import Foundation

/// Server-rendered SVG charts for the dashboard (no script needed to draw them): a line chart of
/// one or more series over periods, and horizontal bars for funnels.
enum SVGChart {
    struct Series {
        let name: String
        let values: [Double]
    }

    static func lines(title: String, labels: [String], series: [Series], width: Double = 600, height: Double = 200) -> String {
        let left = 44.0, right = 10.0, top = 12.0, bottom = 24.0
        let maximum = max(1, series.flatMap(\.values).max() ?? 1)
        let count = max(labels.count, 1)
        func x(_ index: Int) -> Double { left + (count == 1 ? 0 : Double(index) / Double(count - 1) * (width - left - right)) }
        func y(_ value: Double) -> Double { top + (1 - value / maximum) * (height - top - bottom) }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        svg += "<title>\(HTML.escape(title))</title>"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\"/>"
        svg += "<text class=\"tick\" x=\"\(left - 4)\" y=\"\(top + 4)\" text-anchor=\"end\">\(HTML.escape(format(maximum)))</text>"
        svg += "<text class=\"tick\" x=\"\(left - 4)\" y=\"\(height - bottom)\" text-anchor=\"end\">0</text>"
        if let first = labels.first, let last = labels.last {
            svg += "<text class=\"tick\" x=\"\(left)\" y=\"\(height - 6)\">\(HTML.escape(first))</text>"
            svg += "<text class=\"tick\" x=\"\(width - right)\" y=\"\(height - 6)\" text-anchor=\"end\">\(HTML.escape(last))</text>"
        }
        for (index, line) in series.enumerated() {
            let points = line.values.enumerated().map { "\(round1(x($0.offset))),\(round1(y($0.element)))" }.joined(separator: " ")
            svg += "<polyline class=\"series series-\(index)\" points=\"\(points)\"><title>\(HTML.escape(line.name))</title></polyline>"
            for (offset, value) in line.values.enumerated() where line.values.count <= 62 {
                svg += "<circle class=\"dot series-\(index)\" cx=\"\(round1(x(offset)))\" cy=\"\(round1(y(value)))\" r=\"2.5\">"
                    + "<title>\(HTML.escape(labels.indices.contains(offset) ? labels[offset] : "")): \(HTML.escape(format(value))) \(HTML.escape(line.name))</title></circle>"
            }
        }
        return svg + "</svg>" + legend(series.map(\.name))
    }

    static func bars(title: String, items: [(label: String, value: Double, note: String)], width: Double = 600) -> String {
        let rowHeight = 30.0, labelWidth = 150.0
        let height = max(rowHeight, Double(items.count) * rowHeight)
        let maximum = max(1, items.map(\.value).max() ?? 1)
        var svg = "<svg class=\"chart bars\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        svg += "<title>\(HTML.escape(title))</title>"
        for (index, item) in items.enumerated() {
            let y = Double(index) * rowHeight
            let barWidth = max(1, item.value / maximum * (width - labelWidth - 120))
            svg += "<text class=\"label\" x=\"0\" y=\"\(y + 19)\">\(HTML.escape(item.label))</text>"
            svg += "<rect class=\"bar\" x=\"\(labelWidth)\" y=\"\(y + 5)\" width=\"\(round1(barWidth))\" height=\"\(rowHeight - 10)\"/>"
            svg += "<text class=\"value\" x=\"\(round1(labelWidth + barWidth + 6))\" y=\"\(y + 19)\">\(HTML.escape(format(item.value) + item.note))</text>"
        }
        return svg + "</svg>"
    }

    private static func legend(_ names: [String]) -> String {
        guard names.count > 1 else { return "" }
        return "<p class=\"legend\">" + names.enumerated().map { "<span class=\"key series-\($0.offset)\">\(HTML.escape($0.element))</span>" }.joined(separator: " ") + "</p>"
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int64(value)) : String(format: "%.2f", value)
    }

    private static func round1(_ value: Double) -> String { String(format: "%.1f", value) }
}
