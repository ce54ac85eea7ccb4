import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import Yams

/// The built-in segments of `config/segments.yaml`, checked at start and synced into `segments`.
struct BuiltinSegments: Sendable {
    struct Definition: Sendable {
        let slug: String
        let name: String
        let description: String
        let definition: JSONValue
    }

    let segments: [Definition]

    static func load(path: String) throws -> BuiltinSegments {
        func fail(_ message: String) -> ConfigError { ConfigError(variable: "SEGMENTS_FILE", message: "\(path): \(message)") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read the file") }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw fail("is not valid YAML: \(error)") }
        guard let list = root?.mapping?["segments"]?.sequence else { throw fail("needs a 'segments' list") }
        var segments: [Definition] = []
        for (index, node) in list.enumerated() {
            let json = FieldRegistry.jsonValue(node)
            guard let slug = json["slug"]?.stringValue, let name = json["name"]?.stringValue, let definition = json["definition"] else {
                throw fail("segments[\(index)] (line \(node.mark?.line ?? 0)) needs slug, name and definition")
            }
            do {
                _ = try SegmentRule(json: definition, path: "segments[\(index)].definition")
            } catch let error as SegmentRule.Invalid {
                throw fail("line \(node.mark?.line ?? 0): \(error)")
            }
            segments.append(Definition(slug: slug, name: name, description: json["description"]?.stringValue ?? "", definition: definition))
        }
        return BuiltinSegments(segments: segments)
    }

    /// Named query `sync_builtin_segments`: global (site_id NULL) segments, updated in place.
    func sync(_ client: PostgresClient, logger: Logger) async throws {
        for segment in segments {
            try await client.query(
                """
                INSERT INTO segments (site_id, slug, name, description, definition, builtin)
                VALUES (NULL, \(segment.slug), \(segment.name), \(segment.description), \(segment.definition.jsonText)::jsonb, true)
                ON CONFLICT (site_id, slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                    definition = EXCLUDED.definition, builtin = true, updated_at = now()
                """, logger: logger)
        }
    }
}
