import Foundation
import Hummingbird
import NIOCore
import ServiceKit

/// Serves the OpenAPI 3.1 contract (`docs/openapi.json`), read once at start.
struct OpenAPIController: Sendable {
    let document: ByteBuffer

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
              (try? JSONSerialization.jsonObject(with: data)) != nil
        else { throw ConfigError(variable: "OPENAPI_FILE", message: "'\(path)' is missing or not valid JSON") }
        document = ByteBuffer(bytes: data)
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
