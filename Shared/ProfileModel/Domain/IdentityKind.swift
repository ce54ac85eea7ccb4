/// A kind of identifier that resolves a visitor to a profile (`profile_identities.kind`).
public enum IdentityKind: String, Sendable, CaseIterable, Codable {
    case anonymousID = "anonymous_id"
    case userID = "user_id"
    case email
}
