import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
@testable import ProfileAPIApp
import Testing

@Suite("Profile export")
struct ExportTests {
    /// The real profile API with extra settings (page size, export directory, fast polling).
    static func runAPI(_ db: TestDatabase, _ settings: [String: String] = [:],
                       _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let environment = try db.serviceEnvironment(ProfileAPIService.name, [
            "OPENAPI_FILE": RepositoryPaths.root.appendingPathComponent("docs/openapi.json").path, "API_KEY_CACHE_SECONDS": "0",
            // Receivers in tests listen on loopback, which the SSRF rules refuse by default.
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
            "EXPORT_MAPPINGS_DIR": RepositoryPaths.root.appendingPathComponent("config/crm-mappings").path,
        ].merging(settings) { $1 })
        try await ProfileAPIService.buildApplication(environment).test(.live) { client in try await body(client) }
    }

    /// `count` profiles made directly in SQL, quickly, on site "bulk".
    static func bulkProfiles(_ db: TestDatabase, count: Int) async throws {
        try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('bulk', 'Bulk', 'wk_bulk')", logger: TestDatabase.logger)
        try await db.client.query(
            """
            INSERT INTO visitor_profiles (site_id, fields, stage, lead_score, first_seen_at, last_seen_at)
            SELECT (SELECT id FROM sites WHERE slug = 'bulk'),
                   jsonb_build_object('email', 'person' || g || '@example.com', 'name', 'Person ' || g, 'industry', 'software'),
                   'known', g % 100, now(), now()
            FROM generate_series(1, \(count)) g
            """, logger: TestDatabase.logger)
    }

    static func lines(_ data: Data) -> [String] {
        String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
    }

    @Test func test_profile_export_hubspot_csv_header_and_values_are_exactly_as_documented() async throws {
        try await TestDatabase.with { db in
            try await ProfileAPITests.seed(db)
            let api = APIHarness(db: db)
            let key = try await api.key([.profilesExport, .profilesRead])
            try await Self.runAPI(db) { client in
                let ann = try await client.call(.get, "/v1/profiles/lookup?site=acme&email=ann@acme.com", token: key).json
                let bob = try await client.call(.get, "/v1/profiles/lookup?site=acme&email=bob@globex.com", token: key).json
                let export = try await client.call(.get, "/v1/exports/profiles?format=csv&mapping=hubspot&site=acme&stage=known", token: key)
                #expect(export.status == .ok)
                #expect(export.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(export.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"profiles-") == true)
                let rows = Self.lines(export.body)
                #expect(rows.first == "email,firstname,lastname,phone,company,jobtitle,website,industry,country,lifecyclestage,createdate,profile_builder_id")
                func day(_ profile: [String: Any]) -> String { String((profile["created_at"] as? String ?? "").prefix(10)) }
                let annID = try #require(ann["id"] as? String), bobID = try #require(bob["id"] as? String)
                #expect(Set(rows.dropFirst()) == [
                    "ann@acme.com,Ann,Lee,,Acme Corp,,,COMPUTER_SOFTWARE,,lead,\(day(ann)),\(annID)",
                    "bob@globex.com,Bob,Stone,+442079460958,,,,FINANCIAL_SERVICES,,lead,\(day(bob)),\(bobID)",
                ])
            }
        }
    }

    /// Attack: a visitor names themselves so that the analyst's spreadsheet runs a formula.
    @Test func a_visitor_s_formula_in_a_csv_export_is_made_inert() async throws {
        try await TestDatabase.with { db in
            try await db.client.query("INSERT INTO sites (slug, name, write_key) VALUES ('evil', 'Evil', 'wk_evil')", logger: TestDatabase.logger)
            let hostile = ["=1+1", "+cmd|' /C calc'!A0", "-1+HYPERLINK(\"http://x.test\")", "@SUM(A1)", "\tcmd", "\rcmd"]
            for (n, name) in hostile.enumerated() {
                try await db.client.query(
                    """
                    INSERT INTO visitor_profiles (site_id, fields, stage, first_seen_at, last_seen_at)
                    VALUES ((SELECT id FROM sites WHERE slug = 'evil'),
                            jsonb_build_object('name', \(name), 'email', \("p\(n)@example.com"), 'phone', '+442079460958'), 'known', now(), now())
                    """, logger: TestDatabase.logger)
            }
            let key = try await APIHarness(db: db).key([.profilesExport])
            try await Self.runAPI(db) { client in
                let export = try await client.call(.get, "/v1/exports/profiles?format=csv&mapping=default&site=evil", token: key)
                #expect(export.status == .ok)
                let text = String(decoding: export.body, as: UTF8.self)
                let header = try #require(Self.lines(export.body).first?.split(separator: ",").map { String($0) })
                let firstname = try #require(header.firstIndex(of: "name")), phone = try #require(header.firstIndex(of: "phone"))
                // Every hostile name starts with an apostrophe in its cell; the phone stays readable.
                for line in Self.lines(export.body).dropFirst() {
                    let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
                    let cell = cells[firstname].hasPrefix("\"") ? String(cells[firstname].dropFirst()) : cells[firstname]
                    #expect(cell.hasPrefix("'"), "\(line)")
                    #expect(cells[phone] == "+442079460958", "\(line)")
                }
                #expect(!text.contains(",=1+1") && !text.contains(",+cmd") && !text.contains(",-1+HYPERLINK") && !text.contains(",@SUM"))
            }
        }
    }

    @Test func csv_cells_neutralise_formulas_but_keep_numbers_and_phones() {
        #expect(CSVCell.encode("=1+1") == "'=1+1")
        #expect(CSVCell.encode("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0")
        #expect(CSVCell.encode("-1+HYPERLINK(\"x\")") == "\"'-1+HYPERLINK(\"\"x\"\")\"")
        #expect(CSVCell.encode("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVCell.encode("\tcmd") == "'\tcmd")
        #expect(CSVCell.encode("\rcmd") == "\"'\rcmd\"")
        #expect(CSVCell.encode("+442079460958") == "+442079460958")
        #expect(CSVCell.encode("-12.5") == "-12.5")
        #expect(CSVCell.encode("+1") == "+1")
        #expect(CSVCell.encode("\r\n=1") == "\"'\r\n=1\"")
        #expect(CSVCell.encode("-") == "'-")
        #expect(CSVCell.encode("Ann, Lee") == "\"Ann, Lee\"")
    }

    @Test func exports_json_and_ndjson_with_and_without_a_mapping() async throws {
        try await TestDatabase.with { db in
            try await ProfileAPITests.seed(db)
            let key = try await APIHarness(db: db).key([.profilesExport])
            try await Self.runAPI(db) { client in
                // NDJSON without a mapping: one whole profile document per line.
                let ndjson = try await client.call(.get, "/v1/exports/profiles?format=ndjson&site=acme", token: key)
                #expect(ndjson.headers[.contentType] == "application/x-ndjson")
                let documents = String(decoding: ndjson.body, as: UTF8.self).split(separator: "\n").map {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:]
                }
                #expect(documents.count == 3)
                #expect(documents.allSatisfy { $0["id"] is String && $0["identities"] is [Any] })

                // JSON with the Salesforce preset: one array of lead objects.
                let json = try await client.call(.get, "/v1/exports/profiles?format=json&mapping=salesforce&site=acme&fields.email=ann@acme.com", token: key)
                let leads = try #require(try JSONSerialization.jsonObject(with: json.body) as? [[String: Any]])
                #expect(leads.count == 1)
                let lead = try #require(leads.first)
                #expect(lead["FirstName"] as? String == "Ann")
                #expect(lead["LastName"] as? String == "Lee")
                #expect(lead["Company"] as? String == "Acme Corp")
                #expect(lead["Industry"] as? String == "Technology")
                #expect(lead["Status"] as? String == "Open - Not Contacted")
                #expect(lead["Rating"] as? String == "Cold")
                #expect(lead["LeadSource"] as? String == "Web")
                #expect(lead["Phone"] is NSNull)

                // An empty result is still a valid document.
                let none = try await client.call(.get, "/v1/exports/profiles?format=json&site=nope", token: key)
                #expect(String(decoding: none.body, as: UTF8.self) == "[]\n")
            }
        }
    }

    @Test func export_streams_a_set_larger_than_one_page_without_gaps_or_repeats() async throws {
        try await TestDatabase.with { db in
            try await Self.bulkProfiles(db, count: 1_234)
            let key = try await APIHarness(db: db).key([.profilesExport])
            try await Self.runAPI(db, ["EXPORT_PAGE_SIZE": "100"]) { client in
                let export = try await client.call(.get, "/v1/exports/profiles?format=csv&site=bulk", token: key)
                let rows = Self.lines(export.body)
                #expect(rows.count == 1_235)
                let ids = Set(rows.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0] })
                #expect(ids.count == 1_234)
                let ndjson = try await client.call(.get, "/v1/exports/profiles?format=ndjson&site=bulk&min_lead_score=50", token: key)
                #expect(String(decoding: ndjson.body, as: UTF8.self).split(separator: "\n").count == 600)
            }
        }
    }

    @Test func export_refuses_bad_input_and_missing_scope() async throws {
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let reader = try await api.key([.profilesRead])
            let exporter = try await api.key([.profilesExport])
            try await Self.runAPI(db) { client in
                #expect(try await client.call(.get, "/v1/exports/profiles", token: nil).status == .unauthorized)
                #expect(try await client.call(.get, "/v1/exports/profiles", token: reader).status == .forbidden)
                #expect(try await client.call(.get, "/v1/exports/jobs", token: reader).status == .forbidden)
                let format = try await client.call(.get, "/v1/exports/profiles?format=xlsx", token: exporter)
                #expect(format.status == .badRequest)
                #expect(format.json["field"] as? String == "format")
                #expect(try await client.call(.get, "/v1/exports/profiles?mapping=pipedrive", token: exporter).json["field"] as? String == "mapping")
                #expect(try await client.call(.get, "/v1/exports/profiles?limit=5", token: exporter).status == .badRequest)
                #expect(try await client.call(.get, "/v1/exports/profiles?fields.shoe_size=4", token: exporter).status == .badRequest)
                let badJob = try await client.call(.post, "/v1/exports/jobs", token: exporter, json: ["format": "csv", "schedule": "61 * * * *"])
                #expect(badJob.status == .unprocessableContent)
                #expect(badJob.json["field"] as? String == "schedule")
                let badFilter = try await client.call(.post, "/v1/exports/jobs", token: exporter, json: ["filter": ["stage": "vip"]])
                #expect(badFilter.json["field"] as? String == "filter.stage")
                let badDestination = try await client.call(.post, "/v1/exports/jobs", token: exporter, json: ["destination": "/etc/passwd"])
                #expect(badDestination.json["field"] as? String == "destination")
                #expect(try await client.call(.get, "/v1/exports/jobs/abc", token: exporter).status == .badRequest)
                #expect(try await client.call(.get, "/v1/exports/jobs/999", token: exporter).status == .notFound)
                #expect(try await client.call(.delete, "/v1/exports/jobs/999", token: exporter).status == .notFound)
            }
        }
    }

    @Test func one_off_export_job_writes_a_file_and_records_progress_and_history() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pb-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await TestDatabase.with { db in
            try await Self.bulkProfiles(db, count: 250)
            let key = try await APIHarness(db: db).key([.profilesExport])
            try await Self.runAPI(db, ["EXPORT_DIRECTORY": directory, "EXPORT_POLL_SECONDS": "0.1", "EXPORT_PAGE_SIZE": "100"]) { client in
                let created = try await client.call(.post, "/v1/exports/jobs", token: key, json: [
                    "name": "nightly hubspot", "format": "csv", "mapping": "hubspot", "filter": ["site": "bulk", "min_lead_score": 10],
                ])
                #expect(created.status == .created)
                let id = try #require(created.json["id"] as? Int)
                #expect(created.headers[.location] == "/v1/exports/jobs/\(id)")
                let job = try await Self.waitForJob(client, id: id, key: key) { $0["status"] as? String == "done" }
                #expect(job["rows_done"] as? Int == 221)
                #expect(job["rows_total"] as? Int == 221)
                let runs = try #require(job["runs"] as? [[String: Any]])
                #expect(runs.count == 1)
                #expect(runs.first?["status"] as? String == "done")
                let path = try #require(job["result_location"] as? String)
                #expect(path.hasPrefix(directory))
                let file = try Data(contentsOf: URL(fileURLWithPath: path))
                #expect(Self.lines(file).count == 222)
                #expect(Self.lines(file).first?.hasPrefix("email,firstname,lastname,") == true)
                let list = try await client.call(.get, "/v1/exports/jobs", token: key)
                #expect((list.json["data"] as? [Any])?.count == 1)
                #expect(try await client.call(.delete, "/v1/exports/jobs/\(id)", token: key).status == .noContent)
            }
            #expect(try await db.scalar("SELECT count(*)::int FROM audit_log WHERE action LIKE 'export_job.%'", as: Int.self) == 2)
        }
    }

    @Test func scheduled_export_job_runs_when_due_and_is_queued_for_its_next_run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pb-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await TestDatabase.with { db in
            try await Self.bulkProfiles(db, count: 20)
            let key = try await APIHarness(db: db).key([.profilesExport])
            try await Self.runAPI(db, ["EXPORT_DIRECTORY": directory, "EXPORT_POLL_SECONDS": "0.1"]) { client in
                let created = try await client.call(.post, "/v1/exports/jobs", token: key, json: [
                    "format": "ndjson", "schedule": "0 3 * * *", "filter": ["site": "bulk"],
                ])
                #expect(created.status == .created)
                let id = try #require(created.json["id"] as? Int)
                #expect((created.json["next_run_at"] as? String)?.contains("T03:00:00") == true)
                // Not due yet: nothing runs.
                try await Task.sleep(for: .milliseconds(400))
                #expect(try await db.scalar("SELECT count(*)::int FROM export_runs", as: Int.self) == 0)
                // Make it due, as the clock would at 03:00.
                try await db.client.query("UPDATE export_jobs SET next_run_at = now() - interval '1 second' WHERE id = \(id)", logger: TestDatabase.logger)
                let job = try await Self.waitForJob(client, id: id, key: key) { ($0["runs"] as? [Any])?.count == 1 && $0["status"] as? String == "queued" }
                #expect(job["rows_done"] as? Int == 20)
                #expect((job["next_run_at"] as? String)?.contains("T03:00:00") == true)
                let run = try #require((job["runs"] as? [[String: Any]])?.first)
                #expect(run["status"] as? String == "done")
                let path = try #require(run["result_location"] as? String)
                #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self).split(separator: "\n").count == 20)
            }
        }
    }

    @Test func export_job_posts_the_file_to_a_url_destination() async throws {
        let received = ReceivedRequests()
        let receiver = Router()
        receiver.post("/upload") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 10_000_000)
            await received.append(headers: request.headers, body: Data(buffer: body))
            return .ok
        }
        try await Application(router: receiver).test(.live) { receiverClient in
            let port = try #require(receiverClient.port)
            try await TestDatabase.with { db in
                try await Self.bulkProfiles(db, count: 30)
                let key = try await APIHarness(db: db).key([.profilesExport])
                try await Self.runAPI(db, ["EXPORT_POLL_SECONDS": "0.1", "EXPORT_DIRECTORY": ExportTests.privateDirectory()]) { client in
                    let created = try await client.call(.post, "/v1/exports/jobs", token: key, json: [
                        "format": "csv", "mapping": "salesforce", "filter": ["site": "bulk"], "destination": "http://127.0.0.1:\(port)/upload",
                    ])
                    let id = try #require(created.json["id"] as? Int)
                    let job = try await Self.waitForJob(client, id: id, key: key) { $0["status"] as? String == "done" }
                    #expect(job["result_location"] as? String == "http://127.0.0.1:\(port)/upload")
                }
            }
            let requests = await received.all
            #expect(requests.count == 1)
            #expect(requests.first?.headers[HTTPField.Name("X-Profile-Builder-Export-Job")!] != nil)
            #expect(Self.lines(requests.first?.body ?? Data()).count == 31)
            #expect(Self.lines(requests.first?.body ?? Data()).first?.hasPrefix("FirstName,LastName,Email,") == true)
        }
    }

    @Test func cron_expressions_find_the_next_run() throws {
        func next(_ expression: String, _ from: String) throws -> String? {
            try CronSchedule(expression).next(after: try Date(from, strategy: .iso8601))?.formatted(.iso8601)
        }
        #expect(try next("*/15 * * * *", "2026-01-01T10:07:30Z") == "2026-01-01T10:15:00Z")
        #expect(try next("0 3 * * *", "2026-01-01T03:00:00Z") == "2026-01-02T03:00:00Z")
        #expect(try next("30 9 * * 1-5", "2026-01-02T10:00:00Z") == "2026-01-05T09:30:00Z") // Friday → Monday
        #expect(try next("0 0 1 */3 *", "2026-02-10T00:00:00Z") == "2026-04-01T00:00:00Z")
        #expect(try next("0 0 29 2 *", "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z")
        #expect(try next("0 12 13 * 5", "2026-02-01T00:00:00Z") == "2026-02-06T12:00:00Z") // day-of-month OR weekday
        #expect(try next("0 0 30 2 *", "2026-01-01T00:00:00Z") == nil)
        for bad in ["* * * *", "60 * * * *", "* * * * 8", "*/0 * * * *", "a b c d e", "5-1 * * * *"] {
            #expect(throws: CronSchedule.Invalid.self) { try CronSchedule(bad) }
        }
    }

    /// A folder of the test's own: export files are named by job and run id, which every test
    /// database starts at 1, so tests sharing /tmp moved each other's files away.
    static func privateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pb-export-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func waitForJob(_ client: any TestClientProtocol, id: Int, key: String,
                           until done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let job = try await client.call(.get, "/v1/exports/jobs/\(id)", token: key).json
            if done(job) { return job }
            if Date() > deadline {
                Issue.record("export job \(id) did not finish: \(job)")
                return job
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// What a test receiver got.
actor ReceivedRequests {
    struct Entry: Sendable {
        let headers: HTTPFields
        let body: Data
    }

    private(set) var all: [Entry] = []

    func append(headers: HTTPFields, body: Data) {
        all.append(Entry(headers: headers, body: body))
    }
}
