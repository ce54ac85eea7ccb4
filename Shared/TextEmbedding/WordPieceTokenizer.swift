import Foundation

/// BERT's tokenizer (basic tokenization, then greedy longest-match-first WordPiece) as
/// Hugging Face's tokenizers library runs it, so the ids match those the model was trained on.
public struct WordPieceTokenizer: Sendable {
    /// The normalisation and WordPiece options, as tokenizer.json or tokenizer_config.json set them.
    public struct Settings: Sendable, Equatable {
        public var cleanText = true
        public var handleChineseCharacters = true
        public var stripAccents = true
        public var lowercase = true
        public var unknownToken = "[UNK]"
        public var classifierToken = "[CLS]"
        public var separatorToken = "[SEP]"
        public var continuingSubwordPrefix = "##"
        public var maxInputCharactersPerWord = 100

        public init() {}
    }

    public let settings: Settings
    /// Token ids per text at most, [CLS] and [SEP] included.
    public let maxLength: Int
    /// One past the largest id the vocabulary holds.
    public let vocabularyBound: Int
    public let classifierID: Int32
    public let separatorID: Int32
    public let unknownID: Int32

    private let trie: ByteTrie
    /// Tokens cut out of the raw text before normalisation, as HF's added vocabulary does, so a
    /// literal "[SEP]" in a message is the separator token and not "[", "sep", "]".
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int32)]
    private let specialTokenStarts: Set<Unicode.Scalar>

    /// - Parameters:
    ///   - vocabulary: token → id; ids need not be dense.
    ///   - specialTokens: tokens matched verbatim in the raw text (HF's added tokens).
    ///   - source: the file the vocabulary came from, for error messages.
    public init(vocabulary: [String: Int32], settings: Settings, specialTokens: [String], maxLength: Int, source: String) throws {
        func fail(_ problem: String) -> EmbeddingModelError { EmbeddingModelError(file: source, problem: problem) }
        func lookup(_ token: String) throws -> Int32 {
            guard let id = vocabulary[token] else { throw fail("has no token \(token)") }
            return id
        }
        guard maxLength >= 2 else { throw fail("max length \(maxLength) leaves no room for [CLS] and [SEP]") }
        guard vocabulary.values.allSatisfy({ $0 >= 0 }) else { throw fail("has negative token ids") }
        self.settings = settings
        self.maxLength = maxLength
        classifierID = try lookup(settings.classifierToken)
        separatorID = try lookup(settings.separatorToken)
        unknownID = try lookup(settings.unknownToken)
        vocabularyBound = Int(vocabulary.values.max() ?? 0) + 1
        trie = ByteTrie(vocabulary: vocabulary, continuingPrefix: settings.continuingSubwordPrefix)
        self.specialTokens = specialTokens.compactMap { token in
            vocabulary[token].map { (Array(token.unicodeScalars), $0) }
        }.filter { !$0.scalars.isEmpty }
        specialTokenStarts = Set(self.specialTokens.map { $0.scalars[0] })
    }

    /// The ids BERT sees for `text`: [CLS], the word pieces cut to fit `maxLength`, [SEP].
    public func tokenIDs(_ text: String) -> [Int32] {
        let budget = maxLength - 2
        var ids: [Int32] = [classifierID]
        ids.reserveCapacity(min(maxLength, text.utf8.count + 2))
        var word: [UInt8] = []
        let scalars = Array(text.unicodeScalars)
        // Special tokens split the text first; each piece between them is tokenized on its own.
        var segmentStart = 0
        var index = 0
        while index < scalars.count, ids.count <= budget {
            guard specialTokenStarts.contains(scalars[index]),
                  let special = longestSpecialToken(in: scalars, at: index)
            else {
                index += 1
                continue
            }
            appendWordPieces(of: scalars[segmentStart ..< index], to: &ids, word: &word, budget: budget)
            ids.append(special.id)
            index += special.length
            segmentStart = index
        }
        if ids.count <= budget {
            appendWordPieces(of: scalars[segmentStart...], to: &ids, word: &word, budget: budget)
        }
        if ids.count > budget + 1 { ids.removeLast(ids.count - budget - 1) }
        ids.append(separatorID)
        return ids
    }

    private func longestSpecialToken(in scalars: [Unicode.Scalar], at index: Int) -> (id: Int32, length: Int)? {
        var best: (id: Int32, length: Int)?
        for token in specialTokens where token.scalars.count > (best?.length ?? 0) && index + token.scalars.count <= scalars.count {
            if scalars[index ..< index + token.scalars.count].elementsEqual(token.scalars) {
                best = (token.id, token.scalars.count)
            }
        }
        return best
    }

    // MARK: Basic tokenization (HF tokenizers' BertNormalizer, then BertPreTokenizer)

    private func appendWordPieces(of raw: ArraySlice<Unicode.Scalar>, to ids: inout [Int32], word: inout [UInt8], budget: Int) {
        forEachWord(in: raw, buffer: &word) { word, characters in
            appendPieces(of: word, characters: characters, to: &ids)
            return ids.count <= budget
        }
    }

    /// The words BERT's basic tokenization makes of `text` (special tokens not split out).
    func basicTokens(_ text: String) -> [String] {
        var words: [String] = []
        var buffer: [UInt8] = []
        forEachWord(in: Array(text.unicodeScalars)[...], buffer: &buffer) { word, _ in
            words.append(String(decoding: word, as: UTF8.self))
            return true
        }
        return words
    }

    /// Normalises `raw` and hands each word of it, as UTF-8 and its character count, to `body`
    /// until that returns false.
    private func forEachWord(in raw: ArraySlice<Unicode.Scalar>, buffer word: inout [UInt8], _ body: ([UInt8], Int) -> Bool) {
        guard !raw.isEmpty else { return }
        var characters = 0
        word.removeAll(keepingCapacity: true)
        for scalar in normalize(raw) {
            let isPunctuation = scalar.isBERTPunctuation
            if scalar.isBERTWhitespace || isPunctuation, !word.isEmpty {
                guard body(word, characters) else { return }
                word.removeAll(keepingCapacity: true)
                characters = 0
            }
            if scalar.isBERTWhitespace { continue }
            UTF8.encode(scalar) { word.append($0) }
            characters += 1
            if isPunctuation {
                guard body(word, characters) else { return }
                word.removeAll(keepingCapacity: true)
                characters = 0
            }
        }
        if !word.isEmpty { _ = body(word, characters) }
    }

    /// BertNormalizer in the library's order: clean, space out CJK, strip accents, lowercase.
    private func normalize(_ raw: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        var isASCII = true
        for scalar in raw {
            if settings.cleanText {
                if scalar.isBERTControl { continue }
                if scalar.isBERTWhitespace {
                    cleaned.append(" ")
                    continue
                }
            }
            if !scalar.isASCII { isASCII = false }
            if settings.handleChineseCharacters && scalar.isBERTChineseCharacter {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(cleaned.count)
        if isASCII {
            // ASCII has no decompositions and no combining marks: skip the Unicode machinery.
            for scalar in cleaned {
                output.append(settings.lowercase && ("A" ... "Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar)
            }
            return output
        }
        let text = settings.stripAccents ? String(cleaned).decomposedStringWithCanonicalMapping : String(cleaned)
        for scalar in text.unicodeScalars {
            if settings.stripAccents && scalar.isBERTNonspacingMark { continue }
            if settings.lowercase {
                // Per scalar with the full mappings, as Rust's char::to_lowercase (with accents kept,
                // İ becomes i + U+0307), and without context rules such as the final sigma.
                output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                output.append(scalar)
            }
        }
        return output
    }

    // MARK: WordPiece

    private func appendPieces(of word: [UInt8], characters: Int, to ids: inout [Int32]) {
        guard characters <= settings.maxInputCharactersPerWord else {
            ids.append(unknownID)
            return
        }
        let firstPiece = ids.count
        var start = 0
        while start < word.count {
            guard let (id, end) = trie.longestMatch(in: word, from: start, continuing: start > 0) else {
                // A word with any piece outside the vocabulary is one [UNK] as a whole.
                ids.removeLast(ids.count - firstPiece)
                ids.append(unknownID)
                return
            }
            ids.append(id)
            start = end
        }
    }
}

/// The vocabulary as a byte trie, so the longest piece at a position is found in one walk
/// instead of one dictionary probe per candidate length.
private struct ByteTrie: Sendable {
    // Node 0 roots the word-initial pieces, node 1 the continuing ones ("##" removed).
    private var tokenIDs: [Int32] = [-1, -1]
    private var edges: [Int: Int32] = [:]

    init(vocabulary: [String: Int32], continuingPrefix: String) {
        edges.reserveCapacity(vocabulary.count * 4)
        for (token, id) in vocabulary {
            insert(Array(token.utf8), id: id, root: 0)
            // Bytes, not String.hasPrefix: "##" + a combining vowel sign is one Character,
            // so the Character-wise test would miss pieces such as "##ा".
            if !continuingPrefix.isEmpty, token.utf8.starts(with: continuingPrefix.utf8) {
                insert(Array(token.utf8.dropFirst(continuingPrefix.utf8.count)), id: id, root: 1)
            }
        }
    }

    private mutating func insert(_ bytes: [UInt8], id: Int32, root: Int32) {
        guard !bytes.isEmpty else { return }
        var node = root
        for byte in bytes {
            let key = Int(node) << 8 | Int(byte)
            if let next = edges[key] {
                node = next
            } else {
                let next = Int32(tokenIDs.count)
                tokenIDs.append(-1)
                edges[key] = next
                node = next
            }
        }
        tokenIDs[Int(node)] = id
    }

    /// The id and end of the longest vocabulary piece starting at `start`; vocabulary tokens are
    /// whole UTF-8 characters, so every match ends on a character boundary.
    func longestMatch(in bytes: [UInt8], from start: Int, continuing: Bool) -> (Int32, Int)? {
        var node: Int32 = continuing ? 1 : 0
        var best: (Int32, Int)?
        var index = start
        while index < bytes.count, let next = edges[Int(node) << 8 | Int(bytes[index])] {
            node = next
            index += 1
            let id = tokenIDs[Int(node)]
            if id >= 0 { best = (id, index) }
        }
        return best
    }
}
