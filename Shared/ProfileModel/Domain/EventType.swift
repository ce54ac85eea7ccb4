/// The type of a stored event (`events.type`): Segment's calls plus the spec's chat and interaction events.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case track, page, screen, identify, alias, group, chat, interaction
}
