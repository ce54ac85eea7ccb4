/// One field of the profile, as declared in `profile_fields.yaml`.
public struct FieldDefinition: Sendable, Equatable {
    public let name: String
    public let type: FieldType
    public let required: Bool
    /// Shown to the chat agent when it builds a prompt from the profile.
    public let description: String
    public let defaultValue: JSONValue?
    public let conflict: ConflictRule
    public let rules: FieldRules

    public init(name: String, type: FieldType, required: Bool = false, description: String,
                defaultValue: JSONValue? = nil, conflict: ConflictRule = .lastWriteWins, rules: FieldRules = FieldRules()) {
        self.name = name
        self.type = type
        self.required = required
        self.description = description
        self.defaultValue = defaultValue
        self.conflict = conflict
        self.rules = rules
    }

    /// Validates and normalises a value for this field.
    public func normalize(_ value: JSONValue) -> Result<JSONValue, FieldValidationError> {
        FieldValidator.normalize(value, as: type, rules: rules)
    }
}
