/// Why the identity rules refused a merge or a link (`identity_conflicts.rule`, docs/IDENTITY.md).
public enum IdentityConflictRule: String, Sendable, CaseIterable {
    /// A placeholder value (`undefined`, `test@test.com`, …) that identifies nobody.
    case blockedValue = "blocked_value"
    /// A claimed identifier of a profile that a verified identifier knows.
    case claimedIdentifierOfVerifiedPerson = "claimed_identifier_of_verified_person"
    /// A claimed identifier that would pull another profile into a verified person's.
    case claimedLinkIntoVerifiedPerson = "claimed_link_into_verified_person"
    /// A claimed email of a profile that has a user id.
    case claimedEmailOfKnownUser = "claimed_email_of_known_user"
    /// A claimed email of another profile, on a site that does not link by claimed emails.
    case claimedEmailLinksDisabled = "claimed_email_links_disabled"
    /// A verified email that another profile had only claimed: it moves, the profile is not merged.
    case claimedProfileNotMerged = "claimed_profile_not_merged"
    /// One identifier of a kind more than a profile may hold.
    case identifierLimit = "identifier_limit"
    /// More profiles merged into one than the site allows.
    case mergeCap = "merge_cap"
    /// The event's user id differs from the user id of the profile its other identifiers name.
    case conflictingUserIDs = "conflicting_user_ids"

    public static let names = allCases.map(\.rawValue)
}
