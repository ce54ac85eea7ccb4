import Foundation
import InterestAnalysis
import ProfileModel

/// An LLM's answer, decoded and checked: every index must name a visitor message, every slug an
/// active catalog item or category, every intent a known one, every confidence lie in [0, 1].
/// Anything else makes the whole answer invalid, since a model that invents one slug may have
/// invented the rest.
struct LLMResponse {
    struct Invalid: Error, CustomStringConvertible {
        let reason: String
        var description: String { "invalid LLM answer: \(reason)" }
    }

    private struct Completion: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message
        }
        let choices: [Choice]
    }

    private struct Answer: Decodable {
        struct Message: Decodable {
            let index: Int
            let interests: [Interest]?
            let intents: [Intent]?
            let pain_points: [String]?
            let entities: [String: Value]?
        }
        struct Interest: Decodable {
            let item: String?
            let category: String?
            let confidence: Double
            let negated: Bool?
        }
        struct Intent: Decodable {
            let intent: String
            let confidence: Double
        }
        enum Value: Decodable {
            case string(String)
            case number(Double)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .string(try container.decode(String.self)) }
            }
        }
        let messages: [Message]
    }

    let content: String

    /// The first choice's message content of a chat-completions response body.
    static func content(ofCompletion body: Data) throws -> String {
        guard let completion = try? JSONDecoder().decode(Completion.self, from: body),
              let content = completion.choices.first?.message.content else { throw Invalid(reason: "not a chat completion") }
        return content
    }

    func analysis(messages: [ChatTurn], catalog: Catalog) throws -> ChatAnalysis {
        // Some models wrap JSON in a Markdown fence despite being asked not to.
        var json = content.trimmingCharacters(in: .whitespacesAndNewlines)
        if json.hasPrefix("```") {
            json = json.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
            if let fence = json.range(of: "```", options: .backwards) { json = String(json[..<fence.lowerBound]) }
        }
        let answer: Answer
        do { answer = try JSONDecoder().decode(Answer.self, from: Data(json.utf8)) } catch { throw Invalid(reason: "does not match the schema: \(error)") }

        var result = Array(repeating: MessageAnalysis.empty, count: messages.count)
        for message in answer.messages {
            guard messages.indices.contains(message.index), messages[message.index].role == .user else {
                throw Invalid(reason: "index \(message.index) is not a visitor message")
            }
            var analysis = MessageAnalysis()
            for interest in message.interests ?? [] {
                guard (0...1).contains(interest.confidence) else { throw Invalid(reason: "confidence \(interest.confidence) is outside 0...1") }
                let target: InterestTarget
                switch (interest.item, interest.category) {
                case (let item?, nil):
                    guard catalog.item(item)?.active == true else { throw Invalid(reason: "unknown item \"\(item)\"") }
                    target = .item(item)
                case (nil, let category?):
                    guard catalog.category(category) != nil else { throw Invalid(reason: "unknown category \"\(category)\"") }
                    target = .category(category)
                default:
                    throw Invalid(reason: "an interest needs exactly one of item and category")
                }
                analysis.mentions.append(InterestMention(target: target, score: interest.confidence, negated: interest.negated ?? false,
                                                         matched: "llm", snippet: String(messages[message.index].text.prefix(300))))
            }
            for intent in message.intents ?? [] {
                guard let known = ChatIntent(rawValue: intent.intent) else { throw Invalid(reason: "unknown intent \"\(intent.intent)\"") }
                guard (0...1).contains(intent.confidence) else { throw Invalid(reason: "confidence \(intent.confidence) is outside 0...1") }
                analysis.intents.append(DetectedIntent(intent: known, confidence: intent.confidence))
            }
            analysis.painPoints = (message.pain_points ?? []).map { String($0.prefix(200)) }
            for (field, value) in (message.entities ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard LLMPrompt.entityFields.contains(field) else { throw Invalid(reason: "unknown entity field \"\(field)\"") }
                switch value {
                case .string(let text): analysis.entities.append(ExtractedEntity(field: field, value: .string(text)))
                case .number(let number): analysis.entities.append(ExtractedEntity(field: field, value: .number(number)))
                }
            }
            result[message.index] = analysis
        }
        return ChatAnalysis(messages: result, detector: "llm")
    }
}
