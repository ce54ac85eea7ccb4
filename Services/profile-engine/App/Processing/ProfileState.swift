import Foundation
import ProfileModel

/// A profile loaded for a batch and the changes the batch makes to it.
struct ProfileState: Sendable {
    let id: UUID
    let siteID: Int64
    var fields: [String: JSONValue]
    var meta: [String: JSONValue]
    var firstSeen: Date?
    var lastSeen: Date?
    var stage: String
    let originalStage: String
    var isNew: Bool
    var leadScore: Int
    var engagementScore: Int
    var breakdown: [JSONValue]
    var changedFields: Set<String> = []
    var stageReason: String?
    var firstEventID: Int64?

    mutating func seen(at time: Date) {
        firstSeen = min(firstSeen ?? time, time)
        lastSeen = max(lastSeen ?? time, time)
    }

    /// Offers a validated value for a field; it is kept if it wins under the field's conflict rule.
    mutating func offer(_ field: FieldDefinition, value: JSONValue, provenance: FieldProvenance) {
        guard FieldProvenance.wins(provenance, over: FieldProvenance(meta[field.name]), rule: field.conflict) else { return }
        if fields[field.name] != value { changedFields.insert(field.name) }
        fields[field.name] = value
        meta[field.name] = provenance.json
    }

    mutating func apply(_ score: LeadScore) {
        leadScore = score.lead
        engagementScore = score.engagement
        breakdown = score.breakdown
        if score.stage != stage {
            stage = score.stage
            stageReason = score.stageReason
        }
    }

    /// anonymous → known once the visitor has a user id or an email; later stages belong to scoring.
    mutating func markKnown(reason: String) {
        guard stage == "anonymous" else { return }
        stage = LeadStage.known.rawValue
        stageReason = reason
    }

    var row: JSONValue {
        func time(_ date: Date?) -> JSONValue { date.map { .string($0.formatted(FieldProvenance.timestampStyle)) } ?? .null }
        return ["id": .string(id.uuidString), "fields": .object(fields), "field_meta": .object(meta),
                "first_seen_at": time(firstSeen), "last_seen_at": time(lastSeen), "stage": .string(stage),
                "lead_score": .number(Double(leadScore)), "engagement_score": .number(Double(engagementScore)),
                "score_breakdown": .array(breakdown)]
    }
}
