import Foundation
import Testing
import TextEmbedding

/// Damaged model folders must fail to load with an error naming the file, never half-load or crash.
@Suite("Model folder validation")
struct ModelFolderValidationTests {
    /// A throwaway copy of the real folder: unchanged files are links to the originals, and
    /// `damage` replaces or removes the ones under test.
    private func loadDamagedCopy(_ damage: (URL, URL) throws -> Void) throws -> EmbeddingModelError? {
        let original = try TestModel.requireDirectory()
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("embedding-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        let files = try FileManager.default.subpathsOfDirectory(atPath: original.path)
        for file in files {
            var isDirectory: ObjCBool = false
            let source = original.appendingPathComponent(file)
            let target = copy.appendingPathComponent(file)
            _ = FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createSymbolicLink(at: target, withDestinationURL: source)
            }
        }
        try damage(original, copy)
        do {
            _ = try MiniLMEmbedder(modelDirectory: copy)
            return nil
        } catch let error as EmbeddingModelError {
            return error
        }
    }

    private func expectFailure(naming file: String, saying words: String, _ damage: (URL, URL) throws -> Void) throws {
        let error = try loadDamagedCopy(damage)
        let message = try #require(error.map { "\($0)" }, "the damaged folder loaded")
        #expect(error?.file.hasSuffix("/" + file) == true, "\(message)")
        #expect(message.contains(file), "\(message)")
        #expect(message.contains(words), "\(message)")
    }

    private func remove(_ file: String, in folder: URL) throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
    }

    /// Replaces a linked file by real bytes.
    private func write(_ data: Data, to file: String, in folder: URL) throws {
        try remove(file, in: folder)
        try data.write(to: folder.appendingPathComponent(file))
    }

    @Test func the_undamaged_copy_loads() throws {
        #expect(try loadDamagedCopy { _, _ in } == nil)
    }

    @Test func missing_vocabulary() throws {
        try expectFailure(naming: "vocab.txt", saying: "missing") { _, copy in
            try remove("vocab.txt", in: copy)
            try remove("tokenizer.json", in: copy)
        }
    }

    @Test func missing_tokenizer_json_falls_back_to_vocab_txt() throws {
        #expect(try loadDamagedCopy { _, copy in try remove("tokenizer.json", in: copy) } == nil)
    }

    @Test func missing_weights() throws {
        try expectFailure(naming: "model.safetensors", saying: "missing") { _, copy in
            try remove("model.safetensors", in: copy)
        }
    }

    @Test func missing_config() throws {
        try expectFailure(naming: "config.json", saying: "missing") { _, copy in
            try remove("config.json", in: copy)
        }
    }

    @Test(arguments: [0, 7, 100, 20_000, 45_000_000, 90_868_375])
    func truncated_weights(keeping bytes: Int) throws {
        try expectFailure(naming: "model.safetensors", saying: "truncated") { original, copy in
            let data = try Data(contentsOf: original.appendingPathComponent("model.safetensors"), options: .alwaysMapped)
            try write(data.prefix(bytes), to: "model.safetensors", in: copy)
        }
    }

    @Test func a_tensor_with_the_wrong_shape() throws {
        try expectFailure(naming: "model.safetensors", saying: "encoder.layer.3.intermediate.dense.weight has shape [384, 1536]") { original, copy in
            // A transposed weight: same byte count, so only the check against config.json can catch it.
            let data = try Data(contentsOf: original.appendingPathComponent("model.safetensors"), options: .alwaysMapped)
            let headerSize = Int(data.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            var header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + headerSize)) as? [String: Any])
            var entry = try #require(header["encoder.layer.3.intermediate.dense.weight"] as? [String: Any])
            entry["shape"] = [384, 1536]
            header["encoder.layer.3.intermediate.dense.weight"] = entry
            let newHeader = try JSONSerialization.data(withJSONObject: header)
            var rewritten = Data(withUnsafeBytes(of: UInt64(newHeader.count).littleEndian) { Data($0) })
            rewritten.append(newHeader)
            rewritten.append(data.suffix(from: 8 + headerSize))
            try write(rewritten, to: "model.safetensors", in: copy)
        }
    }

    @Test func config_that_disagrees_with_the_weights() throws {
        try expectFailure(naming: "model.safetensors", saying: "config.json implies") { original, copy in
            let text = try String(contentsOf: original.appendingPathComponent("config.json"), encoding: .utf8)
            try write(Data(text.replacingOccurrences(of: "\"intermediate_size\": 1536", with: "\"intermediate_size\": 1024").utf8),
                      to: "config.json", in: copy)
        }
    }

    @Test func an_unknown_vocabulary_format_in_tokenizer_json() throws {
        try expectFailure(naming: "tokenizer.json", saying: "unknown vocabulary format") { original, copy in
            let text = try String(contentsOf: original.appendingPathComponent("tokenizer.json"), encoding: .utf8)
            try write(Data(text.replacingOccurrences(of: "\"type\":\"WordPiece\",\"unk_token\"", with: "\"type\":\"BPE\",\"unk_token\"").utf8),
                      to: "tokenizer.json", in: copy)
        }
    }

    @Test func an_unknown_vocabulary_format_in_vocab_txt() throws {
        try expectFailure(naming: "vocab.txt", saying: "unknown vocabulary format") { _, copy in
            try remove("tokenizer.json", in: copy)
            try write(Data([0x80, 0x00, 0xFF, 0x0A, 0x01]), to: "vocab.txt", in: copy)
        }
    }

    @Test func tokenizer_json_that_is_not_json() throws {
        try expectFailure(naming: "tokenizer.json", saying: "is not a tokenizer.json") { _, copy in
            try write(Data("not json".utf8), to: "tokenizer.json", in: copy)
        }
    }

    @Test func a_vocabulary_larger_than_the_embedding_table() throws {
        try expectFailure(naming: "vocab.txt", saying: "vocab_size") { original, copy in
            try remove("tokenizer.json", in: copy)
            var text = try String(contentsOf: original.appendingPathComponent("vocab.txt"), encoding: .utf8)
            text += "extra-token\n"
            try write(Data(text.utf8), to: "vocab.txt", in: copy)
        }
    }
}
