import Foundation

/// Labelled example sentences for each intent, written across many industries
/// (`config/intent-exemplars.txt`): the semantic intent classifier votes with the nearest of
/// them, and the catalog calibration uses them as the background of ordinary chat.
public struct IntentExemplars: Sendable {
    public struct Exemplar: Sendable, Equatable {
        /// nil for the `[none]` section: greetings and thanks, which show no intent.
        public let intent: ChatIntent?
        public let text: String
    }

    public let exemplars: [Exemplar]

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case unknownSection(line: Int, name: String)
        case sentenceOutsideSection(line: Int)
        case empty

        public var description: String {
            switch self {
            case .unknownSection(let line, let name):
                "line \(line): unknown section [\(name)]; sections are the intents (\(ChatIntent.allCases.map(\.rawValue).joined(separator: ", "))) and none"
            case .sentenceOutsideSection(let line): "line \(line): a sentence before the first [section]"
            case .empty: "the file has no exemplar sentences"
            }
        }
    }

    /// Parses the file format: `[intent]` section headers, one sentence per line, `#` comments.
    public init(text: String) throws {
        var exemplars: [Exemplar] = []
        var section: ChatIntent??
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = String(line.dropFirst().dropLast())
                if name == "none" {
                    section = .some(nil)
                } else if let intent = ChatIntent(rawValue: name) {
                    section = .some(intent)
                } else {
                    throw ParseError.unknownSection(line: number + 1, name: name)
                }
                continue
            }
            guard let current = section else { throw ParseError.sentenceOutsideSection(line: number + 1) }
            exemplars.append(Exemplar(intent: current, text: line))
        }
        guard !exemplars.isEmpty else { throw ParseError.empty }
        self.exemplars = exemplars
    }

    public init(contentsOf url: URL) throws {
        try self.init(text: String(contentsOf: url, encoding: .utf8))
    }
}
