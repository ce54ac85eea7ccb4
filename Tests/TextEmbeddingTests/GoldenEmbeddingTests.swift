import Foundation
import Testing
import TextEmbedding

/// The Swift port against sentence-transformers' own output for the same sentences.
@Suite("Golden embeddings")
struct GoldenEmbeddingTests {
    @Test func the_fixture_covers_the_cases_it_is_meant_to() throws {
        let golden = try TestModel.golden()
        #expect(golden.sentences.count >= 60)
        #expect(golden.sentences.contains { $0.text.isEmpty })
        #expect(golden.sentences.contains { $0.token_ids.count == golden.max_seq_length }, "some sentence must be truncated")
        #expect(golden.max_seq_length == 256)
    }

    @Test func token_ids_match_the_reference_tokenizer_for_every_sentence() throws {
        let embedder = try TestModel.embedder()
        for sentence in try TestModel.golden().sentences {
            #expect(embedder.tokenizer.tokenIDs(sentence.text) == sentence.token_ids, "\(excerpt(sentence.text))")
        }
    }

    @Test func vocab_txt_gives_the_same_ids_as_tokenizer_json() throws {
        let directory = try TestModel.requireDirectory()
        let fromText = try WordPieceTokenizer(
            vocabularyText: directory.appendingPathComponent("vocab.txt"),
            tokenizerConfig: directory.appendingPathComponent("tokenizer_config.json"), maxLength: 256)
        for sentence in try TestModel.golden().sentences {
            #expect(fromText.tokenIDs(sentence.text) == sentence.token_ids, "\(excerpt(sentence.text))")
        }
    }

    @Test func embeddings_match_the_reference_for_every_sentence() throws {
        let embedder = try TestModel.embedder()
        let golden = try TestModel.golden()
        #expect(embedder.dimensions == golden.dimensions)
        var cosines: [Double] = []
        var largestDifference: Float = 0
        for sentence in golden.sentences {
            let vector = embedder.embedOnCurrentThread([sentence.text])[0]
            let similarity = cosine(vector, sentence.embedding)
            cosines.append(similarity)
            #expect(similarity >= 0.999, "\(excerpt(sentence.text)): cosine \(similarity)")
            // Far tighter than the cosine bound: GELU's tanh approximation in place of erf still
            // gives cosine 0.999997 here, but moves components by 4e-4.
            let difference = zip(vector, sentence.embedding).map { abs($0 - $1) }.max() ?? .infinity
            largestDifference = max(largestDifference, difference)
            #expect(difference < 1e-4, "\(excerpt(sentence.text)): largest component difference \(difference)")
            let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
        let worst = cosines.enumerated().min { $0.element < $1.element }!
        print("cosine vs sentence-transformers over \(cosines.count) sentences: "
              + "min \(worst.element) (\(excerpt(golden.sentences[worst.offset].text))), "
              + "mean \(cosines.reduce(0, +) / Double(cosines.count)); largest component difference \(largestDifference)")
    }

    @Test func a_batch_gives_what_each_text_gives_alone() async throws {
        let embedder = try TestModel.embedder()
        let texts = try TestModel.golden().sentences.map(\.text)
        let batch = await embedder.embed(texts)
        #expect(batch.count == texts.count)
        for (text, batched) in zip(texts, batch) {
            let alone = embedder.embedOnCurrentThread([text])[0]
            let difference = zip(alone, batched).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < 1e-5, "\(excerpt(text)): largest difference \(difference)")
        }
        #expect(await embedder.embed([]).isEmpty)
    }

    @Test func it_serves_as_a_sentence_embedder() async throws {
        let embedder: any SentenceEmbedder = try TestModel.embedder()
        #expect(try TestModel.embedder().dimensions == 384)
        #expect(embedder.modelName == TestModel.directory.lastPathComponent)
        let vectors = try await embedder.embed(["Do you ship to Austria?", "Can you deliver my order to Vienna, Austria?", "My cat is asleep."])
        // A sanity check of meaning, not of numbers: the paraphrase is nearer than the cat.
        #expect(cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]))
    }
}
