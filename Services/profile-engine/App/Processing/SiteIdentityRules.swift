import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit
import Synchronization
import Yams

/// The identity guardrails each site resolves by: `config/identity.yaml`'s defaults with the
/// site's own overrides (`sites.identity_rules`, which the API writes) applied. A site's rules are
/// cached for a few seconds, so a batch does not read `sites` again and a change applies soon.
final class SiteIdentityRules: Sendable {
    let defaults: IdentityRules
    private let cacheSeconds: Double
    private let cache = Mutex<[Int64: (rules: IdentityRules, until: Date)]>([:])

    init(defaults: IdentityRules, cacheSeconds: Double = 5) {
        self.defaults = defaults
        self.cacheSeconds = cacheSeconds
    }

    /// Reads the defaults file; a missing or wrong file stops the engine at start, naming the problem.
    static func load(path: String) throws -> SiteIdentityRules {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(variable: "IDENTITY_RULES_FILE", message: "cannot read '\(path)': \(error.localizedDescription)")
        }
        do {
            return SiteIdentityRules(defaults: try IdentityRules(defaults: try YAMLDecoder().decode(IdentityRules.Override.self, from: text)))
        } catch {
            throw ConfigError(variable: "IDENTITY_RULES_FILE", message: "\(path): \(error)")
        }
    }

    /// Named query `site_identity_rules`. A site whose stored override is no longer valid (the API
    /// refuses such a write; a DBA may not) resolves by the defaults, and says so in the log.
    func rules(for sites: Set<Int64>, on connection: PostgresConnection, logger: Logger) async throws -> [Int64: IdentityRules] {
        let now = Date()
        var found: [Int64: IdentityRules] = [:]
        cache.withLock { cache in
            for site in sites { if let entry = cache[site], entry.until > now { found[site] = entry.rules } }
        }
        let missing = sites.subtracting(found.keys)
        guard !missing.isEmpty else { return found }
        let rows = try await connection.query(
            "SELECT id, identity_rules::text FROM sites WHERE id = ANY(\(Array(missing)))", logger: logger)
        for try await (site, text) in rows.decode((Int64, String).self) {
            var rules = defaults
            do {
                rules = try defaults.applying(try JSONDecoder().decode(IdentityRules.Override.self, from: Data(text.utf8)))
            } catch {
                logger.warning("site identity rules ignored", metadata: ["site_id": "\(site)", "error": "\(error)"])
            }
            found[site] = rules
        }
        let entries = found
        cache.withLock { cache in
            for site in missing { if let rules = entries[site] { cache[site] = (rules, now.addingTimeInterval(cacheSeconds)) } }
        }
        return found
    }
}
