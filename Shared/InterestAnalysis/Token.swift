import Foundation

/// One word of a message: its normalised form, its stem, and where it stands.
public struct Token: Sendable, Equatable {
    /// Lowercased, accents folded, apostrophes removed ("Don't" → "dont").
    public let text: String
    public let stem: String
    /// Index of the clause (split at sentence punctuation, commas and "but/so/although").
    public let clause: Int
    /// Index of the sentence (split at . ! ? ; and line breaks).
    public let sentence: Int
    /// Range in the original text, for snippets.
    public let range: Range<String.Index>
}
