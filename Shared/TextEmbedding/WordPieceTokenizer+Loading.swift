import Foundation

extension WordPieceTokenizer {
    /// Reads a Hugging Face tokenizer.json, the file the reference (fast) tokenizer is built from;
    /// anything but WordPiece with BERT's normaliser and pre-tokenizer is refused, not approximated.
    public init(tokenizerJSON url: URL, maxLength: Int) throws {
        let file = try ModelFile.json(TokenizerJSON.self, at: url, what: "a tokenizer.json")
        func fail(_ problem: String) -> EmbeddingModelError { EmbeddingModelError(file: url.path, problem: problem) }
        guard file.model.type == "WordPiece", let vocabulary = file.model.vocab else {
            throw fail("has an unknown vocabulary format: model type \(file.model.type ?? "none"), only WordPiece is supported")
        }
        guard let normalizer = file.normalizer, normalizer.type == "BertNormalizer" else {
            throw fail("has normalizer \(file.normalizer?.type ?? "none"), only BertNormalizer is supported")
        }
        guard file.pre_tokenizer?.type == "BertPreTokenizer" else {
            throw fail("has pre_tokenizer \(file.pre_tokenizer?.type ?? "none"), only BertPreTokenizer is supported")
        }
        var settings = Settings()
        settings.cleanText = normalizer.clean_text ?? true
        settings.handleChineseCharacters = normalizer.handle_chinese_chars ?? true
        settings.lowercase = normalizer.lowercase ?? true
        // null means "as lowercase", which is what makes the uncased models strip accents.
        settings.stripAccents = normalizer.strip_accents ?? settings.lowercase
        settings.unknownToken = file.model.unk_token ?? settings.unknownToken
        settings.continuingSubwordPrefix = file.model.continuing_subword_prefix ?? settings.continuingSubwordPrefix
        settings.maxInputCharactersPerWord = file.model.max_input_chars_per_word ?? settings.maxInputCharactersPerWord
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (token, id) in vocabulary {
            guard let id = Int32(exactly: id), id >= 0 else { throw fail("token \(token) has id \(id), out of range") }
            ids[token] = id
        }
        try self.init(
            vocabulary: ids, settings: settings, specialTokens: (file.added_tokens ?? []).map(\.content),
            maxLength: maxLength, source: url.path)
    }

    /// Reads a BERT vocab.txt (one token a line, its line number the id), with the options of
    /// tokenizer_config.json when that file exists (BertTokenizer's defaults otherwise).
    public init(vocabularyText url: URL, tokenizerConfig configURL: URL?, maxLength: Int) throws {
        let data = try ModelFile.read(url)
        func fail(_ problem: String) -> EmbeddingModelError { EmbeddingModelError(file: url.path, problem: problem) }
        // Split as bytes: as Characters, "\r\n" is one and a line may start with a mark that
        // fuses with the newline before it.
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count < Int(Int32.max) else { throw fail("has too many lines") }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            let bytes = line.last == 0x0D ? line.dropLast() : line
            guard !bytes.contains(0), let token = String(bytes: bytes, encoding: .utf8) else {
                throw fail("has an unknown vocabulary format: line \(index + 1) is not UTF-8 text")
            }
            // Later duplicates win, as in both HF loaders.
            vocabulary[token] = Int32(index)
        }
        var settings = Settings()
        var special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        if let configURL, ModelFile.exists(configURL) {
            let config = try ModelFile.json(TokenizerConfigJSON.self, at: configURL, what: "a tokenizer_config.json")
            settings.lowercase = config.do_lower_case ?? true
            settings.stripAccents = config.strip_accents ?? settings.lowercase
            settings.handleChineseCharacters = config.tokenize_chinese_chars ?? true
            settings.unknownToken = config.unk_token?.content ?? settings.unknownToken
            settings.classifierToken = config.cls_token?.content ?? settings.classifierToken
            settings.separatorToken = config.sep_token?.content ?? settings.separatorToken
            special = [config.pad_token?.content ?? "[PAD]", settings.unknownToken, settings.classifierToken,
                       settings.separatorToken, config.mask_token?.content ?? "[MASK]"]
        }
        try self.init(vocabulary: vocabulary, settings: settings, specialTokens: special, maxLength: maxLength, source: url.path)
    }
}

// Field names as the Hugging Face files spell them.
private struct TokenizerJSON: Decodable {
    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]?
        let unk_token: String?
        let continuing_subword_prefix: String?
        let max_input_chars_per_word: Int?
    }
    struct Normalizer: Decodable {
        let type: String
        let clean_text: Bool?
        let handle_chinese_chars: Bool?
        let strip_accents: Bool?
        let lowercase: Bool?
    }
    struct PreTokenizer: Decodable {
        let type: String
    }
    struct AddedToken: Decodable {
        let content: String
    }
    let model: Model
    let normalizer: Normalizer?
    let pre_tokenizer: PreTokenizer?
    let added_tokens: [AddedToken]?
}

private struct TokenizerConfigJSON: Decodable {
    /// transformers writes a special token either as its text or as an object holding it.
    struct TokenName: Decodable {
        let content: String?
        private enum Keys: String, CodingKey { case content }
        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                content = text
            } else {
                content = try decoder.container(keyedBy: Keys.self).decodeIfPresent(String.self, forKey: .content)
            }
        }
    }
    let do_lower_case: Bool?
    let strip_accents: Bool?
    let tokenize_chinese_chars: Bool?
    let unk_token: TokenName?
    let cls_token: TokenName?
    let sep_token: TokenName?
    let pad_token: TokenName?
    let mask_token: TokenName?
}
