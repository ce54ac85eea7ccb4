import Foundation
import ProfileModel
import ServiceKit
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    let base = ["DATABASE_URL": "postgres://app:secret@db.local:6543/profiles"]

    @Test func database_url_is_parsed() throws {
        let config = try CommonConfig(environment: EnvironmentReader(base))
        #expect(config.database == DatabaseURL(host: "db.local", port: 6543, username: "app", password: "secret", database: "profiles"))
        #expect(config.bindHost == "127.0.0.1")
        #expect(config.database.redacted == "postgres://app:***@db.local:6543/profiles")
    }

    @Test(arguments: [
        ("DATABASE_URL", "mysql://x@y/z"), ("DATABASE_URL", "postgres://host-only"), ("DATABASE_URL", "postgres://u@h:5432/"),
        ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"), ("MIGRATE_ON_START", "perhaps"),
        ("STARTUP_TIMEOUT_SECONDS", "-1"), ("DATABASE_POOL_SIZE", "many"), ("DATABASE_JIT", "fast"),
    ])
    func a_bad_environment_variable_names_itself(variable: String, value: String) throws {
        var values = base
        values[variable] = value
        let error = try #require(throws: ConfigError.self) { try CommonConfig(environment: EnvironmentReader(values)) }
        #expect(error.variable == variable)
        #expect(error.description.contains(variable))
    }

    /// The services' sessions run without JIT unless DATABASE_JIT=server, and the setting reaches the server.
    @Test(arguments: [(nil, "off"), ("off", "off"), ("server", "on")])
    func database_jit_reaches_the_session(setting: String?, expected: String) async throws {
        try await TestDatabase.with { db in
            let environment = try db.serviceEnvironment("profile-engine", setting.map { ["DATABASE_JIT": $0] } ?? [:])
            let client = environment.makeClient(maximumConnections: 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                var jit: String?
                for try await value in try await client.query("SHOW jit", logger: TestDatabase.logger).decode(String.self) { jit = value }
                #expect(jit == expected)
                group.cancelAll()
            }
        }
    }

    @Test func a_missing_database_url_says_what_to_set() throws {
        let error = try #require(throws: ConfigError.self) { try CommonConfig(environment: EnvironmentReader([:])) }
        #expect(error.description.contains("DATABASE_URL: is not set"))
    }

    @Test func a_bad_port_is_refused_with_its_name() throws {
        let reader = EnvironmentReader(["COLLECTOR_PORT": "80800"])
        let error = try #require(throws: ConfigError.self) { try reader.port("COLLECTOR_PORT", default: 8080) }
        #expect(error.description == "configuration error: COLLECTOR_PORT: 80800 is outside 0...65535")
        #expect(try EnvironmentReader([:]).port("COLLECTOR_PORT", default: 8080) == 8080)
    }

    @Test func the_shipped_profile_fields_file_declares_all_thirteen_types() throws {
        let registry = try FieldRegistry.load(path: RepositoryPaths.profileFields)
        #expect(Set(registry.fields.map(\.type)) == Set(FieldType.allCases))
        #expect(registry["email"]?.conflict == .sourcePriority)
        #expect(registry["first_touch_campaign"]?.conflict == .firstWriteWins)
        #expect(registry["lead_score"]?.defaultValue == .number(0))
        #expect(registry.fields.allSatisfy { !$0.description.isEmpty })
    }

    @Test func an_unknown_field_type_names_file_line_and_field() throws {
        let yaml = """
            fields:
              - name: email
                type: email
                description: Email
              - name: shoe_size
                type: shoe
                description: Size
            """
        let error = try #require(throws: FieldRegistry.LoadError.self) { try FieldRegistry.parse(yaml: yaml, file: "bad.yaml") }
        #expect(error.line == 6)
        #expect(error.field == "shoe_size")
        #expect(error.description.hasPrefix("bad.yaml:6: field 'shoe_size': unknown type 'shoe'"))
    }

    @Test(arguments: [
        ("fields: [", "is not valid YAML"),
        ("fields: 3", "'fields' must be a list"),
        ("other: 1", "has no 'fields' list"),
        ("fields:\n  - name: x\n    type: text\n", "needs a 'description'"),
        ("fields:\n  - name: Bad-Name\n    type: text\n    description: d\n", "needs a 'name'"),
        ("fields:\n  - name: tier\n    type: select\n    description: d\n", "needs rules.options"),
        ("fields:\n  - name: n\n    type: number\n    description: d\n    default: abc\n", "the default is not a valid number"),
        ("fields:\n  - name: n\n    type: text\n    description: d\n    rules: {maxlen: 3}\n", "unknown rule 'maxlen'"),
        ("fields:\n  - name: n\n    type: text\n    description: d\n    conflict: newest\n", "'conflict' must be one of"),
        ("fields:\n  - name: n\n    type: text\n    description: d\n  - name: n\n    type: text\n    description: d\n", "is declared twice"),
    ])
    func a_malformed_fields_file_is_refused_with_a_reason(yaml: String, reason: String) throws {
        let error = try #require(throws: FieldRegistry.LoadError.self) { try FieldRegistry.parse(yaml: yaml, file: "f.yaml") }
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test func a_missing_fields_file_names_the_variable() throws {
        let error = try #require(throws: FieldRegistry.LoadError.self) { try FieldRegistry.load(path: "/nonexistent/fields.yaml") }
        #expect(error.description.contains("PROFILE_FIELDS_FILE"))
    }
}
