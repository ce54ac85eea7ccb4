// The HTTP ceiling of this machine for benchmarks: a bare Hummingbird server answering 204 on
// POST /v1/track without reading a database, measured beside the collector in the same run.
import Foundation
import Hummingbird

let port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 18099
let router = Router()
router.post("/v1/track") { request, _ -> HTTPResponse.Status in
    _ = try await request.body.collect(upTo: 32 * 1024)
    return .noContent
}
router.get("/health") { _, _ in HTTPResponse.Status.ok }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"))
try await app.runService()
