import Crypto
import Foundation
import ProfileModel

/// A compact, prompt-ready summary of a visitor for the chat agent: what is known (with each
/// field's description from profile_fields.yaml), top interests, recent intents and pain points, stage and
/// score, what to recommend next and what not to ask again — bounded to `maxCharacters`.
struct PersonalizationContext: Sendable {
    let registry: FieldRegistry
    let holdoutPercent: Int

    /// Deterministic per profile, so a visitor stays in (or out of) the holdout group across
    /// calls and processes; the holdout group gets no recommendations (for measuring ROI).
    func isHoldout(_ profileID: UUID) -> Bool {
        let digest = SHA256.hash(data: Data(profileID.uuidString.lowercased().utf8))
        let bucket = digest.prefix(2).reduce(0) { $0 << 8 | Int($1) } % 100
        return bucket < holdoutPercent
    }

    func build(profile: JSONValue, intents: [String], recommendations: JSONValue?, maxCharacters: Int) -> JSONValue {
        let id = profile["id"]?.stringValue ?? ""
        let holdout = UUID(uuidString: id).map(isHoldout) ?? false
        let fields = profile["fields"]?.objectValue ?? [:]
        let known: [(String, String, String)] = registry.fields.compactMap { definition in
            guard let value = fields[definition.name], !value.isNull else { return nil }
            let text = value.stringValue ?? value["name"]?.stringValue ?? value.description
            return (definition.name, definition.description, String(text.prefix(120)))
        }
        let interests = (profile["interests"]?.arrayValue ?? []).prefix(5).compactMap { interest -> (String, Double)? in
            guard let name = interest["item"]?.stringValue ?? interest["category"]?.stringValue else { return nil }
            return (name, interest["confidence"]?.doubleValue ?? 0)
        }
        let recommended = holdout ? [] : (recommendations?["items"]?.arrayValue ?? []).prefix(3).compactMap { $0["item"]?.stringValue }
        let painPoints = (profile["chat"]?["pain_points"]?.arrayValue ?? []).prefix(3).compactMap { $0["text"]?.stringValue }.map { String($0.prefix(160)) }
        let stage = profile["stage"]?.stringValue ?? "anonymous"
        let score = profile["lead_score"]?.intValue ?? 0

        // Most useful first, so cutting to the bound drops the least useful lines.
        var lines = ["Visitor stage: \(stage) (lead score \(score))."]
        if !known.isEmpty { lines.append("Known: " + known.map { "\($0.0) = \($0.2)" }.joined(separator: "; ") + ".") }
        if !interests.isEmpty { lines.append("Interested in: " + interests.map { "\($0.0) (\(String(format: "%.2f", $0.1)))" }.joined(separator: ", ") + ".") }
        if !intents.isEmpty { lines.append("Recent intents: " + intents.joined(separator: ", ") + ".") }
        if !painPoints.isEmpty { lines.append("Pain points, in their words: " + painPoints.map { "\"\($0)\"" }.joined(separator: "; ") + ".") }
        if !recommended.isEmpty { lines.append("Suggest next: " + recommended.joined(separator: ", ") + ".") }
        if !known.isEmpty { lines.append("Do not ask again for: " + known.map(\.0).joined(separator: ", ") + ".") }
        let missing = registry.fields.filter { fields[$0.name] == nil && $0.type != .leadScore && $0.type != .engagementScore && $0.type != .interestTags }
        if !missing.isEmpty { lines.append("Could still learn: " + missing.prefix(5).map { "\($0.name) (\($0.description))" }.joined(separator: "; ") + ".") }
        var summary = ""
        for line in lines {
            let candidate = summary.isEmpty ? line : summary + "\n" + line
            if candidate.count > maxCharacters {
                if summary.isEmpty { summary = String(line.prefix(maxCharacters)) }
                break
            }
            summary = candidate
        }
        return [
            "profile_id": .string(id), "holdout": .bool(holdout), "stage": .string(stage), "lead_score": .number(Double(score)),
            "known": .array(known.map { ["field": .string($0.0), "description": .string($0.1), "value": .string($0.2)] }),
            "interests": .array(interests.map { ["name": .string($0.0), "confidence": .number($0.1)] }),
            "intents": .array(intents.map(JSONValue.string)),
            "pain_points": .array(painPoints.map(JSONValue.string)),
            "recommended": .array(recommended.map(JSONValue.string)),
            "do_not_ask": .array(known.map { .string($0.0) }),
            "summary": .string(summary),
        ]
    }
}
