import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import ServiceLifecycle
import Yams

/// The built-in segments of `config/segments.yaml` (`SEGMENTS_FILE`), checked when the API starts
/// and synced into `segments`, which the API owns; the engine evaluates every segment it finds there.
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
        for (index, segment) in segments.enumerated() {
            try await SegmentPatternCheck.check(try SegmentRule(json: segment.definition), path: "segments[\(index)].definition", client: client, logger: logger)
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

/// Syncs the built-in segments once the API runs (trying again every 10 s while the database
/// refuses), then waits for shutdown: a service that returned would stop the API.
struct BuiltinSegmentSync: Service {
    let builtins: BuiltinSegments
    let client: PostgresClient
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await builtins.sync(client, logger: logger)
                logger.info("built-in segments synced", metadata: ["segments": "\(builtins.segments.count)"])
                break
            } catch {
                logger.databaseFailure(.warning, "built-in segments not synced; trying again", error: error)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            }
        }
        try? await gracefulShutdown()
    }
}

