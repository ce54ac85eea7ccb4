/// The character classes BERT's basic tokenizer cleans and splits text by, as HF tokenizers
/// defines them: from its own tables, which are not Swift's (or Python's) current Unicode.
extension Unicode.Scalar {
    /// Tab, newline and carriage return count as whitespace here although Unicode calls them controls.
    var isBERTWhitespace: Bool {
        switch value {
        case 0x09 ... 0x0D, 0x20: return true
        case 0 ..< 0x80: return false
        default: return BERTCharacterTables.whitespace.containsCodePoint(value)
        }
    }

    /// Removed by the clean-up; unassigned code points are not, so they reach WordPiece as [UNK].
    var isBERTControl: Bool {
        switch value {
        case 0x09, 0x0A, 0x0D, 0x20 ..< 0x7F: return false
        default: return BERTCharacterTables.control.containsCodePoint(value)
        }
    }

    /// ASCII symbols such as $, + and ^ count as punctuation too, so "$5" splits like "(5".
    var isBERTPunctuation: Bool {
        switch value {
        case 0x21 ... 0x2F, 0x3A ... 0x40, 0x5B ... 0x60, 0x7B ... 0x7E: return true
        case 0 ..< 0x80: return false
        default: return BERTCharacterTables.punctuation.containsCodePoint(value)
        }
    }

    var isBERTNonspacingMark: Bool {
        value >= 0x300 && BERTCharacterTables.nonspacingMark.containsCodePoint(value)
    }

    /// CJK ideographs only (not Hangul or kana), each of which becomes a word of its own.
    var isBERTChineseCharacter: Bool {
        value >= 0x3400 && BERTCharacterTables.chinese.containsCodePoint(value)
    }
}

extension [UInt32] {
    /// Binary search in sorted inclusive [first, last] pairs.
    fileprivate func containsCodePoint(_ value: UInt32) -> Bool {
        var low = 0
        var high = count / 2
        while low < high {
            let middle = (low + high) / 2
            if self[2 * middle + 1] < value {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < count / 2 && self[2 * low] <= value
    }
}
