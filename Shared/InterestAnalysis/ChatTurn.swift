/// One message of a conversation as the analysers see it.
public struct ChatTurn: Sendable, Equatable {
    public enum Role: String, Sendable, Codable {
        case user
        case assistant
        case system
    }

    public let role: Role
    public let text: String

    public init(role: Role, text: String) {
        self.role = role
        self.text = text
    }
}
