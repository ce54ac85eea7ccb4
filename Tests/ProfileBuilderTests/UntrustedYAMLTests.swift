import Foundation
import HTTPTypes
import NIOCore
@testable import ProfileAPIApp
import ProfileModel
import Testing

/// Catalog imports take YAML from API keys: anchors and aliases, which let a few lines stand for
/// billions of nodes, are refused before anything is built (issue #23 item 16).
@Suite struct UntrustedYAMLTests {
    /// The "billion laughs": nine levels of nine aliases each, 9⁹ (387 million) strings once expanded.
    static let billionLaughs: String = {
        var lines = [#"l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#]
        for level in 1...8 {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]")
        }
        lines.append("items: [*l8]")
        return lines.joined(separator: "\n")
    }()

    @Test func a_billion_laughs_catalog_is_refused_with_422_naming_the_anchor() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk')", logger: TestDatabase.logger)
            let api = APIHarness(db: db)
            let key = try await api.key([.catalog])
            try await api.run { client in
                let answer = try await client.execute(
                    uri: "/v1/catalog/import?site=acme", method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/yaml"], body: ByteBuffer(string: Self.billionLaughs)
                ) { response in APIAnswer(status: response.status, headers: response.headers, body: Data(buffer: response.body)) }
                #expect(answer.status == .unprocessableContent)
                #expect(answer.json["code"] as? String == "invalid_catalog")
                #expect(answer.json["detail"] as? String
                    == "the catalog file cannot be read: YAML anchors and aliases are not accepted (anchor &l0 at line 1); write each value out")
            }
            #expect(try await db.scalar("SELECT count(*)::int FROM catalog_items", as: Int.self) == 0)
        }
    }

    /// An alias used as a mapping key is hashed in full while Yams composes the document, before
    /// any value is read: the refusal must come first.
    @Test func an_alias_as_a_mapping_key_is_refused_before_yams_composes_it() throws {
        let yaml = Self.billionLaughs.replacingOccurrences(of: "items: [*l8]", with: "? *l8\n: boom")
        let error = try #require(throws: CatalogFile.ParseError.self) { try CatalogFile(text: yaml, format: .yaml) }
        #expect(error.description.contains("anchor &l0 at line 1"), "\(error)")
    }

    @Test(arguments: [
        ("items:\n  - &first {slug: a, name: A}\n", UntrustedYAML.Refusal.anchor(name: "first", line: 2)),
        ("items:\n  - slug: a\n    name: *missing\n", .alias(name: "missing", line: 3)),
        (String(repeating: "[", count: 33) + String(repeating: "]", count: 33), .tooDeep(line: 1)),
        ("items: [\n", .invalid(problem: "did not find expected node content", line: 2)),
    ])
    func a_refused_document_is_named_by_what_it_uses(yaml: String, refusal: UntrustedYAML.Refusal) throws {
        let error = try #require(throws: UntrustedYAML.Refusal.self) { try UntrustedYAML.load(yaml) }
        #expect(error == refusal)
    }

    @Test func a_document_larger_than_the_import_reads_is_refused_before_parsing() throws {
        let yaml = "items: []\n# " + String(repeating: "x", count: UntrustedYAML.maximumBytes)
        let error = try #require(throws: UntrustedYAML.Refusal.self) { try UntrustedYAML.load(yaml) }
        #expect(error == .tooLarge(bytes: UntrustedYAML.maximumBytes + 12))
    }

    /// `&` and `*` inside text are characters, not anchors or aliases.
    @Test func ampersands_and_asterisks_in_text_are_accepted() throws {
        let yaml = """
            items:
              - slug: rnd-tools
                name: R&D tools & more
                kind: product
                description: "*new* & improved, see &notes"
                keywords: ['*', 'a & b', "c*d"]
            """
        let file = try CatalogFile(text: yaml, format: .yaml)
        #expect(file.rejections.isEmpty, "\(file.rejections)")
        #expect(file.items.map(\.name) == ["R&D tools & more"])
        #expect(file.items.first?.description == "*new* & improved, see &notes")
        #expect(file.items.first?.keywords == ["*", "a & b", "c*d"])
    }
}
