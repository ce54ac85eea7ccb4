import Foundation
import Hummingbird
import NIOCore
import OutboundHTTP
import ProfileModel
import ServiceKit

/// `/v1/webhooks`: subscriptions per event kind with filters, their delivery log, and manual
/// redelivery. A subscription's secret is shown once, when it is created or rotated. A paused
/// subscription (`active: false`) still gets its deliveries enqueued; they are held, in order,
/// until it is resumed.
struct WebhooksController: Sendable {
    let auth: Authenticator
    let store: WebhookStore
    /// Where a subscription's `url` may point (SSRF protection).
    let outbound: OutboundPolicy

    static let eventKinds = ChangeKind.allCases.map(\.rawValue)
    static let deliveryStatuses: Set<String> = ["pending", "failed", "delivered", "dead"]

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/v1/webhooks") { request, context in
            let key = try await auth.require(.webhooks, request, logger: context.logger)
            let new = try Self.subscription(try await ProfilesController.body(request, context: context))
            try Self.requireProfileReadForFieldFilters(new.filter, key: key)
            try await outbound.validate(new.url, field: "url")
            guard let document = try await store.create(new, key: key, requestID: context.requestID) else {
                throw APIError(.unprocessableContent, code: "unknown_site", detail: "no site has the slug '\(new.site?.prefix(60) ?? "")'", field: "site")
            }
            var object = JSONValue(databaseText: document).objectValue ?? [:]
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
        router.patch("/v1/webhooks/:id") { request, context in
            let key = try await auth.require(.webhooks, request, logger: context.logger)
            let id = try Self.id(context, "id")
            let changes = try Self.changes(try await ProfilesController.body(request, context: context))
            if let filter = changes.filter { try Self.requireProfileReadForFieldFilters(filter, key: key) }
            if let url = changes.url { try await outbound.validate(url, field: "url") }
            switch try await store.update(id, changes, key: key, requestID: context.requestID) {
            case .notFound:
                throw Self.notFound
            case .unknownSite:
                throw APIError(.unprocessableContent, code: "unknown_site", detail: "no site has the slug '\(changes.site??.prefix(60) ?? "")'", field: "site")
            case .updated(let document):
                var object = JSONValue(databaseText: document).objectValue ?? [:]
                // A new secret is shown in this answer only, as at creation.
                if let secret = changes.secret { object["secret"] = .string(secret) }
                var response = JSONResponse.make(.object(object))
                response.headers[.cacheControl] = "no-store"
                return response
            }
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

    /// A filter on field values would tell a key that may not read profiles whether someone with
    /// that email (say) exists, by whether deliveries come: it needs `profiles:read` too.
    static func requireProfileReadForFieldFilters(_ filter: JSONValue, key: APIKey) throws {
        guard filter["fields"] != nil, !key.allows(.profilesRead) else { return }
        throw APIError(.forbidden, code: "insufficient_scope",
                       detail: "a filter on field values needs the profiles:read scope as well as webhooks", field: "filter.fields")
    }

    static func id(_ context: ServiceRequestContext, _ name: String) throws -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("invalid_parameter", "'\(name)' must be a positive integer", field: name)
        }
        return id
    }

    /// Validates a creation body: `url` is required, the rest as in `WebhookSubscriptionBody`.
    static func subscription(_ body: [String: JSONValue]) throws -> WebhookStore.NewSubscription {
        let members = try WebhookSubscriptionBody(body)
        guard let url = try members.url() else {
            throw WebhookSubscriptionBody.invalid("url", "'url' must be an http(s) URL of at most 2000 characters")
        }
        return WebhookStore.NewSubscription(name: try members.nullableText("name", max: 200) ?? nil, site: try members.nullableText("site", max: 63) ?? nil,
                                            url: url, secret: try members.secret() ?? WebhookSubscriptionBody.generatedSecret(),
                                            eventKinds: try members.eventKinds() ?? [], filter: try members.filter() ?? [:], active: try members.active() ?? true)
    }

    /// Validates a PATCH body: only the members given change; at least one must be given.
    static func changes(_ body: [String: JSONValue]) throws -> WebhookStore.Changes {
        let members = try WebhookSubscriptionBody(body)
        let changes = WebhookStore.Changes(name: try members.nullableText("name", max: 200), site: try members.nullableText("site", max: 63),
                                           url: try members.url(), secret: try members.secret(), eventKinds: try members.eventKinds(),
                                           filter: try members.filter(), active: try members.active())
        guard !changes.changedMembers.isEmpty else {
            throw APIError(.unprocessableContent, code: "nothing_to_change",
                           detail: "give at least one of \(WebhookSubscriptionBody.members.sorted().joined(separator: ", "))")
        }
        return changes
    }
}
