import Foundation
import Mustache
import ProfileModel

/// Renders follow-up email templates (Mustache) with a visitor's profile and a summary of their
/// latest conversation. Missing values render as empty text, so a template written for known
/// visitors still produces a sensible email for half-known ones (use {{#name}}…{{/name}}).
enum EmailRenderer {
    struct InvalidTemplate: Error, CustomStringConvertible {
        let part: String
        let message: String
        var description: String { "\(part): \(message)" }
    }

    /// Parses a template, so a broken one is refused when it is saved rather than when it is sent.
    static func validate(subject: String, body: String) throws {
        for (part, text) in [("subject", subject), ("body", body)] {
            do {
                _ = try MustacheTemplate(string: text)
            } catch {
                throw InvalidTemplate(part: part, message: "\(error)")
            }
        }
    }

    static func render(subject: String, body: String, context: JSONValue) throws -> (subject: String, body: String) {
        let object = plain(context)
        return (try MustacheTemplate(string: subject).render(object), try MustacheTemplate(string: body).render(object))
    }

    /// The rendering context: profile fields at the top level (`{{name}}`, `{{company.name}}`),
    /// plus `interests`, `recommended`, `conversation` and `stage`.
    static func context(profile: JSONValue, recommendations: JSONValue?, conversation: [JSONValue]) -> JSONValue {
        var context = profile["fields"]?.objectValue ?? [:]
        context["first_name"] = (profile["fields"]?["name"]?.stringValue?.split(separator: " ").first).map { .string(String($0)) }
        context["stage"] = profile["stage"]
        context["lead_score"] = profile["lead_score"]
        context["interests"] = .array((profile["interests"]?.arrayValue ?? []).prefix(3).map { ["name": $0["item"] ?? $0["category"] ?? .null] })
        context["recommended"] = .array((recommendations?["items"]?.arrayValue ?? []).prefix(3).map { ["name": $0["name"] ?? .null, "slug": $0["item"] ?? .null] })
        let questions = conversation.compactMap { $0["role"]?.stringValue == "user" ? $0["text"]?.stringValue : nil }
        context["conversation"] = questions.isEmpty ? nil : .object([
            "summary": .string(summary(of: questions)),
            "messages": .array(conversation.suffix(6).map { ["role": $0["role"] ?? .null, "text": $0["text"] ?? .null] }),
        ])
        return .object(context.compactMapValues { $0 })
    }

    /// An extractive summary: the visitor's own questions, shortened, newest last.
    static func summary(of questions: [String]) -> String {
        let trimmed = questions.suffix(3).map { text -> String in
            let clean = text.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
            return clean.count > 140 ? String(clean.prefix(137)) + "…" : clean
        }
        return "You asked: " + trimmed.map { "“\($0)”" }.joined(separator: "; ")
    }

    private static func plain(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let b): return b
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? Int(n) : n
        case .string(let s): return s
        case .array(let a): return a.map(plain)
        case .object(let o): return o.mapValues(plain)
        }
    }
}
