import Foundation

/// Splits text into tokens: case and accents folded, punctuation dropped, words stemmed, and
/// clause/sentence boundaries kept because negation and intent cues only reach within them.
public enum TextNormalizer {
    /// Words that start a new clause: "we need X but not Y" negates only Y.
    static let clauseBreakers: Set<String> = ["but", "so", "although", "though", "however", "whereas", "except"]

    public static func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var clause = 0
        var sentence = 0
        var wordStart: String.Index?
        var word = ""
        var index = text.startIndex

        func flush(at end: String.Index) {
            guard let start = wordStart else { return }
            let folded = word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
            if !folded.isEmpty {
                if clauseBreakers.contains(folded), tokens.last?.clause == clause { clause += 1 }
                tokens.append(Token(text: folded, stem: Stemmer.stem(folded), clause: clause, sentence: sentence, range: start..<end))
            }
            wordStart = nil
            word = ""
        }

        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character.isLetter || character.isNumber {
                if wordStart == nil { wordStart = index }
                word.append(character)
            } else if (character == "'" || character == "’"), wordStart != nil, next < text.endIndex, text[next].isLetter {
                // Apostrophes inside a word disappear: "don't" → "dont", "lumen's" → "lumens".
            } else {
                flush(at: index)
                if ".!?;\n".contains(character) {
                    if tokens.last?.sentence == sentence { sentence += 1 }
                    if tokens.last?.clause == clause { clause += 1 }
                } else if ",:()".contains(character) || (character == "-" && index > text.startIndex
                                                         && text[text.index(before: index)] == " ") {
                    if tokens.last?.clause == clause { clause += 1 }
                }
            }
            index = next
        }
        flush(at: text.endIndex)
        return tokens
    }

    /// The stems of a catalog phrase, tokenised exactly as messages are.
    public static func stems(_ phrase: String) -> [String] {
        tokens(phrase).map(\.stem)
    }
}
