import Foundation
import ProfileModel

/// The labelled evaluation set (`Tests/interest-eval/conversations.txt`) and the scores of an
/// analyser on it: micro precision/recall/F1 over (conversation, item) pairs, intent accuracy.
public struct InterestEvaluation: Sendable {
    public struct Conversation: Sendable {
        public let id: String
        public let intent: ChatIntent
        public let items: Set<String>
        public let turns: [ChatTurn]
    }

    public struct Outcome: Sendable {
        public let conversation: Conversation
        public let predictedItems: Set<String>
        public let predictedIntent: ChatIntent
    }

    public struct Report: Sendable {
        public let outcomes: [Outcome]
        public let truePositives: Int
        public let falsePositives: Int
        public let falseNegatives: Int

        public var precision: Double { Double(truePositives) / Double(max(1, truePositives + falsePositives)) }
        public var recall: Double { Double(truePositives) / Double(max(1, truePositives + falseNegatives)) }
        public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
        public var intentAccuracy: Double {
            Double(outcomes.filter { $0.predictedIntent == $0.conversation.intent }.count) / Double(max(1, outcomes.count))
        }
        /// Accuracy per expected intent: (correct, total).
        public var intentBreakdown: [ChatIntent: (correct: Int, total: Int)] {
            Dictionary(grouping: outcomes, by: \.conversation.intent).mapValues { outcomes in
                (outcomes.filter { $0.predictedIntent == $0.conversation.intent }.count, outcomes.count)
            }
        }
    }

    public enum ParseError: Error, CustomStringConvertible {
        case malformed(line: Int, reason: String)

        public var description: String {
            switch self {
            case .malformed(let line, let reason): return "line \(line): \(reason)"
            }
        }
    }

    public let conversations: [Conversation]

    /// Parses the set's text format (see Tests/interest-eval/README.md).
    public init(text: String) throws {
        var conversations: [Conversation] = []
        var header: (id: String, intent: ChatIntent, items: Set<String>)?
        var turns: [ChatTurn] = []
        func finish() {
            if let header { conversations.append(Conversation(id: header.id, intent: header.intent, items: header.items, turns: turns)) }
            turns = []
        }
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                finish()
                let parts = line.dropFirst().split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 3, let intent = ChatIntent(rawValue: parts[1]) else {
                    throw ParseError.malformed(line: number + 1, reason: "expected \"@ id | intent | items\" with a known intent")
                }
                let items = parts[2] == "-" ? [] : Set(parts[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                header = (parts[0], intent, items)
            } else if line.hasPrefix("U:") || line.hasPrefix("A:") {
                guard header != nil else { throw ParseError.malformed(line: number + 1, reason: "a message before the first @ header") }
                turns.append(ChatTurn(role: line.hasPrefix("U:") ? .user : .assistant, text: String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces)))
            } else {
                throw ParseError.malformed(line: number + 1, reason: "expected @, U: or A:")
            }
        }
        finish()
        self.conversations = conversations
    }

    /// Item slugs the labels use that the catalog does not have (a broken set or catalog).
    public func unknownItems(in catalog: Catalog) -> Set<String> {
        Set(conversations.flatMap(\.items)).filter { catalog.item($0) == nil }
    }

    public func run(_ analyzer: some ChatAnalyzer, catalog: CatalogIndex) async -> Report {
        var outcomes: [Outcome] = []
        var tp = 0, fp = 0, fn = 0
        for conversation in conversations {
            let summary = ConversationSummary(await analyzer.analyze(conversation.turns, catalog: catalog))
            let predicted = Set(summary.items)
            tp += predicted.intersection(conversation.items).count
            fp += predicted.subtracting(conversation.items).count
            fn += conversation.items.subtracting(predicted).count
            outcomes.append(Outcome(conversation: conversation, predictedItems: predicted, predictedIntent: summary.intent))
        }
        return Report(outcomes: outcomes, truePositives: tp, falsePositives: fp, falseNegatives: fn)
    }
}
