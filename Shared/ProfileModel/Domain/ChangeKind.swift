/// What happened to a profile (`profile_changes.kind`): the outbox that webhooks and exports read.
public enum ChangeKind: String, Sendable, CaseIterable, Codable {
    case created, updated, merged
    case stageChanged = "stage_changed"
    case segmentEntered = "segment_entered"
    case segmentLeft = "segment_left"
    case erased, anonymized
}
