import Foundation

/// The kinds of profile field Profile Builder understands; the raw value is the name used in
/// field definitions, the API and the database.
public enum FieldType: String, Sendable, CaseIterable, Codable {
    // Contact fields
    case email
    case phone
    case url

    // Identity fields
    case text
    case number
    case date
    case select

    // Complex fields: structured JSON objects
    case address
    case company
    case social

    // Behavioral fields: derived from tracked events rather than typed in by a person
    case interestTags = "interest_tags"
    case engagementScore = "engagement_score"
    case leadScore = "lead_score"
}
