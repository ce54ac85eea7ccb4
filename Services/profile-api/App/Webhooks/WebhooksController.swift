import Foundation
import Hummingbird
import NIOCore
import Shared

/// `/v1/webhooks`: subscriptions per event kind with filters, their delivery log, and manual
/// redelivery. A subscription's secret is shown once, when it is created.
struct WebhooksController: Sendable {
    let auth: Authenticator
    let store: WebhookStore

    static let eventKinds = ["created", "updated", "merged", "stage_changed", "segment_entered", "segment_left", "erased", "anonymized"]
    static let deliveryStatuses: Set<String> = ["pending", "failed", "delivered", "dead"]

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/v1/webhooks") { request, context in
            let key = try await auth.require(.webhooks, request, logger: context.logger)
            let new = try Self.subscription(try await ProfilesController.body(request, context: context))
            guard let document = try await store.create(new, key: key, requestID: context.requestID) else {
                throw APIError(.unprocessableContent, code: "unknown_site", detail: "no site has the slug '\(new.site?.prefix(60) ?? "")'", field: "site")
            }
            var object = JSONValue.parse(document).objectValue ?? [:]
            object["secret"] = .string(new.secret)
            var response = JSONResponse.make(.object(object), status: .created)
            response.headers[.cacheControl] = "no-store"
            if let id = object["id"]?.intValue { response.headers[.location] = "/v1/webhooks/\(id)" }
            return response
        }
        router.get("/v1/webhooks") { request, context in
            _ = try await auth.require(.webhooks, request, logger: context.logger)
            return ExportsController.json("{\"data\":" + (try await store.list()) + "}")
        }
        router.get("/v1/webhooks/:id") { request, context in
            _ = try await auth.require(.webhooks, request, logger: context.logger)
            guard let document = try await store.get(try Self.id(context, "id")) else { throw Self.notFound }
            return ExportsController.json(document)
        }
        router.delete("/v1/webhooks/:id") { request, context in
            let key = try await auth.require(.webhooks, request, logger: context.logger)
            guard try await store.delete(try Self.id(context, "id"), key: key, requestID: context.requestID) else { throw Self.notFound }
            return Response(status: .noContent)
        }
        router.get("/v1/webhooks/:id/deliveries") { request, context in
            _ = try await auth.require(.webhooks, request, logger: context.logger)
            let id = try Self.id(context, "id")
            let query = ProfilesController.query(request)
            for name in query.keys where name != "status" && name != "limit" {
                throw APIError.badRequest("unknown_parameter", "unknown query parameter '\(name.prefix(60))'", field: name)
            }
            let status = query["status"]
            if let status, !Self.deliveryStatuses.contains(status) {
                throw APIError.badRequest("invalid_parameter", "'status' must be one of pending, failed, delivered, dead", field: "status")
            }
            let limit = query["limit"].map { Int($0) ?? 0 } ?? 100
            guard (1...1000).contains(limit) else { throw APIError.badRequest("invalid_parameter", "'limit' must be in 1...1000", field: "limit") }
            guard try await store.get(id) != nil else { throw Self.notFound }
            return ExportsController.json("{\"data\":" + (try await store.deliveries(subscription: id, status: status, limit: limit)) + "}")
        }
        router.post("/v1/webhooks/:id/deliveries/:delivery/redeliver") { request, context in
            let key = try await auth.require(.webhooks, request, logger: context.logger)
            let id = try Self.id(context, "id"), delivery = try Self.id(context, "delivery")
            switch try await store.redeliver(subscription: id, delivery: delivery, key: key, requestID: context.requestID) {
            case nil:
                throw APIError(.notFound, code: "delivery_not_found", detail: "this subscription has no delivery with that id", field: "delivery")
            case false?:
                throw APIError(.conflict, code: "delivery_pending", detail: "the delivery is still queued; it will be sent without a redelivery")
            case true?:
                return JSONResponse.make(["id": .number(Double(delivery)), "status": "pending"], status: .accepted)
            }
        }
    }

    static let notFound = APIError(.notFound, code: "webhook_not_found", detail: "no webhook subscription with that id")

    static func id(_ context: ServiceRequestContext, _ name: String) throws -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("invalid_parameter", "'\(name)' must be a positive integer", field: name)
        }
        return id
    }

    /// Validates a subscription body; the filter is checked here (and again by the table's CHECK)
    /// because the outbox trigger evaluates it inside every profile change's transaction.
    static func subscription(_ body: [String: JSONValue]) throws -> WebhookStore.NewSubscription {
        func invalid(_ field: String, _ detail: String) -> APIError {
            APIError(.unprocessableContent, code: "invalid_value", detail: detail, field: field)
        }
        func optionalText(_ name: String, max: Int) throws -> String? {
            guard let value = body[name], !value.isNull else { return nil }
            guard let text = value.stringValue, (1...max).contains(text.count) else { throw invalid(name, "'\(name)' must be a string of 1-\(max) characters") }
            return text
        }
        guard let url = body["url"]?.stringValue, url.count <= 2000, let parsed = URL(string: url),
              ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
            throw invalid("url", "'url' must be an http(s) URL of at most 2000 characters")
        }
        var kinds: [String] = []
        if let value = body["event_kinds"], !value.isNull {
            guard let items = value.arrayValue else { throw invalid("event_kinds", "'event_kinds' must be an array") }
            for (index, item) in items.enumerated() {
                guard let kind = item.stringValue, eventKinds.contains(kind) else {
                    throw invalid("event_kinds[\(index)]", "event kinds are \(eventKinds.joined(separator: ", "))")
                }
                if !kinds.contains(kind) { kinds.append(kind) }
            }
        }
        let filter = body["filter"].flatMap { $0.isNull ? nil : $0 } ?? [:]
        guard let members = filter.objectValue else { throw invalid("filter", "'filter' must be an object") }
        for (name, value) in members {
            switch name {
            case "stage", "changed_fields":
                guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                    throw invalid("filter.\(name)", "'filter.\(name)' must be an array of strings")
                }
            case "fields":
                guard value.objectValue != nil else { throw invalid("filter.fields", "'filter.fields' must be an object of field values") }
            case "min_lead_score":
                guard value.doubleValue != nil else { throw invalid("filter.min_lead_score", "'filter.min_lead_score' must be a number") }
            default:
                throw invalid("filter.\(name.prefix(60))", "filters are stage, fields, min_lead_score and changed_fields")
            }
        }
        let secret = try optionalText("secret", max: 200) ?? generatedSecret()
        guard secret.count >= 16 else { throw invalid("secret", "'secret' must have at least 16 characters") }
        return WebhookStore.NewSubscription(name: try optionalText("name", max: 200), site: try optionalText("site", max: 63), url: url,
                                            secret: secret, eventKinds: kinds, filter: filter)
    }

    private static func generatedSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return "whsec_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
